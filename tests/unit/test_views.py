"""View models shared by the dashboard and the terminal: formatting, timeline, overview,
tenants, schedules -- pure functions over records and snapshots."""

from __future__ import annotations

from zoneinfo import ZoneInfo

import pytest

from conveyor import Catalog
from conveyor.model import TaskError, TaskRecord, TaskState
from conveyor.ports import Depth
from conveyor.topology import Topology
from conveyor.views import format as fmt
from conveyor.views.overview import build_overview
from conveyor.views.schedules import build_schedules
from conveyor.views.source import RecordWindow, Snapshot
from conveyor.views.stats import per_minute_series, percentile
from conveyor.views.tenants import build_tenants
from conveyor.views.timeline import build_timeline

PARIS = ZoneInfo("Europe/Paris")
T0 = 1_800_000_000_000  # 2027-01-15 08:00:00 UTC

catalog = Catalog("views-test")


@catalog.task()
def mail(payload, ctx):
    return None


@catalog.task(executor="fargate", max_workers=3)
def crunch(payload, ctx):
    return None


def rec(task_id: str, state: TaskState, **kw) -> TaskRecord:
    base = {
        "task_type": "mail",
        "tenant": "acme",
        "priority": "normal",
        "lane": "vt-lane-normal-0",
        "payload_sha256": "0" * 64,
        "payload_size": 10,
        "created_at": T0,
        "queued_at": T0,
    }
    base.update(kw)
    return TaskRecord(task_id=task_id, state=state, **base)


def test_times_and_durations_for_people():
    assert fmt.local_time(T0, PARIS) == "2027-01-15 09:00:00.000 CET"
    assert fmt.local_time(T0 + 1234, PARIS, with_date=False) == "09:00:01.234 CET"
    assert fmt.local_time(None) == fmt.DASH
    assert [fmt.duration(v) for v in (0, 850, 1250, 12_500, 125_000, 3_840_000, 183_600_000)] == [
        "0 ms", "850 ms", "1.25 s", "12.5 s", "2 m 05 s", "1 h 04 m", "2 d 03 h",
    ]  # fmt: skip
    assert fmt.duration(-5) == "0 ms"
    assert fmt.age(T0, T0 + 3000) == "3.00 s ago"
    assert fmt.age(T0 + 60_000, T0) == "in 1 m 00 s"
    assert (fmt.size(512), fmt.size(1536), fmt.size(3 * 1024 * 1024)) == (
        "512 B", "1.5 KiB", "3.0 MiB",
    )  # fmt: skip


def test_percentile_is_nearest_rank():
    assert percentile([], 99) is None
    assert percentile(list(range(1, 101)), 99) == 99
    assert percentile([5, 1, 3], 50) == 3


def test_timeline_of_a_retried_task_without_history():
    record = rec(
        "a", TaskState.SUCCEEDED, attempts=3, queued_at=T0 + 900, started_at=T0 + 1000,
        finished_at=T0 + 1400, queue_wait_ms=200, retry_wait_ms=700, run_ms=500,
        result={"ok": 1},
    )  # fmt: skip
    tl = build_timeline(record, T0 + 5000)
    assert (tl.queue_wait_ms, tl.retry_wait_ms, tl.run_ms) == (200, 700, 500)
    assert not tl.exact
    assert [(a.number, a.outcome, a.run_ms) for a in tl.attempts] == [(3, "succeeded", 400)]
    assert [(s.kind, s.start_ms, s.end_ms) for s in tl.segments] == [
        ("retry", T0 + 900, T0 + 1000),
        ("run", T0 + 1000, T0 + 1400),
    ]
    assert [what for _, what in tl.events] == [
        "submitted", "re-queued", "attempt 3 started", "succeeded",
    ]  # fmt: skip


def test_timeline_of_running_and_waiting_tasks_runs_to_now():
    running = rec("r", TaskState.RUNNING, attempts=1, started_at=T0 + 100)
    tl = build_timeline(running, T0 + 2100)
    assert [(s.kind, s.start_ms, s.end_ms) for s in tl.segments] == [
        ("queue", T0, T0 + 100),
        ("run", T0 + 100, T0 + 2100),
    ]
    assert tl.attempts[0].outcome == "running"
    waiting = build_timeline(rec("q", TaskState.QUEUED), T0 + 700)
    assert [(s.kind, s.end_ms) for s in waiting.segments] == [("queue", T0 + 700)]
    assert waiting.attempts == []


class _WithHistory(TaskRecord):
    """A record carrying a per-attempt history (as the store keeps it)."""


def test_timeline_uses_the_per_attempt_history_when_the_record_has_one():
    record = _WithHistory(
        task_id="h", task_type="mail", tenant="acme", priority="normal", lane="l",
        payload_sha256="0", payload_size=1, created_at=T0, state=TaskState.FAILED, attempts=2,
        finished_at=T0 + 900, error=TaskError("fatal", "Fatal", "no"),
    )  # fmt: skip
    object.__setattr__(
        record,
        "attempt_log",
        [
            {"n": 1, "started": T0 + 100, "finished": T0 + 200, "outcome": "retryable",
             "executor": "lambda", "error": "RetryLater"},
            {"n": 2, "started": T0 + 500, "finished": T0 + 900, "outcome": "fatal",
             "executor": "lambda", "error": {"type": "Fatal"}},
        ],
    )  # fmt: skip
    tl = build_timeline(record, T0 + 1000)
    assert tl.exact
    assert [(a.number, a.outcome, a.error, a.run_ms) for a in tl.attempts] == [
        (1, "retryable", "RetryLater", 100),
        (2, "fatal", "Fatal", 400),
    ]
    assert [(s.kind, s.start_ms, s.end_ms) for s in tl.segments] == [
        ("queue", T0, T0 + 100),
        ("run", T0 + 100, T0 + 200),
        ("retry", T0 + 200, T0 + 500),
        ("run", T0 + 500, T0 + 900),
    ]


topology = Topology(prefix="vt")


def snapshot(records, *, depths=None, paused=frozenset(), probe=None, now=T0 + 600_000):
    depths = depths or {
        "vt-lane-high-0": Depth(1, 0, 0),
        "vt-lane-normal-0": Depth(20, 5, 5),
        "vt-lane-low-0": Depth(0, 0, 0),
        "vt-work-crunch": Depth(6, 1, 0),
        "vt-dlq": Depth(2, 0, 0),
    }
    return Snapshot(now, depths, paused, records, passes=1, probe=probe or {})


def test_overview_backlog_throughput_drain_and_workers():
    now = T0 + 600_000
    done = [
        rec(f"d{i}", TaskState.SUCCEEDED, attempts=1, started_at=now - 60_000,
            finished_at=now - 30_000 - i, queue_wait_ms=100 * i, run_ms=50)
        for i in range(10)
    ]  # fmt: skip
    old = rec("old", TaskState.SUCCEEDED, attempts=1, finished_at=now - 400_000)
    waiting = rec("w", TaskState.QUEUED, queued_at=now - 45_000)
    not_due = rec("nd", TaskState.QUEUED, queued_at=now - 90_000, not_before=now + 60_000)
    snap = snapshot([*done, old, waiting, not_due], paused=frozenset({("type", "crunch")}),
                    probe={"workers": {"crunch": 2}, "aimd": {"lambda": 12}})  # fmt: skip
    view = build_overview(catalog, topology, snap, [(now - 1000, {"vt-lane-normal-0": 7})])
    assert view.lane_backlog == 31
    assert view.throughput_per_minute == 10 / 5  # 10 finished in the last 5 minutes
    assert view.drain_seconds == 31 / 2 * 60
    assert view.dlq_depth == 2
    lanes = {q.name: q for q in view.queues}
    assert lanes["vt-lane-normal-0"].oldest_queued_ms == 45_000
    assert lanes["vt-lane-normal-0"].history == [7]
    assert lanes["vt-work-crunch"].kind == "work"
    (worker,) = view.workers
    assert (worker.backlog, worker.desired, worker.running, worker.max_workers) == (7, 2, 2, 3)
    types = {t.name: t for t in view.types}
    assert types["crunch"].paused and not types["mail"].paused
    assert types["mail"].states == {"SUCCEEDED": 11, "QUEUED": 2}
    assert view.aimd == {"lambda": 12}
    assert view.states["SUCCEEDED"] == 11


def test_overview_without_finishing_tasks_has_no_drain_estimate():
    view = build_overview(catalog, topology, snapshot([rec("w", TaskState.QUEUED)]))
    assert view.throughput_per_minute == 0
    assert view.drain_seconds is None


def test_per_minute_series_buckets_by_minute_ending_with_the_current_one():
    now = T0 + 150_000  # 2.5 minutes past T0 (a whole minute)
    records = [rec(str(i), TaskState.SUCCEEDED, finished_at=T0 + i * 40_000) for i in range(4)]
    series = per_minute_series(records, now, 3)
    assert series == [(T0, 2), (T0 + 60_000, 1), (T0 + 120_000, 1)]


def test_tenants_share_wait_and_heavy_flag():
    records = [
        rec(f"a{i}", TaskState.SUCCEEDED, tenant="acme", attempts=1, queue_wait_ms=10 * (i + 1),
            run_ms=100)
        for i in range(8)
    ] + [
        rec("b1", TaskState.QUEUED, tenant="bob"),
        rec("c1", TaskState.FAILED, tenant="cyd", attempts=1, queue_wait_ms=5, run_ms=300),
        rec("d1", TaskState.RUNNING, tenant="dan", attempts=1, queue_wait_ms=7),
    ]  # fmt: skip
    rows = {r.tenant: r for r in build_tenants(snapshot(records, paused={("tenant", "bob")}))}
    acme = rows["acme"]
    assert (acme.tasks, acme.share, acme.heavy) == (8, 8 / 11, True)
    assert acme.p99_queue_wait_ms == 80 and acme.p50_queue_wait_ms == 40
    assert acme.run_share == 800 / 1100
    assert rows["bob"].paused and rows["bob"].waiting == 1 and not rows["bob"].heavy
    assert rows["cyd"].failed == 1 and rows["dan"].running == 1
    assert next(iter(rows)) == "acme"  # busiest first


def test_schedules_rows_next_firing_and_one_time_count():
    items = [
        {"Name": "nightly", "ScheduleExpression": "cron(0 2 * * ? *)",
         "ScheduleExpressionTimezone": "Europe/Paris", "State": "ENABLED",
         "Target": {"Input": '{"v":1,"fire":"nightly","type":"mail","tenant":"acme"}'}},
        {"Name": "hourly", "ScheduleExpression": "rate(1 hour)", "State": "DISABLED",
         "Input": "not json"},
        {"Name": "t-01ABC", "ScheduleExpression": "at(2027-01-20T00:00:00)"},
    ]  # fmt: skip
    rows, one_time = build_schedules(items, T0)
    assert one_time == 1
    assert [r.name for r in rows] == ["hourly", "nightly"]
    hourly, nightly = rows
    assert (hourly.enabled, hourly.next_fire_ms, hourly.task_type) == (False, None, None)
    assert (nightly.task_type, nightly.tenant) == ("mail", "acme")
    assert fmt.local_time(nightly.next_fire_ms, PARIS) == "2027-01-16 02:00:00.000 CET"


class _Pages:
    """A store listing in pages of 2, counting calls."""

    def __init__(self, records):
        self.records = records
        self.calls = 0

    def __call__(self, cursor):
        from conveyor.ports import Page

        self.calls += 1
        start = int(cursor or 0)
        chunk = self.records[start : start + 2]
        more = start + 2 < len(self.records)
        return Page(chunk, str(start + 2) if more else None)


def test_record_window_reads_one_page_per_advance_and_wraps_around():
    pages = _Pages([rec(str(i), TaskState.QUEUED, created_at=T0 + i) for i in range(5)])
    window = RecordWindow(pages, cap=4)
    assert [window.advance() for _ in range(3)] == [2, 2, 1]
    assert pages.calls == 3 and window.passes == 1
    assert sorted(window.records) == ["1", "2", "3", "4"]  # capped: the oldest went
    window.advance()
    assert window.cursor == "2" and sorted(window.records) == ["0", "1", "3", "4"]


@pytest.mark.parametrize("bad", ["AccessDenied"])
def test_describe_error_reads_botocore_errors(bad):
    from botocore.exceptions import ClientError

    from conveyor.views.source import describe_error

    exc = ClientError({"Error": {"Code": bad, "Message": "no access"}}, "GetQueueAttributes")
    assert describe_error(exc) == "GetQueueAttributes: AccessDenied: no access"
    assert describe_error(ValueError("x")) == "ValueError: x"

"""Three clocks and the per-attempt history across a hold, a retry, a throttle and a redrive.

The real Dispatcher, TaskRunner and redrive on the in-memory twins with a fake clock: the
handler moves the clock by its run time, the test moves it through waits, so every clock
is an exact, asserted number of milliseconds.
"""

from __future__ import annotations

import io

import pytest

from conveyor import Catalog, Retry, RetryLater, Throttled
from conveyor.aws.codec import item_size, to_item
from conveyor.clocks import ENTRY_MAX_BYTES, HISTORY_KEEP, HISTORY_MAX_BYTES, entry, keep
from conveyor.model import TaskRecord, TaskState
from conveyor.ports import FakeClock
from conveyor.runtime.bootstrap import memory_runtime
from conveyor.topology import Topology
from conveyor.views.timeline import build_timeline

clock = FakeClock()
catalog = Catalog("clocks-test")
#: While set, tasks whose payload says ``failing`` fail every attempt.
FAILING = [True]


@catalog.task(retry=Retry(max_attempts=2, backoff_base=4, jitter=False), timeout=30)
def scripted(payload, ctx):
    clock.advance(payload["run"])  # the handler's run time
    action = payload.get("script", {}).get(f"{ctx.attempt}/{ctx.throttles}", "ok")
    if action == "retry" or (payload.get("failing") and FAILING[0]):
        raise RetryLater("later")
    if action == "throttle":
        raise Throttled("429", delay=3)
    return {"ok": ctx.attempt}


@pytest.fixture
def rt():
    clock.t = 1_800_000_000.0
    runtime = memory_runtime(catalog, Topology(prefix="clk"), clock=clock)
    for q in [*runtime.topology.lanes, runtime.topology.dlq]:
        runtime.lanes.queues.setdefault(q, [])
    return runtime


def pump(dispatcher, passes: int = 3) -> None:
    for _ in range(passes):
        dispatcher._next_poll.clear()  # the stepped loop's own empty-lane backoff
        dispatcher.step()
        dispatcher.settle_running()


def ms(seconds: float) -> int:
    return int(seconds * 1000)


def test_clocks_and_history_across_a_hold_a_retry_a_throttle(rt):
    client = rt.client()
    dispatcher = rt.dispatcher(pause_refresh=0, hold_seconds=20)
    client.pause(task_type="scripted")
    script = {"1/0": "retry", "2/0": "throttle"}
    task_id = client.submit("scripted", {"run": 0.5, "script": script}).task_id
    pump(dispatcher)  # held: paused
    assert client.get(task_id).state is TaskState.QUEUED and client.get(task_id).attempts == 0
    clock.advance(19)
    client.resume(task_type="scripted")
    clock.advance(11)  # the held message comes back after 20-30 s (hold plus jitter)
    pump(dispatcher)  # attempt 1: retry in 4 s
    record = client.get(task_id)
    assert (record.state, record.queue_wait_ms, record.retry_wait_ms) == (
        TaskState.QUEUED,
        30_000,
        4_000,
    )
    clock.advance(4 + 2)  # due after 4 s, started 2 s late
    pump(dispatcher)  # attempt 2: throttled, handed back for 3 s
    clock.advance(3)
    pump(dispatcher)  # attempt 2 again: ok
    record = client.get(task_id)
    assert record.state is TaskState.SUCCEEDED
    assert record.queue_wait_ms == 30_000  # paused 19 s, then held until it came back
    assert record.retry_wait_ms == 4_000 + 2_000 + 3_000, record.history  # backoff, late, throttle
    assert record.run_ms == 3 * 500
    assert [(h["n"], h["o"], h["r"], h.get("e"), h["w"]) for h in record.history] == [
        (1, "retryable", "Q", "RetryLater", 30_000),
        (2, "throttled", "Q", "Throttled", 2_000),
        (3, "ok", "S", None, 0),
    ]
    assert all(h["f"] - h["s"] == 500 and h["x"] == "lambda" for h in record.history)
    tl = build_timeline(record, ms(clock.now()))
    assert tl.exact
    assert [s.kind for s in tl.segments] == ["queue", "run", "retry", "run", "retry", "run"]
    assert [s.end_ms - s.start_ms for s in tl.segments if s.kind == "retry"] == [6_000, 3_000]


def test_a_retry_span_covers_the_backoff_as_the_retry_clock_does(rt):
    from conveyor import tracing

    recorder = tracing.MemorySpans()
    tracing.use(recorder)
    try:
        client = rt.client()
        dispatcher = rt.dispatcher(pause_refresh=0)
        script = {"1/0": "retry"}
        task_id = client.submit("scripted", {"run": 0.5, "script": script}).task_id
        pump(dispatcher)
        clock.advance(4 + 1)  # a 4 s backoff, then 1 s late
        pump(dispatcher)
    finally:
        tracing.use(None)
    (retry,) = [s for s in recorder.of_task(task_id) if s.name == "retry"]
    assert retry.duration_ms == client.get(task_id).retry_wait_ms == 5_000


def test_a_redrive_starts_a_new_queue_wait(rt):
    client = rt.client()
    dispatcher = rt.dispatcher(pause_refresh=0)
    task_id = client.submit("scripted", {"run": 0.25, "failing": True}).task_id
    clock.advance(1)
    FAILING[0] = True
    pump(dispatcher)  # attempt 1 fails, retry in 4 s
    clock.advance(4)
    pump(dispatcher)  # attempt 2 fails for good
    failed = client.get(task_id)
    assert failed.state is TaskState.FAILED
    assert (failed.queue_wait_ms, failed.retry_wait_ms) == (1_000, 4_000)
    FAILING[0] = False
    assert client.dlq_redrive(task_type="scripted") == [task_id]
    clock.advance(7)
    pump(dispatcher)
    record = client.get(task_id)
    assert record.state is TaskState.SUCCEEDED
    assert record.queue_wait_ms == 1_000 + 7_000  # the redrive's wait is a queue wait
    assert record.retry_wait_ms == 4_000
    assert [(h["n"], h["o"], h["r"], h["w"]) for h in record.history] == [
        (1, "retryable", "Q", 1_000),
        (2, "retryable", "F", 0),
        (3, "ok", "S", 7_000),
    ]


def test_history_keeps_the_last_attempts_within_its_byte_budget():
    base = TaskRecord(
        "01JD0000000000000000000000", "send_email", "tenant-0042", "normal", TaskState.SUCCEEDED,
        "conveyor-normal-3", "a" * 64, 2048, 1_800_000_000_000, attempts=1, starts=1,
        queued_at=1_800_000_000_000, started_at=1_800_000_001_000, finished_at=1_800_000_002_000,
        result={"sent": True}, queue_wait_ms=1000, run_ms=1000, purge_at=1_800_086_400_000,
        dedup_until=1_800_086_400_000,
    )  # fmt: skip
    worst = [
        entry(n, started=1_800_000_001_000 + n, finished=1_800_000_900_000 + n, outcome="throttled",
              target=TaskState.QUEUED, executor="x" * 40, error="E" * 200, wait=86_400_000)
        for n in range(1, 20)
    ]  # fmt: skip
    history = keep((), *worst)
    assert [h["n"] for h in history] == list(range(20 - HISTORY_KEEP, 20))
    one = item_size(to_item(base.replace(history=(worst[0],)))) - item_size(to_item(base))
    full = item_size(to_item(base.replace(history=history))) - item_size(to_item(base))
    assert one - len("hist") - 3 <= ENTRY_MAX_BYTES
    assert full <= HISTORY_MAX_BYTES + len("hist")
    ordinary = entry(1, started=1_800_000_001_000, finished=1_800_000_002_000, outcome="ok",
                     target=TaskState.SUCCEEDED, executor="lambda", wait=1000)  # fmt: skip
    assert item_size(to_item(base.replace(history=(ordinary,)))) <= 1024  # 1 WRU per write


def test_conveyor_get_prints_the_attempt_history(rt):
    from rich.console import Console

    from conveyor.views.tasks import task_detail
    from conveyor.views.terminal import render_task

    client = rt.client()
    dispatcher = rt.dispatcher(pause_refresh=0)
    task_id = client.submit("scripted", {"run": 0.5, "script": {"1/0": "throttle"}}).task_id
    pump(dispatcher)
    clock.advance(3)
    pump(dispatcher)
    record = client.get(task_id)
    console = Console(width=160, record=True, file=io.StringIO())
    console.print(render_task(task_detail(client, record, ms(clock.now())), ms(clock.now())))
    text = console.export_text()
    attempts = text[text.index("Attempts") : text.index("Timeline")]
    rows = [line for line in attempts.splitlines() if "lambda" in line]
    assert len(rows) == 2
    assert "throttled" in rows[0] and "Throttled" in rows[0] and "ok" in rows[1]
    assert "retry wait" in text and "3.00 s" in text  # the throttle's wait


def test_an_attempt_that_wrote_no_outcome_is_marked_lost_and_adds_no_wait(rt):
    client = rt.client()
    task_id = client.submit("scripted", {"run": 0.5}).task_id
    clock.advance(2)
    now = ms(clock.now())
    rt.store.transition(  # a start whose process then died: no outcome, lease runs out
        task_id,
        TaskState.RUNNING,
        {"started_at": now, "lease_until": now + 30_000},
        now,
        increments={"attempts": 1, "starts": 1},
    )
    clock.advance(31)
    body = rt.lanes.receive(client.get(task_id).lane, visibility=0)[0].body
    assert rt.runner().run_body(body).state == "SUCCEEDED"
    record = client.get(task_id)
    assert [(h["n"], h["o"]) for h in record.history] == [(1, "lost"), (2, "ok")]
    assert (record.queue_wait_ms, record.retry_wait_ms) == (0, 0)  # the lease is not a wait
    tl = build_timeline(record, ms(clock.now()))
    assert [a.outcome for a in tl.attempts] == ["lost", "ok"]

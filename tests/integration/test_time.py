"""Delayed, timed and recurring tasks with an injected clock: EventBridge Scheduler on moto
(which stores schedules), the dev cloud's driver (which fires them), the dispatcher."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest

from conveyor import InvalidOption, InvalidTiming, TaskState, UnknownTaskType
from conveyor.local.provision import provision
from conveyor.local.schedules import ScheduleDriver
from conveyor.ports import FakeClock
from conveyor.runtime.bootstrap import aws_runtime
from tests.support import ledger


@pytest.fixture
def rt(aws, topology, tmp_path, monkeypatch):
    monkeypatch.setenv("LEDGER_DIR", str(tmp_path))
    provision(aws, topology, ledger.catalog)
    return aws_runtime(ledger.catalog, topology, aws, clock=FakeClock(time.time()))


def schedules_of(rt):
    return rt.scheduler.list()


def test_an_at_task_never_runs_before_its_time(rt):
    client = rt.client()
    at = datetime.fromtimestamp(rt.clock.now() + 3600, UTC)
    task_id = client.submit("work", {"mode": "ok"}, at=at).task_id
    record = client.get(task_id)
    assert record.state is TaskState.SCHEDULED
    assert record.not_before == int(at.timestamp() * 1000)
    (schedule,) = schedules_of(rt)
    fire = datetime.fromtimestamp(-(-record.not_before // 1000), UTC)
    assert schedule["ScheduleExpression"] == f"at({fire.strftime('%Y-%m-%dT%H:%M:%S')})"
    assert schedule["ActionAfterCompletion"] == "DELETE"
    assert schedule["Target"]["Arn"].endswith(record.lane)
    assert schedule["Target"]["DeadLetterConfig"]["Arn"].endswith(rt.topology.dlq)
    assert schedule["Target"]["RoleArn"].endswith(f"role/{rt.topology.prefix}-scheduler")
    driver = ScheduleDriver(rt.scheduler, rt.lanes, clock=rt.clock)
    dispatcher = rt.dispatcher()
    rt.clock.advance(3598)
    assert driver.tick() == []
    dispatcher.drain(idle_passes=2)
    assert client.get(task_id).state is TaskState.SCHEDULED
    assert ledger.effects()[task_id] == 0
    rt.clock.advance(3)
    assert [name for name, _ in driver.tick()] == [f"t-{task_id}"]
    dispatcher.drain(idle_passes=2)
    assert client.get(task_id).state is TaskState.SUCCEEDED
    assert ledger.effects()[task_id] == 1
    assert schedules_of(rt) == []  # deleted after completion


def test_a_window_uses_the_flexible_time_window(rt):
    client = rt.client()
    client.submit("work", {}, delay=timedelta(hours=8), window=120)
    (schedule,) = schedules_of(rt)
    assert schedule["FlexibleTimeWindow"] == {"Mode": "FLEXIBLE", "MaximumWindowInMinutes": 120}


def test_a_cancelled_scheduled_task_never_runs_and_its_schedule_is_gone(rt):
    client = rt.client()
    task_id = client.submit("work", {"mode": "ok"}, delay=7200).task_id
    assert len(schedules_of(rt)) == 1
    assert client.cancel(task_id).state is TaskState.CANCELLED
    assert schedules_of(rt) == []
    driver = ScheduleDriver(rt.scheduler, rt.lanes, clock=rt.clock)
    rt.clock.advance(7300)
    assert driver.tick() == []
    rt.dispatcher().drain(idle_passes=2)
    assert ledger.effects()[task_id] == 0


def test_a_rate_schedule_fires_each_minute_and_a_double_firing_runs_once(rt):
    client = rt.client()
    driver = ScheduleDriver(rt.scheduler, rt.lanes, clock=rt.clock)
    assert client.create_schedule("other", "rate(1 minute)", name="every-minute") == "every-minute"
    rt.clock.advance(185)
    fired = driver.tick()
    assert len(fired) == 3
    dispatcher = rt.dispatcher()
    dispatcher.drain(idle_passes=2)
    ids = sorted(ledger.effects())
    assert len(ids) == 3
    assert all(i.startswith("every-minute-") for i in ids)
    # The Scheduler is at-least-once: deliver the last firing again.
    name, when = fired[-1]
    stamp = when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    target = next(s for s in schedules_of(rt) if s["Name"] == name)["Target"]
    from conveyor.ports import OutMessage

    rt.lanes.send(
        target["Arn"].rsplit(":", 1)[-1],
        [
            OutMessage(
                body=target["Input"].replace("<aws.scheduler.scheduled-time>", stamp), group="s"
            )
        ],
    )
    dispatcher.drain(idle_passes=2)
    assert sorted(ledger.effects()) == ids
    assert all(n == 1 for n in ledger.effects().values())
    assert dispatcher.stats.kinds["duplicate"] == 1


def test_a_cron_schedule_fires_on_each_boundary_across_dst(rt):
    client = rt.client()
    rt.clock.t = datetime(2027, 3, 26, 12, tzinfo=UTC).timestamp()
    driver = ScheduleDriver(rt.scheduler, rt.lanes, clock=rt.clock)
    client.create_schedule("other", "cron(30 1 * * ? *)", name="nightly", timezone="Europe/Paris")
    fired = []
    for _ in range(16):  # four days in six-hour ticks
        rt.clock.advance(6 * 3600)
        fired += driver.tick()
    local = [w.astimezone(__import__("zoneinfo").ZoneInfo("Europe/Paris")) for _, w in fired]
    assert [t.strftime("%d %H:%M") for t in local] == [
        "27 01:30",
        "28 01:30",
        "29 01:30",
        "30 01:30",
    ]
    rt.dispatcher().drain(idle_passes=2)
    assert sorted(ledger.effects()) == [
        "nightly-20270327T003000Z",
        "nightly-20270328T003000Z",
        "nightly-20270328T233000Z",
        "nightly-20270329T233000Z",
    ]


def test_pause_resume_and_delete_a_schedule(rt):
    client = rt.client()
    driver = ScheduleDriver(rt.scheduler, rt.lanes, clock=rt.clock)
    client.create_schedule("other", "rate(1 minute)", name="pausable")
    client.pause_schedule("pausable")
    rt.clock.advance(120)
    assert driver.tick() == []
    client.resume_schedule("pausable")
    rt.clock.advance(60)
    assert len(driver.tick()) == 1
    client.delete_schedule("pausable")
    assert schedules_of(rt) == []


@pytest.mark.parametrize(
    ("error", "args", "kwargs"),
    [
        (InvalidTiming, ("other", "cron(0 2 * * *)"), {}),
        (InvalidTiming, ("other", "rate(1 minutes)"), {}),
        (InvalidTiming, ("other", "cron(0 25 * * ? *)"), {}),
        (InvalidTiming, ("other", "at(2030-01-01T00:00:00)"), {}),
        (InvalidTiming, ("other", "rate(5 minutes)"), {"timezone": "Mars/Olympus"}),
        (InvalidOption, ("other", "rate(5 minutes)"), {"name": "has space"}),
        (UnknownTaskType, ("ghost", "rate(5 minutes)"), {}),
    ],
)
def test_bad_schedules_raise_typed_errors_and_create_nothing(rt, error, args, kwargs):
    with pytest.raises(error):
        rt.client().create_schedule(*args, **kwargs)
    assert schedules_of(rt) == []


@pytest.mark.parametrize(
    "kwargs",
    [
        {"at": datetime(2030, 1, 1)},  # naive
        {"delay": 5, "at": datetime(2030, 1, 1, tzinfo=UTC)},
        {"delay": 7200, "window": 0},
        {"delay": 7200, "window": 2000},
        {"delay": -3},
    ],
)
def test_bad_times_create_nothing(rt, kwargs):
    with pytest.raises(InvalidTiming):
        rt.client().submit("work", {}, **kwargs)
    assert schedules_of(rt) == []
    assert rt.store.list(limit=10).records == []


def test_ids_that_differ_only_in_a_colon_get_distinct_schedules(rt):
    client = rt.client()
    at = datetime.fromtimestamp(rt.clock.now() + 3600, UTC)
    for task_id in ("job:1", "job_1"):
        assert client.submit("work", {"mode": "ok"}, task_id=task_id, at=at).status == "created"
    names = sorted(s["Name"] for s in schedules_of(rt))
    assert len(names) == 2
    assert "t-job_1" in names
    client.cancel("job:1")
    assert [s["Name"] for s in schedules_of(rt)] == ["t-job_1"]
    driver = ScheduleDriver(rt.scheduler, rt.lanes, clock=rt.clock)
    rt.clock.advance(3601)
    assert [name for name, _ in driver.tick()] == ["t-job_1"]
    rt.dispatcher().drain(idle_passes=2)
    assert client.get("job_1").state is TaskState.SUCCEEDED
    assert client.get("job:1").state is TaskState.CANCELLED
    assert ledger.effects()["job:1"] == 0

"""TaskRunner on the in-memory twins with a fake clock: outcomes, retries, succeed-once."""

from __future__ import annotations

import random
from collections import Counter

import pytest

from conveyor import Catalog, Conveyor, Fatal, Retry, RetryLater, Throttled
from conveyor.envelope import parse
from conveyor.memory import MemoryEvents
from conveyor.model import TaskState
from conveyor.ports import FakeClock
from conveyor.runtime.runner import TaskRunner

LEDGER: Counter[str] = Counter()
catalog = Catalog("runner-test")


@catalog.task(
    retry=Retry(max_attempts=3, backoff_base=2, backoff_cap=60, jitter=False),
    ttl="10m",
    timeout=5,
    events=True,
)
def job(payload, ctx):
    LEDGER[ctx.task_id] += 1
    mode = payload.get("mode")
    if mode == "fatal":
        raise Fatal("bad input")
    if mode == "flaky" and ctx.attempt < payload.get("ok_at", 2):
        raise RetryLater("try later")
    if mode == "throttle" and ctx.throttles < payload.get("throttles", 3):
        raise Throttled("429")
    if mode == "boom":
        raise RuntimeError("crash")
    if mode == "nonretry":
        raise KeyError("missing")
    if mode == "big":
        return {"blob": "r" * 10_000}
    return {"ok": ctx.attempt}


@catalog.task(retry=Retry(max_attempts=2, non_retryable=(KeyError,)), events=False)
def quiet(payload, ctx):
    raise KeyError("nope")


@pytest.fixture
def setup():
    LEDGER.clear()
    clock = FakeClock()
    client = Conveyor.in_memory(catalog, clock=clock)
    events = MemoryEvents()
    runner = TaskRunner(
        catalog,
        client.store,
        client.payloads,
        events=events,
        clock=clock,
        rng=random.Random(1),
        enforce_timeout=False,
    )
    return client, runner, events, clock


def deliver(client, task_id):
    record = client.get(task_id)
    msgs = client.lanes.receive(record.lane, max_messages=10)
    for m in msgs:
        if parse(m.body).task_id == task_id:
            return m
    raise AssertionError("no message")


def test_success_records_result_clocks_and_event(setup):
    client, runner, events, clock = setup
    client.submit("job", {}, task_id="a")
    clock.advance(2)
    outcome = runner.run_body(deliver(client, "a").body)
    assert (outcome.action, outcome.kind, outcome.state) == ("ack", "ok", "SUCCEEDED")
    record = client.get("a")
    assert record.result == {"ok": 1}
    assert record.attempts == 1
    assert record.queue_wait_ms == 2000
    assert record.lease_until is None
    assert record.purge_at is not None and record.purge_at >= record.dedup_until
    (detail,) = events.of_type("Task Succeeded")
    assert detail["id"] == "a" and detail["queue_wait_ms"] == 2000


def test_duplicate_delivery_of_a_finished_task_does_not_run(setup):
    client, runner, _, _ = setup
    client.submit("job", {}, task_id="a")
    body = deliver(client, "a").body
    runner.run_body(body)
    again = runner.run_body(body)
    assert (again.action, again.kind) == ("ack", "duplicate")
    assert LEDGER["a"] == 1


def test_live_lease_holds_a_duplicate_and_an_expired_one_is_retaken(setup):
    client, runner, _, clock = setup
    client.submit("job", {}, task_id="a")
    body = deliver(client, "a").body
    client.store.transition(
        "a",
        TaskState.RUNNING,
        {"lease_until": int(clock.now() * 1000) + 30_000},
        0,
        increments={"attempts": 1},
    )
    held = runner.run_body(body)
    assert (held.action, held.kind) == ("hold", "busy")
    assert 30 <= held.delay <= 32
    assert LEDGER["a"] == 0
    clock.advance(31)
    retaken = runner.run_body(body)
    assert (retaken.action, retaken.state) == ("ack", "SUCCEEDED")
    assert client.get("a").attempts == 2
    assert LEDGER["a"] == 1


def test_a_duplicate_comes_back_after_twice_the_running_time_not_at_the_lease_end(setup):
    client, runner, _, clock = setup
    client.submit("job", {}, task_id="a")
    body = deliver(client, "a").body
    started = int(clock.now() * 1000)
    client.store.transition(
        "a",
        TaskState.RUNNING,
        {"lease_until": started + 600_000, "started_at": started},
        0,
        increments={"attempts": 1},
    )
    assert runner.run_body(body).delay == 5.0  # just started: RETRY_SOON
    clock.advance(40)
    assert runner.run_body(body).delay == 80.0  # ran 40 s: back in 80 s
    clock.advance(500)
    assert runner.run_body(body).delay == 61.0  # capped by the lease end (+1 s)
    assert LEDGER["a"] == 0


def test_retryable_error_backs_off_then_succeeds(setup):
    client, runner, _, _ = setup
    client.submit("job", {"mode": "flaky", "ok_at": 3}, task_id="f")
    body = deliver(client, "f").body
    first = runner.run_body(body)
    assert (first.action, first.kind, first.delay) == ("retry", "retryable", 2.0)
    second = runner.run_body(body)
    assert second.delay == 4.0
    record = client.get("f")
    assert (record.state, record.attempts, record.error.kind) == (TaskState.QUEUED, 2, "retryable")
    assert record.retry_wait_ms == 6000
    assert runner.run_body(body).state == "SUCCEEDED"
    assert client.get("f").error is None


def test_attempts_exhausted_goes_to_dlq(setup):
    client, runner, events, _ = setup
    client.submit("job", {"mode": "boom"}, task_id="b")
    body = deliver(client, "b").body
    assert [runner.run_body(body).action for _ in range(3)] == ["retry", "retry", "dlq"]
    record = client.get("b")
    assert record.state is TaskState.FAILED
    assert "gave up after 3 attempts" in record.error.message
    assert events.of_type("Task Failed")[0]["attempts"] == 3


def test_fatal_and_non_retryable_fail_at_once(setup):
    client, runner, events, _ = setup
    client.submit("job", {"mode": "fatal"}, task_id="x")
    assert runner.run_body(deliver(client, "x").body).action == "dlq"
    assert client.get("x").error.kind == "fatal"
    client.submit("quiet", {}, task_id="q")
    outcome = runner.run_body(deliver(client, "q").body)
    assert (outcome.action, outcome.kind) == ("dlq", "fatal")
    assert events.of_type("Task Failed")[-1]["id"] == "x"  # quiet has events=False


def test_throttles_never_spend_attempts(setup):
    client, runner, _, _ = setup
    client.submit("job", {"mode": "throttle", "throttles": 5}, task_id="t")
    body = deliver(client, "t").body
    kinds = [runner.run_body(body).kind for _ in range(6)]
    assert kinds == ["throttled"] * 5 + ["ok"]
    record = client.get("t")
    assert (record.attempts, record.throttles, record.state) == (1, 5, TaskState.SUCCEEDED)


def test_expired_task_never_runs(setup):
    client, runner, events, clock = setup
    client.submit("job", {}, task_id="e", ttl=60)
    clock.advance(61)
    outcome = runner.run_body(deliver(client, "e").body)
    assert (outcome.action, outcome.kind) == ("ack", "expired")
    assert client.get("e").state is TaskState.EXPIRED
    assert LEDGER["e"] == 0
    assert events.of_type("Task Expired")[0]["id"] == "e"


def test_cancelled_task_is_acked_without_running(setup):
    client, runner, _, _ = setup
    client.submit("job", {}, task_id="c")
    body = deliver(client, "c").body
    client.cancel("c")
    outcome = runner.run_body(body)
    assert (outcome.action, outcome.kind) == ("ack", "duplicate")
    assert LEDGER["c"] == 0


def test_malformed_and_unknown_messages_go_to_the_dlq_with_a_reason(setup):
    _, runner, _, _ = setup
    assert runner.run_body("not json").reason.startswith("malformed message")
    assert runner.run_body('{"v":1}').action == "dlq"
    body = (
        '{"v":1,"id":"z","type":"ghost","tenant":"t","prio":"normal","sha":"x",'
        '"at":1,"payload":null}'
    )
    outcome = runner.run_body(body)
    assert (outcome.action, outcome.kind) == ("dlq", "unknown-type")
    missing = body.replace('"ghost"', '"job"')
    assert runner.run_body(missing).kind == "missing"


def test_large_result_goes_to_s3_and_result_reads_it(setup):
    client, runner, _, _ = setup
    client.submit("job", {"mode": "big"}, task_id="big")
    runner.run_body(deliver(client, "big").body)
    record = client.get("big")
    assert record.result_ref == "results/big/1.json" and record.result is None
    assert client.result("big", timeout=1) == {"blob": "r" * 10_000}


long_catalog = Catalog("long-retry")


@long_catalog.task(retry=Retry(max_attempts=3, backoff_base=1200, backoff_cap=3600, jitter=False))
def slow_retry(payload, ctx):
    raise RetryLater("come back in 20 minutes")


def test_retries_longer_than_15_minutes_go_through_the_scheduler():
    from conveyor.memory.scheduler import MemoryScheduler

    clock = FakeClock()
    client = Conveyor.in_memory(long_catalog, clock=clock)
    scheduler = MemoryScheduler()
    runner = TaskRunner(
        long_catalog,
        client.store,
        client.payloads,
        clock=clock,
        enforce_timeout=False,
        scheduler=scheduler,
    )
    client.submit("slow_retry", {}, task_id="s1")
    outcome = runner.run_body(deliver(client, "s1").body)
    assert (outcome.action, outcome.kind, outcome.delay) == ("ack", "retryable", 1200)
    (schedule,) = scheduler.list()
    assert schedule["at_ms"] == int(clock.now() * 1000) + 1_200_000
    assert '"id":"s1"' in schedule["Input"]
    record = client.get("s1")
    assert (record.state, record.attempts) == (TaskState.QUEUED, 1)
    # Without a scheduler the wait is capped at SQS's 15 minutes instead.
    capped = TaskRunner(
        long_catalog, client.store, client.payloads, clock=clock, enforce_timeout=False
    )
    again = capped.run_body(schedule["Input"])
    assert (again.action, again.delay) == ("retry", 900)

"""Lean task types on moto: one read, the handler, one conditional outcome write.

Each test drives real lane messages through the runner (and, where the message's fate is
the point, the dispatcher with its outbox) against DynamoDB, SQS and S3 on moto."""

from __future__ import annotations

import io
import json
from collections import Counter

import pytest

from conveyor import Catalog, Fatal, Retry, TaskState
from conveyor.aws import AwsClients
from conveyor.aws.accounting import RequestCounter
from conveyor.local.faults import REPLY_LOST, FaultInjector, Rule
from conveyor.local.provision import provision
from conveyor.memory import MemoryEvents
from conveyor.policy.reconcile import lean_grace
from conveyor.ports import FakeClock
from conveyor.runtime.bootstrap import aws_runtime
from conveyor.runtime.executors import LambdaExecutor, LocalExecutor

RUNS: Counter[str] = Counter()
catalog = Catalog("lean-test")


class Flaky(Exception):
    """Retryable by default (not in ``non_retryable``)."""


class Broken(Exception):
    """Declared non-retryable: fails the task at once."""


@catalog.task(
    lean=True,
    timeout=10,
    retry=Retry(max_attempts=3, backoff_base=0.1, backoff_cap=0.2, non_retryable=(Broken,)),
    events=True,
)
def slim(payload, ctx):
    RUNS[ctx.task_id] += 1
    mode = payload.get("mode", "ok")
    if mode == "flaky" and ctx.attempt < 2:
        raise Flaky("not yet")
    if mode == "broken":
        raise Broken("never")
    if mode == "fatal":
        raise Fatal("bad input")
    if mode == "race" and RUNS[ctx.task_id] == 1:
        # A second delivery of the same task runs while this one is still running.
        RACE.append(RACE_RUNNER[0].run_body(RACE_BODY[0]))
    return {"attempt": ctx.attempt}


RACE: list = []
RACE_RUNNER: list = []
RACE_BODY: list = []


@pytest.fixture
def make_rt(aws, topology):
    provision(aws, topology, catalog)
    RUNS.clear()
    RACE.clear()

    def make(counter=None):
        clients = aws if counter is None else AwsClients(region="us-east-1", counter=counter)
        runtime = aws_runtime(catalog, topology, clients)
        runtime.events = MemoryEvents()
        return runtime

    return make


def submit(rt, mode: str) -> tuple[str, str, str]:
    """Submit one task; its ID, lane and the body of its lane message (left in flight)."""
    task_id = rt.client().submit("slim", {"mode": mode}).task_id
    lane = rt.store.get(task_id).lane
    (message,) = rt.lanes.receive(lane, max_messages=10)
    return task_id, lane, message.body


def drain(rt, lane: str, executor=None) -> Counter[str]:
    """Run the lane dry through the dispatcher (outbox: acks, retries, dead letters)."""
    executor = executor or LocalExecutor(rt.runner(), max_workers=2)
    dispatcher = rt.dispatcher(executor, runner=rt.runner(), pause_refresh=3600)
    for _ in range(50):
        messages = rt.lanes.receive(lane, max_messages=10, visibility=1)
        if not messages and not dispatcher.running:
            depth = rt.lanes.depth(lane)
            if depth.visible + depth.delayed + depth.in_flight == 0:
                break
        dispatcher.ingest(lane, messages)
        dispatcher.dispatch()
        for item in dispatcher.running:
            item.future.result(timeout=30)
        dispatcher.collect()
        dispatcher.flush()
    return Counter(dispatcher.stats.kinds)


def test_success_is_one_read_and_one_write_and_records_the_run(make_rt):
    counter = RequestCounter()
    rt = make_rt(counter)
    task_id, _, body = submit(rt, "ok")
    counter.reset()
    outcome = rt.runner().run_body(body)
    assert (outcome.action, outcome.kind, outcome.state) == ("ack", "ok", "SUCCEEDED")
    requests, _ = counter.snapshot()
    assert requests == {("dynamodb", "GetItem"): 1, ("dynamodb", "UpdateItem"): 1}
    record = rt.store.get(task_id)
    assert record.state is TaskState.SUCCEEDED
    assert (record.attempts, record.starts, record.result) == (1, 1, {"attempt": 1})
    assert record.started_at is not None and record.finished_at >= record.started_at
    assert record.lease_until is None
    assert [e["o"] for e in record.history] == ["ok"]
    assert RUNS[task_id] == 1


def test_a_retryable_error_class_retries_and_a_non_retryable_one_fails(make_rt):
    rt = make_rt()
    flaky, _, body = submit(rt, "flaky")
    first = rt.runner().run_body(body)
    assert (first.action, first.kind) == ("retry", "retryable")
    queued = rt.store.get(flaky)
    assert (queued.state, queued.attempts, queued.starts) == (TaskState.QUEUED, 1, 1)
    assert queued.error.type == "Flaky"
    second = rt.runner().run_body(body)
    assert (second.action, second.kind, second.attempts) == ("ack", "ok", 2)
    assert rt.store.get(flaky).result == {"attempt": 2}
    broken, _, body = submit(rt, "broken")
    failed = rt.runner().run_body(body)
    assert (failed.action, failed.kind) == ("dlq", "fatal")
    record = rt.store.get(broken)
    assert (record.state, record.attempts, record.error.type) == (TaskState.FAILED, 1, "Broken")
    assert (RUNS[flaky], RUNS[broken]) == (2, 1)


def test_fatal_fails_the_task_and_leaves_one_dlq_entry(make_rt):
    rt = make_rt()
    client = rt.client()
    task_id = client.submit("slim", {"mode": "fatal"}).task_id
    lane = rt.store.get(task_id).lane
    kinds = drain(rt, lane)
    assert kinds["fatal"] == 1
    assert rt.store.get(task_id).state is TaskState.FAILED
    letters = rt.lanes.receive(rt.topology.dlq, max_messages=10)
    assert [json.loads(m.body)["task_id"] for m in letters] == [task_id]
    assert RUNS[task_id] == 1


def test_a_duplicate_delivery_of_a_finished_task_does_not_run_it(make_rt):
    rt = make_rt()
    task_id, _, body = submit(rt, "ok")
    runner = rt.runner()
    assert runner.run_body(body).kind == "ok"
    again = runner.run_body(body)
    assert (again.action, again.kind, again.state) == ("ack", "duplicate", "SUCCEEDED")
    assert RUNS[task_id] == 1
    assert rt.store.get(task_id).starts == 1


def test_two_concurrent_deliveries_both_run_and_the_first_outcome_wins(make_rt):
    rt = make_rt()
    task_id, _, body = submit(rt, "race")
    RACE_RUNNER[:] = [rt.runner()]
    RACE_BODY[:] = [body]
    outer = rt.runner().run_body(body)
    (inner,) = RACE
    assert (inner.kind, inner.state) == ("ok", "SUCCEEDED")  # finished first: recorded
    assert (outer.action, outer.kind) == ("ack", "duplicate")  # its outcome discarded
    record = rt.store.get(task_id)
    assert (record.attempts, record.starts) == (1, 1)
    assert RUNS[task_id] == 2  # what lean gives up: no lease, both ran


def test_outcome_write_reply_lost_writes_once_and_settles_the_message(make_rt):
    injector = FaultInjector([Rule(REPLY_LOST, 1.0, ("dynamodb.UpdateItem",), limit=1)], seed=3)
    rt = make_rt(injector)
    task_id = rt.client().submit("slim", {"mode": "ok"}).task_id
    lane = rt.store.get(task_id).lane
    events = rt.events
    kinds = drain(rt, lane)
    assert injector.counts[(REPLY_LOST, "dynamodb.UpdateItem")] == 1
    assert kinds["ok"] == 1 and kinds["duplicate"] == 0
    record = rt.store.get(task_id)
    assert (record.state, record.attempts, record.starts) == (TaskState.SUCCEEDED, 1, 1)
    assert len(record.history) == 1
    assert RUNS[task_id] == 1
    assert [d["id"] for _, d in events.published] == [task_id]  # one event, not two
    depth = rt.lanes.depth(lane)
    assert depth.visible + depth.delayed + depth.in_flight == 0  # the message was deleted


def test_a_resubmit_of_a_running_lean_task_does_not_send_a_second_message(aws, topology):
    provision(aws, topology, catalog)
    rt = aws_runtime(catalog, topology, aws, clock=FakeClock())
    client = rt.client()
    task_id = client.submit("slim", {"mode": "ok"}, task_id="same-id").task_id
    lane = rt.store.get(task_id).lane
    (_in_flight,) = rt.lanes.receive(lane, max_messages=10)  # being run: still QUEUED
    rt.clock.advance(60)
    assert client.submit("slim", {"mode": "ok"}, task_id="same-id").status == "duplicate"
    assert rt.lanes.depth(lane).visible == 0  # an ordinary type's would be re-sent now
    rt.clock.advance(lean_grace(10) - 60)  # no live message can hold it any more
    client.submit("slim", {"mode": "ok"}, task_id="same-id")
    assert rt.lanes.depth(lane).visible == 1


class CrashingLambda:
    """A Lambda client whose function always fails (as a crash or a timeout reports)."""

    def __init__(self) -> None:
        self.invokes = 0

    def invoke(self, **_: object) -> dict:
        self.invokes += 1
        payload = b'{"errorMessage": "Task timed out after 10.00 seconds"}'
        return {"StatusCode": 200, "FunctionError": "Unhandled", "Payload": io.BytesIO(payload)}


def test_failed_invocations_spend_attempts_then_fail_the_task(make_rt):
    """No lease tells that a lean run died: the dispatcher records each failed invocation
    as a spent attempt, so a task that always crashes its function fails after
    max_attempts (3) and is dead-lettered, instead of running as long as its message
    lives."""
    rt = make_rt()
    task_id = rt.client().submit("slim", {"mode": "ok"}).task_id
    lane = rt.store.get(task_id).lane
    crashing = CrashingLambda()
    executor = LambdaExecutor(crashing, rt.topology.prefix, max_workers=1)
    kinds = drain(rt, lane, executor)
    executor.shutdown()
    assert crashing.invokes == 3
    assert (kinds["retryable"], kinds["fatal"]) == (3, 0)
    record = rt.store.get(task_id)
    assert (record.state, record.attempts, record.starts) == (TaskState.FAILED, 3, 3)
    assert record.error.type == "AttemptLost"
    assert [e["o"] for e in record.history] == ["retryable"] * 3
    letters = rt.lanes.receive(rt.topology.dlq, max_messages=10)
    assert [json.loads(m.body)["task_id"] for m in letters] == [task_id]

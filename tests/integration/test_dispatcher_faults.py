"""The dispatcher's loops under AWS faults (moto, with one operation made to fail as it
does once botocore's retries are spent): nothing dies, nothing settled is dropped."""

from __future__ import annotations

import contextlib
import threading
from concurrent.futures import Future

import pytest

from conveyor import TaskState
from conveyor.local.provision import provision
from conveyor.memory import MemoryEvents
from conveyor.runtime import intake
from conveyor.runtime.bootstrap import aws_runtime
from conveyor.runtime.dispatcher import _Running
from conveyor.runtime.outcome import DLQ, HOLD, RETRY, Outcome
from tests.support import ledger
from tests.support.injected import failing
from tests.support.waiting import wait_terminal


@pytest.fixture
def rt(aws, topology, tmp_path, monkeypatch):
    monkeypatch.setenv("LEDGER_DIR", str(tmp_path))
    provision(aws, topology, ledger.catalog)
    runtime = aws_runtime(ledger.catalog, topology, aws)
    runtime.events = MemoryEvents()
    return runtime


def _received(rt, n):
    client = rt.client()
    ids = [client.submit("work", {"mode": "ok"}).task_id for _ in range(n)]
    lane = client.get(ids[0]).lane
    messages = []
    for _ in range(5):
        messages += rt.lanes.receive(lane, max_messages=n - len(messages))
        if len(messages) == n:
            break
    assert len(messages) == n
    return client, lane, messages


def _visible(rt, queue):
    return rt.lanes.depth(queue).visible


def test_a_failed_pause_set_read_does_not_kill_the_lane_poller(rt, aws, monkeypatch):
    monkeypatch.setattr(intake, "RETRY_HOLD", 0.2)
    client = rt.client()
    task_id = client.submit("work", {"mode": "ok"}).task_id
    dispatcher = rt.dispatcher(pause_refresh=0)
    stop = threading.Event()
    is_pause_read = lambda body: "ctl#pauses" in body  # noqa: E731
    with failing(aws.dynamodb, "GetItem", when=is_pause_read) as failed:
        service = threading.Thread(target=dispatcher.run, args=(stop,), kwargs={"wait_seconds": 1})
        service.start()
        try:
            (record,) = wait_terminal(client, [task_id], timeout=30)
        finally:
            stop.set()
            service.join(timeout=30)
    assert failed  # the fault did hit the poller
    assert record.state is TaskState.SUCCEEDED
    assert not service.is_alive()


def test_settling_survives_a_failed_change_visibility(rt, aws):
    _, lane, (message,) = _received(rt, 1)
    dispatcher = rt.dispatcher()
    with failing(aws.sqs, "ChangeMessageVisibility") as failed:
        dispatcher._settle(lane, message, Outcome(HOLD, "t", "paused", delay=5))
    assert len(failed) == 1


def test_collect_restores_in_flight_counts_when_settling_fails(rt, aws):
    _, lane, messages = _received(rt, 3)
    dispatcher = rt.dispatcher()
    work = ledger.catalog.get("work")
    for message in messages:
        future: Future[Outcome] = Future()
        future.set_result(Outcome(RETRY, "t", "retryable", delay=1))
        dispatcher.running.append(_Running(lane, message, work, future))
        dispatcher.in_flight["work"] += 1
    with failing(aws.sqs, "ChangeMessageVisibility", times=3), contextlib.suppress(Exception):
        dispatcher.collect()
    assert dispatcher.running == []
    assert dispatcher.in_flight["work"] == 0  # the type's quota is whole again


def test_dead_letters_stay_queued_until_the_dlq_accepts_them(rt, aws):
    client, lane, messages = _received(rt, 2)
    dispatcher = rt.dispatcher()
    for message in messages:
        dispatcher._settle(lane, message, Outcome(DLQ, "t", "fatal", reason="boom"))
    to_dlq = lambda body: f'/{rt.topology.dlq}"' in body  # noqa: E731
    with (
        failing(aws.sqs, "SendMessageBatch", when=to_dlq) as failed,
        contextlib.suppress(Exception),
    ):
        dispatcher.flush()
    assert len(failed) == 1
    assert client.dlq_list() == []
    assert rt.lanes.depth(lane).in_flight == 2  # not acked: their letters were not sent
    assert dispatcher.pending() == 2
    dispatcher.flush()
    assert sorted(d.reason for d in client.dlq_list()) == ["boom", "boom"]
    assert dispatcher.pending() == 0
    assert rt.lanes.depth(lane).in_flight == 0


def test_acks_stay_queued_until_deleted(rt, aws):
    _, lane, messages = _received(rt, 2)
    dispatcher = rt.dispatcher()
    for message in messages:
        dispatcher._settle(lane, message, Outcome("ack", "t", "ok"))
    with failing(aws.sqs, "DeleteMessageBatch"), contextlib.suppress(Exception):
        dispatcher.flush()
    assert dispatcher.pending() == 2
    dispatcher.flush()
    assert dispatcher.pending() == 0
    assert rt.lanes.depth(lane).in_flight == 0


def test_the_service_keeps_serving_through_failing_sends_and_deletes(rt, aws):
    client = rt.client()
    ids = [client.submit("work", {"mode": "fatal"}).task_id for _ in range(2)]
    ids += [client.submit("work", {"mode": "ok"}).task_id for _ in range(2)]
    dispatcher = rt.dispatcher()
    stop = threading.Event()
    with (
        failing(aws.sqs, "SendMessageBatch", times=2) as sends,
        failing(aws.sqs, "DeleteMessageBatch", times=2) as deletes,
    ):
        service = threading.Thread(target=dispatcher.run, args=(stop,), kwargs={"wait_seconds": 1})
        service.start()
        try:
            wait_terminal(client, ids, timeout=30)
            for _ in range(100):
                if len(client.dlq_list()) == 2 and not dispatcher.pending():
                    break
                stop.wait(0.2)
        finally:
            stop.set()
            service.join(timeout=30)
    assert (len(sends), len(deletes)) == (2, 2)
    assert len(client.dlq_list()) == 2
    lane = client.get(ids[0]).lane
    assert rt.lanes.depth(lane).visible + rt.lanes.depth(lane).in_flight == 0


def test_a_schedule_firing_whose_task_is_retried_runs_to_the_end(rt):
    """The firing message itself carries the task: when the first attempt asks for a
    retry, the redelivered firing must run the QUEUED task, not be acked as a duplicate."""
    import json

    from conveyor.ports import OutMessage

    client = rt.client()
    lane = rt.topology.lane_for("normal", "default")
    body = {"v": 1, "fire": "hourly", "type": "work", "tenant": "default"}
    body |= {"payload": {"mode": "flaky", "ok_at": 2}, "at": "2026-11-29T10:00:00Z"}
    rt.lanes.send(lane, [OutMessage(body=json.dumps(body), group="default", id="f")])
    rt.dispatcher().drain(idle_passes=3, timeout=30)
    (record,) = client.list(task_type="work").records
    assert (record.state, record.attempts) == (TaskState.SUCCEEDED, 2)
    assert ledger.effects()[record.task_id] == 1


def test_the_reconciler_thread_survives_failing_queries(rt, aws, monkeypatch):
    from conveyor.ports import FakeClock
    from tests.support.injected import Died, die_on_send

    clock = FakeClock()
    rt.clock = clock
    with monkeypatch.context() as m:
        die_on_send(rt.lanes, m)
        with contextlib.suppress(Died):
            rt.client().submit("work", {"mode": "ok", "pad": "x" * 200_000})
    (lost,) = rt.store.list(task_type="work").records  # a ULID: inside the time window
    clock.advance(720)
    dispatcher = rt.dispatcher(reconcile_every=0.1)
    stop = threading.Event()
    with failing(aws.dynamodb, "Query", times=2) as failed:
        service = threading.Thread(target=dispatcher.run, args=(stop,), kwargs={"wait_seconds": 1})
        service.start()
        try:
            (record,) = wait_terminal(rt.client(), [lost.task_id], timeout=30)
        finally:
            stop.set()
            service.join(timeout=30)
    assert len(failed) == 2
    assert record.state is TaskState.SUCCEEDED
    assert dispatcher.stats.kinds["ok"] == 1


def test_forwards_to_a_work_queue_stay_queued_until_sent(rt, aws):
    import json

    client = rt.client()
    ids = {r.task_id for r in client.submit_many([{"task_type": "long_job"} for _ in range(3)])}
    dispatcher = rt.dispatcher()
    queue = rt.topology.work_queue("long_job")
    to_work = lambda body: f'/{queue}"' in body  # noqa: E731
    with failing(aws.sqs, "SendMessageBatch", when=to_work) as failed:
        dispatcher.step()
    assert len(failed) == 1
    assert dispatcher.pending() == 3
    assert _visible(rt, queue) == 0
    dispatcher.flush()
    got = rt.lanes.receive(queue, max_messages=10)
    assert {json.loads(m.body)["id"] for m in got} == ids
    assert dispatcher.pending() == 0
    assert rt.lanes.depth(client.get(next(iter(ids))).lane).in_flight == 0

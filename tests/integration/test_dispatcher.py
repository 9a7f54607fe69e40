"""The dispatcher end to end on the in-memory twins and on moto (in-process)."""

from __future__ import annotations

import json
import time

import pytest

from conveyor import TaskState
from conveyor.local.provision import provision
from conveyor.memory import MemoryEvents
from conveyor.ports import OutMessage
from conveyor.runtime.bootstrap import aws_runtime, memory_runtime
from tests.support import ledger


@pytest.fixture(params=["memory", "moto"])
def rt(request, topology, tmp_path, monkeypatch):
    monkeypatch.setenv("LEDGER_DIR", str(tmp_path))
    if request.param == "memory":
        runtime = memory_runtime(ledger.catalog, topology)
        for q in [*topology.lanes, topology.dlq, topology.work_queue("long_job")]:
            runtime.lanes.queues.setdefault(q, [])
        return runtime
    aws = request.getfixturevalue("aws")
    provision(aws, topology, ledger.catalog)
    runtime = aws_runtime(ledger.catalog, topology, aws)
    runtime.events = MemoryEvents()  # moto stores events; here we read them back directly
    return runtime


def test_every_task_reaches_one_terminal_state_and_runs_once(rt):
    client = rt.client()
    payloads = (
        [{"mode": "ok"}] * 12
        + [{"mode": "flaky"}] * 3
        + [{"mode": "fatal"}] * 2
        + [{"mode": "throttle"}] * 2
    )
    ids = [
        r.task_id
        for r in client.submit_many(
            [
                {"task_type": "work", "payload": p, "tenant": f"t{i % 3}"}
                for i, p in enumerate(payloads)
            ]
        )
    ]
    dispatcher = rt.dispatcher(pause_refresh=0)
    dispatcher.drain(idle_passes=5, timeout=60)
    records = [client.get(i) for i in ids]
    states = [r.state for r in records]
    assert states.count(TaskState.SUCCEEDED) == 17, [
        (r.state, r.attempts, r.throttles, r.error)
        for r in records
        if r.state is not TaskState.SUCCEEDED
    ]
    assert states.count(TaskState.FAILED) == 2
    effects = ledger.effects()
    assert all(effects[r.task_id] == 1 for r in records if r.state is TaskState.SUCCEEDED)
    assert sum(effects.values()) == 17
    throttled = [r for r, p in zip(records, payloads, strict=True) if p["mode"] == "throttle"]
    assert all((r.attempts, r.throttles) == (1, 2) for r in throttled)
    dead = client.dlq_list()
    assert sorted(d.task_id for d in dead) == sorted(
        r.task_id for r in records if r.state is TaskState.FAILED
    )
    assert all(d.reason == "cannot ever work" and d.kind == "fatal" for d in dead)
    assert len(rt.events.of_type("Task Succeeded")) == 17


def test_a_malformed_message_goes_to_the_dlq_and_the_loop_keeps_going(rt):
    client = rt.client()
    lane = rt.topology.lane_for("normal", "default")
    rt.lanes.send(
        lane,
        [
            OutMessage(body="{not json", group="x", id="m1"),
            OutMessage(body=json.dumps({"v": 1, "id": "ghost"}), group="x", id="m2"),
        ],
    )
    good = client.submit("work", {"mode": "ok"}).task_id
    dispatcher = rt.dispatcher()
    dispatcher.drain(idle_passes=3)
    assert client.get(good).state is TaskState.SUCCEEDED
    reasons = sorted(d.reason for d in client.dlq_list())
    assert len(reasons) == 2
    assert all(r.startswith(("body is not JSON", "envelope misses")) for r in reasons), reasons
    assert dispatcher.stats.kinds["malformed"] == 2


def test_pause_holds_a_type_until_resume(rt):
    client = rt.client()
    client.pause(task_type="work")
    held = client.submit("work", {"mode": "ok"}).task_id
    free = client.submit("other", {}).task_id
    dispatcher = rt.dispatcher(pause_refresh=0, hold_seconds=1)
    assert not dispatcher.drain(idle_passes=3, timeout=3)  # the held task keeps the lane busy
    assert client.get(free).state is TaskState.SUCCEEDED
    assert client.get(held).state is TaskState.QUEUED
    assert ledger.effects()[held] == 0
    assert dispatcher.stats.kinds["paused"] >= 1
    client.resume(task_type="work")
    dispatcher.drain(idle_passes=3)
    assert client.get(held).state is TaskState.SUCCEEDED


def test_pause_by_tenant(rt):
    client = rt.client()
    client.pause(tenant="noisy")
    a = client.submit("work", {"mode": "ok"}, tenant="noisy").task_id
    b = client.submit("work", {"mode": "ok"}, tenant="quiet").task_id
    dispatcher = rt.dispatcher(pause_refresh=0, hold_seconds=1)
    dispatcher.drain(idle_passes=3, timeout=3)
    assert (client.get(a).state, client.get(b).state) == (TaskState.QUEUED, TaskState.SUCCEEDED)
    assert client.paused() == {("tenant", "noisy")}


def test_cancel_and_expiry_in_the_dispatcher(rt):
    client = rt.client()
    batch = [client.submit("work", {"mode": "ok"}, tags=["batch-7"]).task_id for _ in range(3)]
    keep = client.submit("work", {"mode": "ok"}).task_id
    assert sorted(client.cancel_many(task_type="work", tag="batch-7")) == sorted(batch)
    expired = client.submit("other", {}, ttl=0.001).task_id
    time.sleep(0.01)  # the 1 ms TTL passes before any dispatcher looks
    rt.dispatcher().drain(idle_passes=3)
    assert [client.get(i).state for i in batch] == [TaskState.CANCELLED] * 3
    assert client.get(keep).state is TaskState.SUCCEEDED
    assert client.get(expired).state is TaskState.EXPIRED
    assert all(ledger.effects()[i] == 0 for i in [*batch, expired])
    assert len(rt.events.of_type("Task Expired")) == 1
    assert sorted(e["id"] for e in rt.events.of_type("Task Cancelled")) == sorted(batch)


def test_dlq_redrive_resets_attempts_and_reruns(rt, monkeypatch):
    client = rt.client()
    task_id = client.submit("work", {"mode": "fatal"}).task_id
    rt.dispatcher().drain(idle_passes=3)
    assert client.get(task_id).state is TaskState.FAILED
    # Redrive a second task type's entry only when asked for it: nothing for 'other'.
    assert client.dlq_redrive(task_type="other") == []
    assert len(client.dlq_list()) == 1
    assert client.dlq_redrive(task_type="work") == [task_id]
    record = client.get(task_id)
    assert (record.state, record.attempts, record.error) == (TaskState.QUEUED, 0, None)
    assert client.dlq_list() == []
    rt.dispatcher().drain(idle_passes=3)
    assert client.get(task_id).state is TaskState.FAILED  # still fatal, and back in the DLQ
    assert len(client.dlq_list()) == 1


def test_fargate_types_are_forwarded_in_batches_to_their_work_queue(rt):
    client = rt.client()
    ids = [
        r.task_id
        for r in client.submit_many(
            [{"task_type": "long_job", "payload": {"chunks": 1}} for _ in range(12)]
        )
    ]
    dispatcher = rt.dispatcher()
    dispatcher.drain(idle_passes=3)
    assert dispatcher.stats.forwarded["long_job"] == 12
    queue = rt.topology.work_queue("long_job")
    got = []
    for _ in range(4):
        got += rt.lanes.receive(queue, max_messages=10)
    assert sorted(json.loads(m.body)["id"] for m in got) == sorted(ids)
    assert all(client.get(i).state is TaskState.QUEUED for i in ids)

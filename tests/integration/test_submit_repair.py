"""Submit is repairable: a producer that died between the record and the send leaves a
QUEUED task with no message; re-submitting its ID sends the message again (in-memory
twins and moto)."""

from __future__ import annotations

import pytest

from conveyor import TaskState
from conveyor.local.provision import provision
from conveyor.ports import FakeClock
from conveyor.runtime.bootstrap import aws_runtime, memory_runtime
from tests.support import ledger
from tests.support.injected import Died, die_on_send


@pytest.fixture(params=["memory", "moto"])
def rt(request, topology, tmp_path, monkeypatch):
    monkeypatch.setenv("LEDGER_DIR", str(tmp_path))
    clock = FakeClock()
    if request.param == "memory":
        runtime = memory_runtime(ledger.catalog, topology, clock=clock)
    else:
        aws = request.getfixturevalue("aws")
        provision(aws, topology, ledger.catalog)
        runtime = aws_runtime(ledger.catalog, topology, aws, clock=clock)
    return runtime


def _depth(rt, lane):
    depth = rt.lanes.depth(lane)
    return depth.visible + depth.delayed + depth.in_flight


def test_resubmitting_a_stranded_task_sends_it_again(rt, monkeypatch):
    client = rt.client()
    with monkeypatch.context() as m:
        die_on_send(rt.lanes, m)
        with pytest.raises(Died):
            client.submit("work", {"mode": "ok"}, task_id="order-1")
    record = client.get("order-1")
    assert record.state is TaskState.QUEUED
    assert _depth(rt, record.lane) == 0  # stranded: a record and no message
    rt.clock.advance(30)
    again = client.submit("work", {"mode": "ok"}, task_id="order-1")
    assert again.status == "duplicate"
    assert _depth(rt, record.lane) == 1
    rt.dispatcher().drain(idle_passes=3, timeout=30)
    assert client.get("order-1").state is TaskState.SUCCEEDED
    assert ledger.effects()["order-1"] == 1


def test_a_fresh_or_started_duplicate_is_not_sent_again(rt):
    client = rt.client()
    client.submit("work", {"mode": "ok"}, task_id="fresh")
    lane = client.get("fresh").lane
    client.submit("work", {"mode": "ok"}, task_id="fresh")  # within the grace: its send
    assert _depth(rt, lane) == 1  # may still be on the way, so nothing more is sent
    rt.dispatcher().drain(idle_passes=3, timeout=30)
    rt.clock.advance(3600)
    assert client.submit("work", {"mode": "ok"}, task_id="fresh").status == "duplicate"
    assert _depth(rt, lane) == 0  # finished: a duplicate, nothing to send
    assert ledger.effects()["fresh"] == 1


def test_submit_many_repairs_stranded_duplicates(rt, monkeypatch):
    client = rt.client()
    ok = {"mode": "ok"}
    batch = [{"task_type": "work", "payload": ok, "task_id": f"b-{i}"} for i in range(3)]
    with monkeypatch.context() as m:
        die_on_send(rt.lanes, m)
        with pytest.raises(Died):
            client.submit_many(batch)
    lane = client.get("b-0").lane
    assert _depth(rt, lane) == 0
    rt.clock.advance(30)
    results = client.submit_many([*batch, {"task_type": "work", "payload": {"mode": "ok"}}])
    assert [r.status for r in results] == ["duplicate"] * 3 + ["created"]
    assert _depth(rt, lane) == 4
    rt.dispatcher().drain(idle_passes=3, timeout=30)
    assert all(client.get(f"b-{i}").state is TaskState.SUCCEEDED for i in range(3))
    assert all(ledger.effects()[f"b-{i}"] == 1 for i in range(3))

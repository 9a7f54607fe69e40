"""The reconciler repairs what a crash strands, on the in-memory twins and on moto, with
a fake clock: QUEUED with no message, RUNNING past its lease with no message, FAILED
with no DLQ entry. Healthy tasks are left alone; re-sends are bounded."""

from __future__ import annotations

import pytest

from conveyor import Catalog, TaskState
from conveyor.local.provision import provision
from conveyor.model import TaskError
from conveyor.ports import FakeClock, now_ms
from conveyor.runtime.bootstrap import aws_runtime, memory_runtime
from conveyor.runtime.reconciler import Reconciler
from tests.support import ledger
from tests.support.injected import Died, die_on_send

BIG = "x" * 200_000  # offloaded to the payload store, so a lost message can be re-sent


@pytest.fixture(params=["memory", "moto"])
def rt(request, topology, tmp_path, monkeypatch):
    monkeypatch.setenv("LEDGER_DIR", str(tmp_path))
    clock = FakeClock()
    if request.param == "memory":
        runtime = memory_runtime(ledger.catalog, topology, clock=clock)
        for q in [*topology.lanes, topology.dlq]:
            runtime.lanes.queues.setdefault(q, [])
        return runtime
    aws = request.getfixturevalue("aws")
    provision(aws, topology, ledger.catalog)
    return aws_runtime(ledger.catalog, topology, aws, clock=clock)


def reconciler(rt):
    return Reconciler(
        ledger.catalog, rt.topology, rt.store, rt.lanes, clock=rt.clock, sweep_on_start=False
    )


def stranded_submit(rt, monkeypatch, payload):
    """Submit as a producer that dies between the record and the send."""

    with monkeypatch.context() as m:
        die_on_send(rt.lanes, m)
        with pytest.raises(Died):
            rt.client().submit("work", payload)
    (record,) = [r for r in rt.store.list(task_type="work").records if r.payload_sha256]
    return record.task_id


def take_message(rt, lane):
    """Receive and delete the lane's one message (a message lost by mistake)."""
    (message,) = rt.lanes.receive(lane, max_messages=10)
    rt.lanes.delete(lane, [message.receipt])


def depth(rt, queue):
    d = rt.lanes.depth(queue)
    return d.visible + d.delayed + d.in_flight


def test_a_queued_task_with_no_message_is_sent_again_and_runs(rt, monkeypatch):
    task_id = stranded_submit(rt, monkeypatch, {"mode": "ok", "pad": BIG})
    lane = rt.store.get(task_id).lane
    rec = reconciler(rt)
    rt.clock.advance(120)
    assert rec.run_once()["resent"] == 0  # not yet due + 600 s: may be in a backlog
    rt.clock.advance(600)
    counts = rec.run_once()
    assert counts["resent"] == 1
    assert depth(rt, lane) == 1
    rt.dispatcher().drain(idle_passes=3, timeout=30)
    assert rt.store.get(task_id).state is TaskState.SUCCEEDED
    assert ledger.effects()[task_id] == 1
    rt.clock.advance(3600)
    assert rec.run_once()["resent"] == 0
    assert task_id not in rec.watch


def test_a_running_task_past_its_lease_with_no_message_is_retaken(rt):
    client = rt.client()
    task_id = client.submit("work", {"mode": "ok", "pad": BIG}).task_id
    lane = client.get(task_id).lane
    take_message(rt, lane)
    now = now_ms(rt.clock)
    rt.store.transition(
        task_id,
        TaskState.RUNNING,
        {"started_at": now, "lease_until": now + 10_000},
        now,
        increments={"attempts": 1},
    )
    rec = reconciler(rt)
    rt.clock.advance(90)
    assert rec.run_once()["resent"] == 0  # lease ended 80 s ago: inside the grace
    rt.clock.advance(60)
    assert rec.run_once()["resent"] == 1
    rt.dispatcher().drain(idle_passes=3, timeout=30)
    record = client.get(task_id)
    assert (record.state, record.attempts) == (TaskState.SUCCEEDED, 2)
    assert ledger.effects()[task_id] == 1


def test_a_failed_task_with_no_dlq_entry_is_dead_lettered_once(rt):
    client = rt.client()
    task_id = client.submit("work", {"mode": "fatal"}, task_id="report-7").task_id
    take_message(rt, client.get(task_id).lane)
    now = now_ms(rt.clock)
    rt.store.transition(task_id, TaskState.RUNNING, {"lease_until": now + 10_000}, now)
    error = TaskError("fatal", "Fatal", "cannot ever work")
    rt.store.transition(task_id, TaskState.FAILED, {"finished_at": now, "error": error}, now)
    rec = reconciler(rt)
    rt.clock.advance(400)
    assert rec.run_once()["examined"] == 0  # a custom ID: outside the time window
    assert rec.run_once(full_sweep=True)["dead_lettered"] == 1
    (entry,) = client.dlq_list()
    assert (entry.task_id, entry.reason, entry.kind) == (task_id, "cannot ever work", "fatal")
    rt.clock.advance(3600)
    again = reconciler(rt).run_once(full_sweep=True)  # reads the DLQ: the entry is there
    assert (again["examined"], again["dead_lettered"]) == (1, 0)
    assert len(client.dlq_list()) == 1


def test_healthy_tasks_are_left_alone(rt):
    client = rt.client()
    done = [client.submit("work", {"mode": "ok"}).task_id for _ in range(3)]
    failed = client.submit("work", {"mode": "fatal"}).task_id
    rt.dispatcher().drain(idle_passes=3, timeout=30)
    rec = reconciler(rt)
    rt.clock.advance(120)
    waiting = client.submit("work", {"mode": "ok"}).task_id  # queued, with its message
    for _ in range(5):
        counts = rec.run_once()
        assert counts["resent"] == counts["dead_lettered"] == counts["reported"] == 0
        rt.clock.advance(60)
    assert [client.get(i).state for i in done] == [TaskState.SUCCEEDED] * 3
    assert [e.task_id for e in client.dlq_list()] == [failed]
    assert client.get(waiting).state is TaskState.QUEUED
    assert depth(rt, client.get(waiting).lane) == 1
    assert rec.stats["examined"] >= 5


def test_re_sends_of_a_backlogged_task_are_bounded(rt):
    client = rt.client()
    task_id = client.submit("work", {"mode": "ok", "pad": BIG}).task_id  # never consumed
    lane = client.get(task_id).lane
    rec = reconciler(rt)
    for _ in range(60):  # 10 hours of passes every 10 minutes
        rt.clock.advance(600)
        rec.run_once()
    assert rec.stats["resent"] == 3
    assert rec.stats["reported"] == 1
    assert depth(rt, lane) == 4
    assert task_id not in rec.watch


def test_an_inline_payload_is_failed_as_lost_and_a_re_submit_revives_it(rt, monkeypatch):
    task_id = stranded_submit(rt, monkeypatch, {"mode": "ok"})
    rec = reconciler(rt)
    rt.clock.advance(720)
    counts = rec.run_once()
    assert (counts["resent"], counts["suspected"]) == (0, 1)
    assert rt.store.get(task_id).state is TaskState.QUEUED  # may be behind a backlog
    rt.clock.advance(rec.settings.lost_after)
    counts = rec.run_once()
    assert (counts["failed_lost"], counts["dead_lettered"]) == (1, 1)
    record = rt.store.get(task_id)
    assert (record.state, record.error.kind) == (TaskState.FAILED, "lost")
    assert "submit it again" in record.error.message
    (letter,) = [d for d in rt.client().dlq_list() if d.task_id == task_id]
    assert "submit it again" in letter.reason
    assert rt.client().dlq_redrive() == []  # the DLQ holds no payload to run it with
    assert rt.store.get(task_id).state is TaskState.FAILED
    assert [d.task_id for d in rt.client().dlq_list()] == [task_id]  # kept
    answer = rt.client().submit("work", {"mode": "ok"}, task_id=task_id)
    assert (answer.status, answer.record.state) == ("created", TaskState.QUEUED)
    rt.dispatcher().drain(idle_passes=3, timeout=30)
    assert rt.store.get(task_id).state is TaskState.SUCCEEDED
    assert ledger.effects()[task_id] == 1
    duplicate = rt.client().submit("work", {"mode": "ok"}, task_id=task_id)
    assert duplicate.status == "duplicate"  # a finished task is not revived
    assert rt.client().dlq_redrive() == [] and rt.client().dlq_list() == []  # stale: dropped


def test_a_restarted_reconciler_goes_on_from_its_saved_window(rt):
    client = rt.client()
    for _ in range(4):
        client.submit("work", {"mode": "ok"})
    rt.dispatcher().drain(idle_passes=3, timeout=30)
    rt.clock.advance(120)
    assert reconciler(rt).run_once()["examined"] == 4
    rt.clock.advance(60)
    assert reconciler(rt).run_once()["examined"] == 0  # a new process, same window


def test_the_dispatcher_service_runs_the_reconciler(rt, monkeypatch):
    import threading

    from tests.support.waiting import wait_terminal

    task_id = stranded_submit(rt, monkeypatch, {"mode": "ok", "pad": BIG})
    rt.clock.advance(720)
    dispatcher = rt.dispatcher(reconcile_every=0.2)
    stop = threading.Event()
    service = threading.Thread(target=dispatcher.run, args=(stop,), kwargs={"wait_seconds": 1})
    service.start()
    try:
        (record,) = wait_terminal(rt.client(), [task_id], timeout=30)
    finally:
        stop.set()
        service.join(timeout=30)
    assert record.state is TaskState.SUCCEEDED
    assert ledger.effects()[task_id] == 1


def test_the_sweep_finds_custom_ids_and_bounds_re_sends_across_sweeps(rt, monkeypatch):
    with monkeypatch.context() as m:
        die_on_send(rt.lanes, m)
        with pytest.raises(Died):
            rt.client().submit("work", {"mode": "ok", "pad": BIG}, task_id="order-9")
    lane = rt.store.get("order-9").lane
    rec = reconciler(rt)
    rt.clock.advance(720)
    assert rec.run_once()["examined"] == 0  # not a ULID: only a sweep finds it
    first = rec.run_once(full_sweep=True)
    assert (first["swept"], first["resent"]) == (1, 1)
    for _ in range(40):  # sweeps every 10 minutes for hours: 3 re-sends, then a report
        rt.clock.advance(600)
        rec.run_once(full_sweep=True)
    assert (rec.stats["resent"], rec.stats["reported"]) == (3, 1)
    assert depth(rt, lane) == 3


lean_catalog = Catalog("lean-reconcile")


@lean_catalog.task(lean=True, timeout=300)
def slow_lean(payload, ctx):
    return {"ok": True}


@pytest.mark.parametrize("where", ["memory", "moto"])
def test_a_lean_task_running_long_is_not_resent_until_its_message_can_be_gone(
    where, topology, request
):
    """A lean task stays QUEUED while it runs: after the ordinary 600 s grace it is left
    alone (a re-send would run it twice at once); once no live message can hold it
    (``lean_grace``: 720 s for a 300 s timeout), it is re-sent and runs."""
    clock = FakeClock()
    if where == "memory":
        rt = memory_runtime(lean_catalog, topology, clock=clock)
    else:
        aws = request.getfixturevalue("aws")
        provision(aws, topology, lean_catalog)
        rt = aws_runtime(lean_catalog, topology, aws, clock=clock)
    task_id = rt.client().submit("slow_lean", {"pad": BIG}).task_id
    lane = rt.store.get(task_id).lane
    (message,) = rt.lanes.receive(lane, max_messages=10)  # being run: no write yet
    rec = Reconciler(
        lean_catalog, rt.topology, rt.store, rt.lanes, clock=rt.clock, sweep_on_start=False
    )
    rt.clock.advance(120)
    rec.run_once()  # looked at once; watched
    rt.clock.advance(590)  # due 710 s ago: an ordinary task would have been re-sent
    assert rec.run_once()["resent"] == 0
    assert rt.store.get(task_id).state is TaskState.QUEUED
    rt.lanes.delete(lane, [message.receipt])  # the run died and its message was lost
    rt.clock.advance(10)
    assert rec.run_once()["resent"] == 1
    rt.dispatcher().drain(idle_passes=3, timeout=30)
    record = rt.store.get(task_id)
    assert (record.state, record.attempts) == (TaskState.SUCCEEDED, 1)

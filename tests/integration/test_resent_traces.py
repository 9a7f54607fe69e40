"""Every sender of a task's message puts it in the task's one trace (moto, fake clock): the
reconciler's re-send of a lost message, a re-submit that revives a task failed as lost, and
a DLQ redrive carry the same trace ID, derived from the task ID and creation time, and the
X-Ray segments of their attempts land in it."""

from __future__ import annotations

import pytest

from conveyor import TaskState, tracing
from conveyor.envelope import parse
from conveyor.local.provision import provision
from conveyor.ports import FakeClock
from conveyor.runtime import xray
from conveyor.runtime.bootstrap import aws_runtime
from conveyor.runtime.reconciler import Reconciler
from tests.support import ledger
from tests.support.injected import Died, die_on_send


@pytest.fixture
def rt(aws, topology, tmp_path, monkeypatch):
    monkeypatch.setenv("LEDGER_DIR", str(tmp_path))
    monkeypatch.delenv(tracing.AMBIENT_ENV, raising=False)
    provision(aws, topology, ledger.catalog)
    return aws_runtime(ledger.catalog, topology, aws, clock=FakeClock())


@pytest.fixture
def segments():
    emitter = xray.MemoryEmitter()
    xray.use(emitter)
    yield emitter.documents
    xray.use(None)


def reconciler(rt):
    return Reconciler(
        ledger.catalog, rt.topology, rt.store, rt.lanes, clock=rt.clock, sweep_on_start=False
    )


def take_header(rt, lane):
    """Receive and delete the lane's one message; its trace header."""
    (message,) = rt.lanes.receive(lane, max_messages=10)
    rt.lanes.delete(lane, [message.receipt])
    return tracing.parse_header(parse(message.body).trace)


def peek_header(rt, lane):
    (message,) = rt.lanes.receive(lane, max_messages=10, visibility=0)
    return tracing.parse_header(parse(message.body).trace)


def expected(record):
    return tracing.task_root(record.task_id, record.created_at), tracing.admission_span(
        record.task_id
    )


def test_the_reconcilers_re_send_keeps_the_trace(rt, segments):
    task_id = rt.client().submit("work", {"mode": "ok", "pad": "x" * 200_000}).task_id
    record = rt.store.get(task_id)
    sent = take_header(rt, record.lane)  # the message is lost
    assert (sent.root, sent.parent) == expected(record)
    rec = reconciler(rt)
    rt.clock.advance(720)
    assert rec.run_once()["resent"] == 1
    again = peek_header(rt, record.lane)
    assert (again.root, again.parent) == (sent.root, sent.parent)
    rt.dispatcher().drain(idle_passes=3, timeout=30)
    assert rt.store.get(task_id).state is TaskState.SUCCEEDED
    assert segments and {d["trace_id"] for d in segments} == {sent.root}
    assert {d["parent_id"] for d in segments if d.get("type")} == {sent.parent}


def test_a_re_submit_that_revives_a_lost_task_keeps_its_trace(rt, segments, monkeypatch):
    with monkeypatch.context() as m:  # the producer dies between the record and the send
        die_on_send(rt.lanes, m)
        with pytest.raises(Died):
            rt.client().submit("work", {"mode": "ok"})
    (created,) = rt.store.list(task_type="work").records
    task_id = created.task_id
    rec = reconciler(rt)
    rt.clock.advance(720)
    rec.run_once()
    rt.clock.advance(rec.settings.lost_after)
    assert rec.run_once()["failed_lost"] == 1
    rt.clock.advance(60)
    answer = rt.client().submit("work", {"mode": "ok"}, task_id=task_id)
    assert (answer.status, answer.record.state) == ("created", TaskState.QUEUED)
    header = peek_header(rt, created.lane)
    assert (header.root, header.parent) == expected(created)  # the first creation's trace
    rt.dispatcher().drain(idle_passes=3, timeout=30)
    assert rt.store.get(task_id).state is TaskState.SUCCEEDED
    assert {d["trace_id"] for d in segments} == {header.root}


def test_a_redriven_task_stays_in_its_trace(rt, segments):
    task_id = rt.client().submit("work", {"mode": "fatal"}).task_id
    record = rt.store.get(task_id)
    first = peek_header(rt, record.lane)
    rt.dispatcher().drain(idle_passes=3, timeout=30)
    assert rt.store.get(task_id).state is TaskState.FAILED
    assert [d.task_id for d in rt.client().dlq_list()] == [task_id]
    before = len(segments)
    rt.client().dlq_redrive()
    header = peek_header(rt, record.lane)
    assert (header.root, header.parent) == (first.root, first.parent) == expected(record)
    rt.dispatcher().drain(idle_passes=3, timeout=30)
    redriven = segments[before:]
    # a redrive starts the queue clock again (``conveyor.clocks``): a new queue wait, its
    # own subsegments (IDs by start count), under the same segment as the first attempt's
    subs = [d for d in redriven if d.get("type")]
    assert [d["name"] for d in subs] == ["queue", "run"]
    assert not {d["id"] for d in subs} & {d["id"] for d in segments[:before]}
    assert {d["parent_id"] for d in subs} == {first.parent}
    assert {d["trace_id"] for d in segments} == {first.root}

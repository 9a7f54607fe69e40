"""A task's attempts as X-Ray segments (``runtime.xray``): the tree, its explicit times
from the record, its derived trace ID, a submitter's own trace, and the daemon emitter."""

from __future__ import annotations

import json
import socket

import pytest

from conveyor import tracing
from conveyor.runtime import xray
from conveyor.runtime.bootstrap import memory_runtime
from conveyor.topology import Topology
from tests.support import ledger

CALLER = "Root=1-65a1b2c3-0123456789abcdef01234567;Parent=89abcdef01234567;Sampled=1"


@pytest.fixture
def sent(tmp_path, monkeypatch):
    monkeypatch.setenv("LEDGER_DIR", str(tmp_path))
    monkeypatch.delenv(tracing.AMBIENT_ENV, raising=False)
    emitter = xray.MemoryEmitter()
    xray.use(emitter)
    yield emitter.documents
    xray.use(None)


def run_task(payload, **submit):
    rt = memory_runtime(ledger.catalog, Topology(prefix="xr"))
    for q in [*rt.topology.lanes, rt.topology.dlq]:
        rt.lanes.queues.setdefault(q, [])
    task_id = rt.client().submit("work", payload, **submit).task_id
    rt.dispatcher(pause_refresh=0).drain(idle_passes=3, timeout=30)
    return rt, rt.store.get(task_id)


def split(documents):
    segments = [d for d in documents if d.get("type") != "subsegment"]
    subs = [d for d in documents if d.get("type") == "subsegment"]
    return segments, subs


def test_queue_retry_wait_and_run_hang_under_the_tasks_segment(sent):
    _, record = run_task({"mode": "flaky", "ok_at": 2})
    assert record.state.value == "SUCCEEDED" and record.attempts == 2
    segments, subs = split(sent)
    root = tracing.task_root(record.task_id, record.created_at)
    segment_id = tracing.admission_span(record.task_id)
    # the segment is sent again after each attempt (same ID: X-Ray keeps the newest)
    assert len(segments) == 2 and {s["id"] for s in segments} == {segment_id}
    assert {d["trace_id"] for d in sent} == {root}
    assert "parent_id" not in segments[0]  # the submitter was not traced
    assert [s["name"] for s in subs] == ["queue", "run", "retry wait", "run"]
    assert {s["parent_id"] for s in subs} == {segment_id}
    assert len({s["id"] for s in subs}) == 4
    queue, run1, wait, run2 = subs
    history = record.history
    # explicit times from the record (seconds), not when the documents were made
    assert queue["start_time"] == record.created_at / 1000
    assert queue["end_time"] == run1["start_time"] == history[0]["s"] / 1000
    assert wait["start_time"] == history[0]["f"] / 1000  # the attempt's recorded end
    assert abs(wait["start_time"] - run1["end_time"]) <= 1  # the same moment, give or take
    assert wait["end_time"] == run2["start_time"] == record.started_at / 1000
    assert run2["end_time"] >= run2["start_time"]
    assert segments[-1]["start_time"] == record.created_at / 1000
    assert segments[-1]["end_time"] == run2["end_time"]
    assert run1["annotations"]["outcome"] == "retryable" and run1.get("error") is True
    assert run2["annotations"] == {"attempt": 2, "outcome": "ok", "executor": "lambda"}
    assert "error" not in run2 and "fault" not in run2
    assert segments[0]["annotations"]["conveyor_task"] == record.task_id


def test_the_documents_of_an_attempt_are_the_same_when_sent_again(sent):
    _, record = run_task({"mode": "ok"})
    started = record.replace(started_at=record.history[-1]["s"])
    once = xray.attempt_documents(started, "ok", "lambda", record.finished_at)
    again = xray.attempt_documents(started, "ok", "lambda", record.finished_at)
    assert once == again and [d["id"] for d in once] == [d["id"] for d in split(sent)[0]] + [
        d["id"] for d in split(sent)[1]
    ]
    assert xray.attempt_documents(record.replace(started_at=None), "ok", "x", 1) == []


def test_a_traced_submitter_is_the_parent_and_its_root_the_trace(sent, monkeypatch):
    monkeypatch.setenv(tracing.AMBIENT_ENV, CALLER)
    _, record = run_task({"mode": "ok"})
    caller = tracing.parse_header(CALLER)
    assert record.trace_parent == f"{caller.root}/{caller.parent}"  # 52 bytes in the record
    assert len(record.trace_parent) == 52
    segments, subs = split(sent)
    assert {d["trace_id"] for d in sent} == {caller.root}
    assert segments[0]["parent_id"] == caller.parent
    assert [s["name"] for s in subs] == ["queue", "run"]
    header = tracing.parse_header(
        tracing.message_header(record.task_id, record.created_at, record.trace_parent)
    )
    assert (header.root, header.parent) == (caller.root, segments[0]["id"])


def test_an_unsampled_or_malformed_caller_is_not_kept(monkeypatch):
    monkeypatch.setenv(tracing.AMBIENT_ENV, CALLER.replace("Sampled=1", "Sampled=0"))
    assert tracing.caller_of() is None
    monkeypatch.setenv(tracing.AMBIENT_ENV, "Root=nonsense")
    assert tracing.caller_of() is None
    own = tracing.task_trace("t1", 1_700_000_000_000, "1-bad/123")
    assert own.root == tracing.task_root("t1", 1_700_000_000_000) and own.parent is None


def test_the_trace_id_is_derived_from_the_task_id_and_creation_time():
    root = tracing.task_root("abc", 1_700_000_000_123)
    assert root == tracing.task_root("abc", 1_700_000_000_999)
    assert root != tracing.task_root("abd", 1_700_000_000_123)
    assert root.startswith(f"1-{1_700_000_000:08x}-") and len(root) == 35
    assert tracing.parse_header(f"Root={root}") is not None  # a valid X-Ray trace ID


def test_the_daemon_emitter_sends_the_xray_udp_protocol():
    sink = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sink.bind(("127.0.0.1", 0))
    sink.settimeout(5)
    try:
        port = sink.getsockname()[1]
        env = {xray.DAEMON_ENV: f"127.0.0.1:{port}"}
        xray.use(None)
        try:
            chosen = xray.emitter(env)
            assert isinstance(chosen, xray.DaemonEmitter)
            chosen.send({"name": "conveyor work", "id": "0123456789abcdef"})
        finally:
            xray.use(None)
        header, body = sink.recv(65536).decode().split("\n", 1)
        assert json.loads(header) == {"format": "json", "version": 1}
        assert json.loads(body) == {"name": "conveyor work", "id": "0123456789abcdef"}
    finally:
        sink.close()
    xray.use(None)
    assert xray.emitter({**env, xray.DISABLED_ENV: "true"}) is None
    xray.use(None)
    assert xray.emitter({}) is None
    xray.use(None)

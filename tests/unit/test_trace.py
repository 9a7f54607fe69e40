"""One trace per task: submit -> dispatcher -> executor, on the in-memory twins.

The dev cloud's path (LocalExecutor) and the Lambda-shaped path (LambdaExecutor invoking
the real Lambda handler through a stand-in client) both record the task's spans; the
header the dispatcher hands the Lambda is asserted, and so is a caller's own trace.
"""

from __future__ import annotations

import io
import json

import pytest

from conveyor import tracing
from conveyor.envelope import parse
from conveyor.runtime.bootstrap import memory_runtime
from conveyor.runtime.executors import LambdaExecutor
from conveyor.runtime.lambda_entry import make_handler
from conveyor.topology import Topology
from tests.support import ledger


@pytest.fixture
def spans(tmp_path, monkeypatch):
    monkeypatch.setenv("LEDGER_DIR", str(tmp_path))
    monkeypatch.delenv(tracing.AMBIENT_ENV, raising=False)
    recorder = tracing.MemorySpans()
    tracing.use(recorder)
    yield recorder
    tracing.use(None)


def runtime():
    rt = memory_runtime(ledger.catalog, Topology(prefix="trc"))
    for q in [*rt.topology.lanes, rt.topology.dlq]:
        rt.lanes.queues.setdefault(q, [])
    return rt


def chain(spans_of_task):
    by_name = {s.name: s for s in spans_of_task}
    assert len({s.trace for s in spans_of_task}) == 1  # one trace
    return by_name


def test_one_trace_from_submit_through_the_dispatcher_to_the_executor(spans):
    rt = runtime()
    task_id = rt.client().submit("work", {"mode": "flaky", "ok_at": 2}).task_id
    body = rt.lanes.receive(rt.store.get(task_id).lane, visibility=0)[0].body
    sent = tracing.parse_header(parse(body).trace)
    assert sent is not None and sent.parent is not None
    rt.dispatcher(pause_refresh=0).drain(idle_passes=3, timeout=30)
    got = spans.of_task(task_id)
    assert [s.name for s in got][:1] == ["admission"]
    names = [s.name for s in got]
    assert names.count("run") == 2 and names.count("invoke") == 2  # a retry, same trace
    assert {"queue", "retry"} <= set(names)
    by = chain(got)
    admission = by["admission"]
    assert admission.trace == sent.root and admission.span == sent.parent
    assert admission.parent is None  # a new root: the caller had no trace
    assert {s.parent for s in got if s.name in ("queue", "retry")} == {admission.span}
    invokes = [s for s in got if s.name == "invoke"]
    assert all(s.parent == admission.span for s in invokes)
    runs = [s for s in got if s.name == "run"]
    assert [r.parent for r in runs] == [i.span for i in invokes]  # each under its invoke
    assert [r.attrs["outcome"] for r in runs] == ["retryable", "ok"]
    assert all(r.start_ms <= r.end_ms for r in runs)


class _LambdaStandIn:
    """A Lambda client whose Invoke runs the real handler in this process."""

    class exceptions:  # noqa: N801 - botocore's shape
        class TooManyRequestsException(Exception):
            pass

    def __init__(self, handler):
        self.handler = handler
        self.events = []

    def invoke(self, FunctionName, InvocationType, Payload):  # noqa: N803
        event = json.loads(Payload)
        self.events.append(event)
        response = self.handler(event, _Context())
        return {"Payload": io.BytesIO(json.dumps(response).encode())}


class _Context:
    function_name = "trc-work"
    memory_limit_in_mb = 512
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:trc-work"
    aws_request_id = "req-1"


def test_the_dispatcher_hands_the_trace_header_to_the_lambda(spans, monkeypatch):
    monkeypatch.setenv("POWERTOOLS_METRICS_NAMESPACE", "Conveyor")
    rt = runtime()
    stand_in = _LambdaStandIn(make_handler(rt.runner(enforce_timeout=False), rt))
    executor = LambdaExecutor(stand_in, "trc")
    task_id = rt.client().submit("work", {"mode": "ok"}).task_id
    rt.dispatcher(executor, pause_refresh=0).drain(idle_passes=3, timeout=30)
    assert rt.store.get(task_id).state.value == "SUCCEEDED"
    (event,) = stand_in.events
    header = tracing.parse_header(event["trace"])
    by = chain(spans.of_task(task_id))
    assert header.root == by["admission"].trace
    assert header.parent == by["invoke"].span  # re-parented by the dispatcher's executor
    assert by["run"].parent == header.parent  # the run under the invoke
    assert by["queue"].parent == by["admission"].span  # the wait under the admission


def test_a_submit_under_a_callers_trace_joins_it(spans, monkeypatch):
    caller = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"
    monkeypatch.setenv(tracing.AMBIENT_ENV, caller)
    rt = runtime()
    task_id = rt.client().submit("work", {"mode": "ok"}).task_id
    (admission,) = spans.of_task(task_id)
    assert (admission.trace, admission.parent) == (
        "1-5759e988-bd862e3fe1be46a994272793",
        "53995c3f42cd8ad8",
    )


@pytest.mark.parametrize(
    "text",
    [None, "", "Root=2-1-2", "Parent=abc", "Root=1-5759e988-short;Sampled=1", "x" * 300],
)
def test_a_bad_header_is_no_trace(text):
    assert tracing.parse_header(text) is None


def test_file_spans_are_shared_through_one_file(tmp_path):
    path = tmp_path / "spans.jsonl"
    writer, reader = tracing.FileSpans(path), tracing.FileSpans(path)
    writer.record(tracing.Span("1-00000001-" + "a" * 24, "s1", None, "run", "t1", 5, 9, {"n": 1}))
    writer.record(tracing.Span("1-00000001-" + "b" * 24, "s2", None, "run", "t2", 1, 2))
    path.open("a").write("not json t1\n")
    (span,) = reader.of_task("t1")
    assert (span.span, span.duration_ms, span.attrs) == ("s1", 4, {"n": 1})


def test_the_invoke_request_carries_the_trace_header_for_xray(spans):
    import boto3
    from botocore.awsrequest import AWSResponse

    class Raw(io.BytesIO):
        def stream(self, amt=1024, decode_content=None):
            while chunk := self.read(amt):
                yield chunk

    sent = []
    outcome = json.dumps({"action": "ack", "task_id": "t", "kind": "ok"}).encode()

    def answer(request, **_):
        sent.append(request.headers.get("X-Amzn-Trace-Id"))
        headers = {"Content-Length": str(len(outcome))}
        return AWSResponse(request.url, 200, headers, Raw(outcome))

    client = boto3.client("lambda", region_name="us-east-1")
    client.meta.events.register("before-send.lambda.Invoke", answer)
    rt = runtime()
    task_id = rt.client().submit("work", {"mode": "ok"}).task_id
    message = rt.lanes.receive(rt.store.get(task_id).lane, visibility=0)[0]
    executor = LambdaExecutor(client, "trc")
    try:
        result = executor.submit(ledger.catalog.get("work"), message.body, parse(message.body))
        assert result.result(timeout=10).kind == "ok"
    finally:
        executor.shutdown()
    text = sent[0].decode() if isinstance(sent[0], bytes) else sent[0]
    assert "Origin" not in text  # X-Ray gets only its own fields
    header = tracing.parse_header(text)
    (invoke,) = [s for s in spans.of_task(task_id) if s.name == "invoke"]
    assert (header.root, header.parent) == (invoke.trace, invoke.span)


def test_a_span_file_is_trimmed_to_its_newest_half(tmp_path, monkeypatch):
    monkeypatch.setattr(tracing, "MAX_SPANS", 40)
    spans = tracing.FileSpans(tmp_path / "spans.jsonl")
    spans.TRIM_EVERY = 10
    root = "1-00000001-" + "a" * 24
    for n in range(50):
        spans.record(tracing.Span(root, f"s{n}", None, "run", "t", n, n + 1))
    kept = [s.span for s in spans.of_task("t")]
    assert kept == [f"s{n}" for n in range(30, 50)]  # trimmed to 20 at 50 records


def test_a_trigger_created_task_starts_its_own_derived_trace(spans):
    import json as _json

    from conveyor.ports import OutMessage

    rt = runtime()
    first = rt.client().submit("work", {"mode": "ok"}).task_id
    lane = rt.store.get(first).lane
    fire = {"v": 1, "fire": "nightly", "type": "work", "payload": {"mode": "ok"}}
    fire["at"] = "2026-12-03T06:00:00Z"
    rt.lanes.send(lane, [OutMessage(body=_json.dumps(fire), group="default", id="f1")])
    rt.dispatcher(pause_refresh=0).drain(idle_passes=3, timeout=30)
    (made,) = [r for r in rt.store.list(task_type="work").records if r.task_id != first]
    assert made.state.value == "SUCCEEDED"
    got = spans.of_task(made.task_id)
    by = chain(got)
    assert {"admission", "queue", "run"} <= set(by)
    assert by["admission"].trace == tracing.task_root(made.task_id, made.created_at)
    assert by["admission"].span == tracing.admission_span(made.task_id)
    assert by["queue"].parent == by["admission"].span

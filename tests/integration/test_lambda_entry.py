"""The Lambda handler as Lambda calls it: a dispatcher Invoke, and an SQS batch."""

from __future__ import annotations

import json
from dataclasses import dataclass

from conveyor.local.provision import provision
from conveyor.runtime.bootstrap import memory_runtime
from conveyor.runtime.lambda_entry import make_handler
from tests.support import ledger


@dataclass
class Context:
    function_name: str = "conveyor-work"
    memory_limit_in_mb: int = 512
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:conveyor-work"
    aws_request_id: str = "req-1"


def setup(tmp_path, monkeypatch):
    monkeypatch.setenv("LEDGER_DIR", str(tmp_path))
    monkeypatch.setenv("POWERTOOLS_METRICS_NAMESPACE", "Conveyor")
    rt = memory_runtime(ledger.catalog)
    runner = rt.runner(enforce_timeout=False)
    return rt, make_handler(runner, rt)


def body_of(rt, task_id):
    record = rt.store.get(task_id)
    return next(m.body for m in rt.lanes.receive(record.lane, visibility=0) if task_id in m.body)


def test_dispatcher_invoke_returns_the_outcome(tmp_path, monkeypatch, capsys):
    rt, handler = setup(tmp_path, monkeypatch)
    task_id = rt.client().submit("work", {"mode": "ok"}).task_id
    response = handler({"conveyor": body_of(rt, task_id)}, Context())
    assert (response["action"], response["kind"], response["state"]) == ("ack", "ok", "SUCCEEDED")
    assert ledger.effects()[task_id] == 1
    emf = [
        json.loads(line)
        for line in capsys.readouterr().out.splitlines()
        if line.startswith("{") and "_aws" in line
    ]
    assert any("outcome_ok" in doc for doc in emf)  # metrics flushed as EMF, no API call


def test_sqs_batch_reports_partial_failures(tmp_path, monkeypatch):
    rt, handler = setup(tmp_path, monkeypatch)
    client = rt.client()
    ok = client.submit("work", {"mode": "ok"}).task_id
    flaky = client.submit("work", {"mode": "flaky", "ok_at": 2}).task_id
    fatal = client.submit("work", {"mode": "fatal"}).task_id
    records = [sqs_record(body_of(rt, t), f"m{i}") for i, t in enumerate([ok, flaky, fatal])]
    records.append({**records[0], "messageId": "m3", "body": "garbage"})
    response = handler({"Records": records}, Context())
    assert response == {"batchItemFailures": [{"itemIdentifier": "m1"}]}  # the retry only
    dead = rt.lanes.receive(rt.topology.dlq, max_messages=10)
    reasons = sorted(json.loads(m.body)["reason"] for m in dead)
    assert reasons[0] == "cannot ever work"
    assert reasons[1].startswith("malformed message")


def test_handler_built_from_the_environment_runs_a_task(aws, topology, tmp_path, monkeypatch):
    """No injection: the handler wires itself from the environment, as in Lambda."""
    from conveyor.runtime.bootstrap import aws_runtime

    provision(aws, topology, ledger.catalog)
    monkeypatch.setenv("LEDGER_DIR", str(tmp_path))
    monkeypatch.setenv("CONVEYOR_CATALOG", "tests.support.ledger")
    for key, value in topology.env().items():
        monkeypatch.setenv(key, value)
    rt = aws_runtime(ledger.catalog, topology, aws)
    task_id = rt.client().submit("work", {"mode": "ok"}).task_id
    handler = make_handler()
    response = handler({"conveyor": body_of(rt, task_id)}, Context())
    assert (response["action"], response["state"]) == ("ack", "SUCCEEDED")
    assert ledger.effects()[task_id] == 1


def sqs_record(body: str, message_id: str) -> dict:
    return {
        "messageId": message_id,
        "receiptHandle": "r",
        "body": body,
        "attributes": {"ApproximateReceiveCount": "1"},
        "messageAttributes": {},
        "md5OfBody": "",
        "eventSource": "aws:sqs",
        "awsRegion": "us-east-1",
        "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:q",
    }


def test_a_dead_letter_sqs_did_not_accept_keeps_the_record_and_comes_back(tmp_path, monkeypatch):
    """SendMessageBatch answers with the entry failed: the record is reported failed (it
    comes back), and its redelivery, finding the task FAILED, dead-letters it again."""
    rt, handler = setup(tmp_path, monkeypatch)
    fatal = rt.client().submit("work", {"mode": "fatal"}).task_id
    ok = rt.client().submit("work", {"mode": "ok"}).task_id
    body, ok_body = body_of(rt, fatal), body_of(rt, ok)
    real_send = rt.lanes.send
    rt.lanes.send = lambda queue, messages: [m.id for m in messages]
    try:  # (a batch whose every record fails is retried whole by Powertools' design)
        batch = [sqs_record(body, "m0"), sqs_record(ok_body, "ok")]
        response = handler({"Records": batch}, Context())
    finally:
        rt.lanes.send = real_send
    assert response == {"batchItemFailures": [{"itemIdentifier": "m0"}]}
    assert rt.store.get(fatal).state.value == "FAILED"
    assert handler({"Records": [sqs_record(body, "m1")]}, Context()) == {"batchItemFailures": []}
    (letter,) = rt.lanes.receive(rt.topology.dlq, max_messages=10)
    assert json.loads(letter.body)["reason"] == "cannot ever work"
    assert ledger.effects()[fatal] == 0

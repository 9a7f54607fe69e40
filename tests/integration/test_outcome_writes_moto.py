"""The runner's outcome writes against DynamoDB (moto, in-process) when a reply is lost.

Two botocore hooks, as AWS faults look to the SDK (see FACTS.md):

* ``needs-retry`` answering "retry" after a *successful* response: botocore sends the
  same request again, inside its own retry loop -- the write was performed, its reply
  lost, and the retried conditional write is refused (ConditionalCheckFailed with the
  item, ``ReturnValuesOnConditionCheckFailure=ALL_OLD``);
* ``after-call`` raising a connection error: performed, and the error reaches the
  caller (botocore's retries spent).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ConnectionClosedError

from conveyor.local.provision import provision
from conveyor.memory import MemoryEvents
from conveyor.model import TaskState
from conveyor.runtime.bootstrap import aws_runtime
from tests.support import ledger


class ReplyLost:
    """Loses the reply of the next ``times`` UpdateItem calls whose body holds ``marker``."""

    def __init__(self, marker: str, times: int = 1) -> None:
        self.marker = marker.encode()
        self.times = times
        self.hits = 0

    def _matches(self, request_dict: dict[str, Any]) -> bool:
        body = request_dict.get("body", b"")
        body = body.encode() if isinstance(body, str) else body
        if self.times <= 0 or self.marker not in body:
            return False
        self.times -= 1
        self.hits += 1
        return True

    def resend(self, response: Any, request_dict: dict[str, Any], **_: Any) -> int | None:
        """needs-retry: retry a request that succeeded (0 s wait)."""
        if response is None or response[0].status_code != 200:
            return None
        return 0 if self._matches(request_dict) else None

    def before_call(self, params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        """before-call: keep the serialized request for ``after_call`` to look at."""
        context["fault_request"] = params

    def after_call(self, http_response: Any, context: dict[str, Any], **_: Any) -> None:
        """after-call: the call succeeded; raise as if its reply never arrived."""
        if http_response.status_code == 200 and self._matches(context["fault_request"]):
            raise ConnectionClosedError(endpoint_url="https://dynamodb")


@pytest.fixture
def rt(aws, topology, tmp_path, monkeypatch):
    monkeypatch.setenv("LEDGER_DIR", str(tmp_path))
    provision(aws, topology, ledger.catalog)
    runtime = aws_runtime(ledger.catalog, topology, aws)
    runtime.events = MemoryEvents()
    return runtime


@pytest.fixture
def hooks(aws) -> Iterator[Any]:
    """Register hooks on the session's DynamoDB client; always unregistered after."""
    registered: list[tuple[str, Any]] = []

    def add(event: str, handler: Any) -> None:
        aws.dynamodb.meta.events.register_first(event, handler)
        registered.append((event, handler))

    yield add
    for event, handler in registered:
        aws.dynamodb.meta.events.unregister(event, handler)


def start_one(rt, mode: str) -> tuple[str, str]:
    client = rt.client()
    task_id = client.submit("work", {"mode": mode}).task_id
    lane = client.get(task_id).lane
    body = next(m.body for m in rt.lanes.receive(lane, max_messages=10) if task_id in m.body)
    return task_id, body


def runner(rt):
    return rt.runner(enforce_timeout=False, sleep=lambda _s: None, write_budget=2.0)


@pytest.mark.parametrize("state", ["SUCCEEDED", "FAILED"])
def test_an_outcome_write_resent_by_botocore_after_a_lost_reply_counts_as_done(rt, hooks, state):
    """Without reading the refusal's record, the runner took the refused resend for
    "superseded": it acked, published no event, and a FAILED task got no dead letter."""
    lost = ReplyLost(f'"{state}"')
    hooks("needs-retry.dynamodb.UpdateItem", lost.resend)
    task_id, body = start_one(rt, "ok" if state == "SUCCEEDED" else "fatal")
    outcome = runner(rt).run_body(body)
    assert lost.hits == 1
    assert outcome.state == state
    assert rt.store.get(task_id).state is TaskState(state)
    if state == "SUCCEEDED":
        assert (outcome.action, outcome.kind) == ("ack", "ok")
        assert [d["id"] for d in rt.events.of_type("Task Succeeded")] == [task_id]
        assert ledger.effects()[task_id] == 1
    else:
        assert (outcome.action, outcome.kind) == ("dlq", "fatal")
        assert outcome.reason == "cannot ever work"


def test_a_start_resent_after_a_lost_reply_is_still_ours(rt, hooks):
    """The resent start is refused (a live lease); the record's owner is ours, so the
    attempt runs now instead of waiting out its own lease."""
    lost = ReplyLost('"RUNNING"')
    hooks("needs-retry.dynamodb.UpdateItem", lost.resend)
    task_id, body = start_one(rt, "ok")
    outcome = runner(rt).run_body(body)
    assert lost.hits == 1
    assert (outcome.action, outcome.state) == ("ack", "SUCCEEDED")
    record = rt.store.get(task_id)
    assert (record.attempts, record.starts) == (1, 1)
    assert ledger.effects()[task_id] == 1


def test_an_error_after_the_write_was_applied_is_retried_and_recognised(rt, hooks):
    """The error reaches the runner after the write was made: it tries again, is refused
    with the record, sees its own write, and acks once -- the handler does not re-run."""
    lost = ReplyLost('"SUCCEEDED"')
    hooks("before-call.dynamodb.UpdateItem", lost.before_call)
    hooks("after-call.dynamodb.UpdateItem", lost.after_call)
    task_id, body = start_one(rt, "ok")
    outcome = runner(rt).run_body(body)
    assert lost.hits == 1
    assert (outcome.action, outcome.kind, outcome.state) == ("ack", "ok", "SUCCEEDED")
    assert len(rt.events.of_type("Task Succeeded")) == 1
    assert ledger.effects()[task_id] == 1


def test_a_write_that_keeps_failing_releases_the_message_and_is_made_later_without_a_rerun(
    rt, hooks
):
    """before-call raising: the UpdateItem never reaches DynamoDB (as after botocore's
    retries are spent). The runner backs off within its budget, then answers hold /
    unsettled; when the message comes back, only the write is made."""
    down = {"on": True}

    def refuse_success(params: dict[str, Any], **_: Any) -> None:
        if down["on"] and '"SUCCEEDED"' in str(params.get("body", "")):
            raise ConnectionClosedError(endpoint_url="https://dynamodb")

    hooks("before-call.dynamodb.UpdateItem", refuse_success)
    task_id, body = start_one(rt, "ok")
    run = runner(rt)
    first = run.run_body(body)
    assert (first.action, first.kind) == ("hold", "unsettled")
    assert rt.store.get(task_id).state is TaskState.RUNNING
    down["on"] = False
    second = run.run_body(body)
    assert (second.action, second.kind, second.state) == ("ack", "ok", "SUCCEEDED")
    assert ledger.effects()[task_id] == 1

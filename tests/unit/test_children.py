"""Handlers that submit follow-up tasks (``ctx.submit``, types declared ``submits=True``)."""

from __future__ import annotations

import random
from collections import Counter

import pytest

from conveyor import Catalog, CatalogError, Conveyor, RetryLater
from conveyor.envelope import parse
from conveyor.model import TaskState
from conveyor.ports import FakeClock
from conveyor.runtime.runner import TaskRunner

RUNS: Counter[str] = Counter()
catalog = Catalog("children-test")


@catalog.task(submits=True)
def crawl(payload, ctx):
    RUNS[ctx.task_id] += 1
    children = [ctx.submit("page", {"url": url}) for url in payload["urls"]]
    children.append(ctx.submit("page", {"url": "index"}, key="index", priority="high"))
    if ctx.attempt < payload.get("ok_at", 1):
        raise RetryLater("the listing was incomplete", delay=1)
    return children


@catalog.task
def page(payload, ctx):
    RUNS[ctx.task_id] += 1
    return payload["url"]


@catalog.task
def sneaky(payload, ctx):
    ctx.submit("page", {"url": "x"})


@pytest.fixture
def platform():
    RUNS.clear()
    clock = FakeClock()
    client = Conveyor.in_memory(catalog, clock=clock)
    runner = TaskRunner(
        catalog,
        client.store,
        client.payloads,
        clock=clock,
        rng=random.Random(1),
        enforce_timeout=False,
        children=lambda: client,
    )
    return client, runner, clock


def run_all(client, runner, clock, rounds=5):
    """Deliver every visible message of every lane, `rounds` times, advancing the clock."""
    for _ in range(rounds):
        for lane in client.topology.lanes:
            for message in client.lanes.receive(lane, max_messages=10):
                outcome = runner.run_body(message.body)
                if outcome.action == "ack":
                    client.lanes.delete(lane, [message.receipt])
                elif outcome.action == "retry":
                    client.lanes.change_visibility(lane, message.receipt, int(outcome.delay))
        clock.advance(2)


def test_children_run_for_the_parents_tenant_with_ids_derived_from_the_parent(platform):
    client, runner, clock = platform
    client.submit("crawl", {"urls": ["a", "b"]}, task_id="job1", tenant="acme")
    run_all(client, runner, clock)
    parent = client.get("job1")
    assert parent.state is TaskState.SUCCEEDED
    assert client.result("job1") == ["job1.1", "job1.2", "job1.index"]
    for child_id, url in (("job1.1", "a"), ("job1.2", "b"), ("job1.index", "index")):
        child = client.get(child_id)
        assert (child.state, child.tenant, client.result(child_id)) == (
            TaskState.SUCCEEDED,
            "acme",
            url,
        )
    assert client.get("job1.index").priority == "high"


def test_a_parent_that_runs_again_creates_each_child_once(platform):
    client, runner, clock = platform
    client.submit("crawl", {"urls": ["a"], "ok_at": 3}, task_id="job2")
    run_all(client, runner, clock, rounds=8)
    assert client.get("job2").state is TaskState.SUCCEEDED
    assert RUNS["job2"] == 3  # two retries, each submitting the same children again
    assert RUNS["job2.1"] == 1 and RUNS["job2.index"] == 1
    children = [r.task_id for r in client.list(task_type="page").records]
    assert sorted(children) == ["job2.1", "job2.index"]


def test_a_type_not_declared_submits_fails_fatally_and_submits_nothing(platform):
    client, runner, clock = platform
    client.submit("sneaky", {}, task_id="s1")
    run_all(client, runner, clock)
    record = client.get("s1")
    assert record.state is TaskState.FAILED
    assert record.error is not None and record.error.type == "SubmitNotDeclared"
    assert record.attempts == 1
    assert client.list(task_type="page").records == []


def test_a_runner_without_a_client_cannot_submit_either():
    clock = FakeClock()
    client = Conveyor.in_memory(catalog, clock=clock)
    runner = TaskRunner(catalog, client.store, client.payloads, clock=clock)
    client.submit("crawl", {"urls": []}, task_id="job3")
    message = client.lanes.receive(client.get("job3").lane, max_messages=1)[0]
    assert parse(message.body).task_id == "job3"
    assert runner.run_body(message.body).kind == "fatal"


@pytest.mark.parametrize("value", ["yes", 1, None])
def test_submits_must_be_a_bool(value):
    with pytest.raises(CatalogError, match="'submits'"):
        Catalog("bad").task(name="bad", submits=value)(lambda payload, ctx: None)

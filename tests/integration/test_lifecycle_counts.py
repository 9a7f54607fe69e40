"""Deterministic request counts for a task's whole life, per cost mode: submit_many, the
dispatcher's receive/ingest/dispatch/collect/flush, the real Lambda entry behind an
Invoke, EventBridge. Every process's requests are counted; the counts are exact."""

from __future__ import annotations

import time

import pytest

from bench.catalog import catalog as bench_catalog
from bench.invoke import InProcessLambda
from conveyor import SubmitRequest
from conveyor.aws import AwsClients
from conveyor.aws.accounting import RequestCounter
from conveyor.cost import per_million
from conveyor.local.provision import provision
from conveyor.runtime.bootstrap import aws_runtime
from conveyor.runtime.executors import LambdaExecutor
from conveyor.runtime.lambda_entry import make_handler

N = 20
PAYLOAD = {"email": "a@example.com"}


def run_lifecycle(aws, topology, task_type: str) -> tuple[dict, dict]:
    provision(aws, topology, bench_catalog)
    counter = RequestCounter({topology.table: [("type", "id")]})

    def process():
        return aws_runtime(bench_catalog, topology, AwsClients(region="us-east-1", counter=counter))

    sdk, service, entry = process(), process(), process()
    lane = topology.lanes_of("high")[0]
    sdk.lanes.url(lane)
    service.lanes.url(lane)
    lam = InProcessLambda(make_handler(entry.runner(), entry), counter)
    dispatcher = service.dispatcher(
        LambdaExecutor(lam, topology.prefix), runner=service.runner(), pause_refresh=3600
    )
    counter.reset()
    sdk.client().submit_many([SubmitRequest(task_type, PAYLOAD) for _ in range(N)])

    def one_pass():
        dispatcher.dispatch()
        for item in dispatcher.running:
            item.future.result(timeout=30)
        dispatcher.collect()
        dispatcher.flush()

    while messages := service.lanes.receive(lane, max_messages=10):
        dispatcher.ingest(lane, messages)
        one_pass()
    for _ in range(500):  # what a window held back in the buffer: no request to start it
        if not any(dispatcher.buffers.values()):
            break
        time.sleep(0.01)
        one_pass()
    assert dispatcher.stats.kinds["ok"] == N
    return counter.snapshot()


BASE = {
    ("dynamodb", "PutItem"): N,  # submit: one conditional put each
    ("sqs", "SendMessageBatch"): 2,  # submit_many: batches of 10
    ("sqs", "ReceiveMessage"): 3,  # two full batches, then the empty one that ends it
    ("dynamodb", "GetItem"): 1,  # the dispatcher's pause set (refreshed every 2 s)
    ("lambda", "Invoke"): N,
    ("dynamodb", "UpdateItem"): 2 * N,  # RUNNING, then SUCCEEDED
    ("sqs", "DeleteMessageBatch"): 2,  # acks in batches of 10
}


@pytest.mark.parametrize(
    ("task_type", "extra_requests", "extra_units"),
    [
        ("welcome_quiet", {}, {}),
        ("welcome_events", {("events", "PutEvents"): N}, {"events": N}),
        ("welcome_unindexed", {}, {"ddb_wru": 3 * N}),
    ],
    ids=["events-off", "events-on", "unindexed"],
)
def test_a_tasks_life_costs_exactly(aws, topology, task_type, extra_requests, extra_units):
    requests, units = run_lifecycle(aws, topology, task_type)
    assert requests == {**BASE, **extra_requests}
    # 4 WRU per task (3 writes of an item < 1 KB + its by_type index entry; 3 unindexed),
    # 0.5 RRU for the pause read (eventually consistent), 7 SQS requests in all, one Invoke
    # per task, one event per task if on.
    assert units == {
        "ddb_wru": 4 * N,
        "ddb_rru": 0.5,
        "sqs_requests": 7,
        "lambda_requests": N,
        **extra_units,
    }
    events, wru = extra_units.get("events", 0), extra_units.get("ddb_wru", 4 * N)
    expected = (wru * 0.625 + 0.5 * 0.125 + 7 * 0.40 + N * 0.20 + events * 1.00) / N
    assert per_million(units, N) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("task_type", "wru"),
    [("welcome_lean", 3 * N), ("welcome_lean_unindexed", 2 * N)],
    ids=["lean", "lean-unindexed"],
)
def test_a_lean_tasks_life_costs_exactly(aws, topology, task_type, wru):
    requests, units = run_lifecycle(aws, topology, task_type)
    # No RUNNING write: one UpdateItem (the outcome) and one consistent GetItem per task.
    assert requests == {
        **BASE,
        ("dynamodb", "UpdateItem"): N,
        ("dynamodb", "GetItem"): 1 + N,
    }
    # 3 WRU per task (create + its index entry + the outcome; 2 unindexed), 1 RRU per
    # task's read plus 0.5 for the pause read, the same 7 SQS requests and one Invoke per task.
    assert units == {
        "ddb_wru": wru,
        "ddb_rru": 0.5 + N,
        "sqs_requests": 7,
        "lambda_requests": N,
    }
    expected = (wru * 0.625 + (0.5 + N) * 0.125 + 7 * 0.40 + N * 0.20) / N
    assert per_million(units, N) == pytest.approx(expected)
    if task_type == "welcome_lean_unindexed":  # the target for lean mode
        assert per_million(units, N) < 1.75

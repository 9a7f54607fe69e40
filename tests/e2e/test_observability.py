"""On the running dev cloud: one trace per task across processes (the SDK and dispatcher
here, a worker process for the Fargate type), the attempt history, and the cost ledger
written by every counting process."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conveyor import TaskState, tracing
from conveyor.aws.costledger import DynamoCostLedger
from conveyor.local.platform import LocalPlatform
from conveyor.ports import SystemClock, now_ms
from conveyor.tenant_costs import cost_rows
from tests.support.waiting import wait_terminal

pytestmark = pytest.mark.e2e


def test_trace_history_and_cost_of_tasks_on_the_running_platform(cloud, ledger_dir):
    started = now_ms(SystemClock())
    platform = LocalPlatform(
        cloud, dispatcher_options={"pause_refresh": 0.5}, worker_env={"CONVEYOR_WAIT": "1"}
    )
    client = platform.runtime.client()
    with platform:
        short = client.submit("work", {"mode": "flaky", "ok_at": 2}, tenant="acme").task_id
        long = client.submit("long_job", {"chunks": 1, "chunk_seconds": 0.05}, tenant="bolt")
        records = wait_terminal(client, [short, long.task_id])
    assert [r.state for r in records] == [TaskState.SUCCEEDED] * 2
    spans = tracing.FileSpans(cloud.spans_path)
    lambda_spans = [s.name for s in spans.of_task(short)]
    assert lambda_spans.count("run") == 2 and lambda_spans[0] == "admission"
    assert {"queue", "retry", "invoke"} <= set(lambda_spans)
    worker_spans = spans.of_task(long.task_id)  # its run was recorded by a worker process
    assert [s.name for s in worker_spans] == ["admission", "queue", "run"]
    assert len({s.trace for s in worker_spans}) == 1
    assert worker_spans[-1].attrs["executor"] == "fargate"
    assert [h["o"] for h in records[0].history] == ["retryable", "ok"]
    units = DynamoCostLedger(cloud.clients().dynamodb, cloud.topology.table).read(
        started, now_ms(SystemClock())
    )
    by_type = {r.name: r for r in cost_rows(units, "type")}
    assert by_type["work"].dollars > 0 and by_type["long_job"].dollars > 0
    by_tenant = {r.name for r in cost_rows(units, "tenant")}
    assert {"acme", "bolt"} <= by_tenant
    emf = [json.loads(line) for line in Path(cloud.metrics_path).read_text().splitlines()]
    services = {doc["service"] for doc in emf}
    assert {"conveyor-dispatcher", "conveyor-worker"} <= services  # a file, not the terminal
    assert any(d.get("type") == "long_job" and d.get("kind") == "ok" for d in emf)

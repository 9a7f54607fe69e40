"""The Lambda entry's cold path: it imports only what one attempt needs and builds only
the boto3 clients that attempt uses."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

from conveyor.aws import AwsClients
from conveyor.local.provision import provision
from conveyor.runtime.bootstrap import aws_runtime
from conveyor.runtime.lambda_entry import build_runner, make_handler, tracing_enabled
from tests.support import ledger

ROOT = Path(__file__).resolve().parents[2]
NOT_ON_THE_COLD_PATH = {
    "conveyor.client",
    "conveyor.cli",
    "conveyor.admission",
    "conveyor.runtime.dispatcher",
    "conveyor.runtime.bootstrap",
    "conveyor.local",
    "aws_xray_sdk",
    "aws_lambda_powertools.utilities.batch",
    "typer",
    "rich",
    "croniter",
}


def test_importing_the_entry_loads_no_client_cli_dispatcher_or_xray():
    probe = (
        "import sys, json, functions.executor.app\n"
        "print(json.dumps(sorted(m for m in sys.modules)))\n"
    )
    env = {**os.environ, "CONVEYOR_CATALOG": "examples.catalog"}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "sdk"), str(ROOT)])
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, env=env, timeout=60
    )
    assert done.returncode == 0, done.stderr[-2000:]
    loaded = set(json.loads(done.stdout.splitlines()[-1]))
    assert "conveyor.runtime.lambda_entry" in loaded
    assert not {m for m in loaded if m.split(".")[0] in {"typer", "rich", "croniter"}}
    assert not loaded & NOT_ON_THE_COLD_PATH


def test_one_attempt_builds_only_the_clients_it_uses(aws, topology, tmp_path, monkeypatch):
    provision(aws, topology, ledger.catalog)
    monkeypatch.setenv("LEDGER_DIR", str(tmp_path))
    monkeypatch.setenv("CONVEYOR_CATALOG", "tests.support.ledger")
    for key, value in topology.env().items():
        monkeypatch.setenv(key, value)
    submitted = aws_runtime(ledger.catalog, topology, aws).client().submit("work", {"mode": "ok"})
    record = aws_runtime(ledger.catalog, topology, aws).store.get(submitted.task_id)
    assert record is not None
    body = next(
        m["Body"]
        for m in aws.sqs.receive_message(
            QueueUrl=aws.sqs.get_queue_url(QueueName=record.lane)["QueueUrl"],
            MaxNumberOfMessages=10,
        )["Messages"]
        if submitted.task_id in m["Body"]
    )
    clients = AwsClients(region="us-east-1")
    runner, runtime = build_runner(clients)
    assert clients.built() == []  # wiring builds nothing
    context = SimpleNamespace(
        function_name="f", memory_limit_in_mb=512, invoked_function_arn="arn", aws_request_id="r"
    )
    response = make_handler(runner, runtime)({"conveyor": body}, context)
    assert response["state"] == "SUCCEEDED"
    events = ledger.catalog.get("work").events
    assert clients.built() == (["dynamodb", "events"] if events else ["dynamodb"])


def test_tracing_only_inside_lambda_and_not_when_disabled():
    assert not tracing_enabled({})
    assert tracing_enabled({"AWS_LAMBDA_FUNCTION_NAME": "f"})
    assert not tracing_enabled({"AWS_LAMBDA_FUNCTION_NAME": "f", "POWERTOOLS_TRACE_DISABLED": "1"})

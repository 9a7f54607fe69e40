"""The dev cloud as a user meets it: `conveyor dev` in a subprocess, then boto3 against it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import boto3
import pytest

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.e2e


def test_conveyor_dev_provisions_the_catalog_and_stops_cleanly():
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env["PYTHONPATH"] = str(ROOT)
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "conveyor.cli",
            "dev",
            "--catalog",
            "examples.catalog",
            "--prefix",
            "devtest",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
        cwd=ROOT,
    )
    exports: dict[str, str] = {}
    lines = []
    try:
        deadline = time.time() + 60
        while time.time() < deadline and "CONVEYOR_CATALOG" not in exports:
            line = proc.stdout.readline()
            if not line:
                break
            lines.append(line)
            if line.startswith("export "):
                key, _, value = line[len("export ") :].strip().partition("=")
                exports[key] = value
        assert exports.get("AWS_ENDPOINT_URL", "").startswith("http://127.0.0.1:"), lines
        session = boto3.Session(
            aws_access_key_id=exports["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=exports["AWS_SECRET_ACCESS_KEY"],
            region_name=exports["AWS_DEFAULT_REGION"],
        )
        sqs = session.client("sqs", endpoint_url=exports["AWS_ENDPOINT_URL"])
        names = {url.rsplit("/", 1)[1] for url in sqs.list_queues()["QueueUrls"]}
        assert {
            "devtest-lane-high-0",
            "devtest-lane-normal-0",
            "devtest-lane-low-0",
            "devtest-dlq",
            "devtest-work-reindex_catalog",
        } <= names
        ddb = session.client("dynamodb", endpoint_url=exports["AWS_ENDPOINT_URL"])
        assert "devtest-tasks" in ddb.list_tables()["TableNames"]
        assert exports["CONVEYOR_PREFIX"] == "devtest"
    finally:
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=30)
    assert proc.returncode == 0, out
    assert "dev cloud stopped" in out


def test_demo_runs_and_prints_the_state_summary(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "sdk"), str(ROOT)])  # this tree's SDK
    env["POWERTOOLS_LOG_LEVEL"] = "WARNING"
    report = tmp_path / "cost.json"
    done = subprocess.run(
        [sys.executable, "-m", "conveyor.cli", "demo", "--tasks", "300", "--report", str(report)],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Task states" in done.stdout
    assert "325 tasks" in done.stdout  # 300 + a cancelled batch of 20 + 5 that expire
    assert "0 in an unexpected state, 0 missing" in done.stdout
    assert "DLQ: " in done.stdout
    # conveyor cost --by tenant (every process's meter -> the ledger) against an
    # independent count of every request of every process (files, no ledger)
    numbers = json.loads(report.read_text())
    assert "by an independent count of" in done.stdout
    assert numbers["tenants"] == 14  # tenant-00..11, tenant-99 and the default tenant
    assert numbers["processes"] >= 2  # the demo's own and at least one worker
    assert numbers["requests"] > 1000
    assert abs(numbers["ledger_requests"] - numbers["requests"]) <= 0.05 * numbers["requests"]
    assert abs(numbers["ledger_usd"] - numbers["counted_usd"]) <= 0.05 * numbers["counted_usd"]


def test_dev_cloud_conditional_writes_have_one_winner():
    """The dev cloud's moto server serializes DynamoDB requests, as DynamoDB does."""
    from conveyor.local.devcloud import DevCloud, dev_runtime
    from conveyor.topology import Topology
    from examples.catalog import catalog
    from tests.integration.test_contracts import _race_rounds

    with DevCloud(catalog, Topology(prefix="race")) as cloud:
        _race_rounds(dev_runtime(cloud).store)

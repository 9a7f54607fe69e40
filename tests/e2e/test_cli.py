"""The `conveyor` command line against the dev cloud, as a user types it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conveyor.local.devcloud import DevCloud
from conveyor.topology import Topology
from examples.catalog import catalog

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def cli_env():
    with DevCloud(catalog, Topology(prefix="cli"), catalog_module="examples.catalog") as cloud:
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        env.update(cloud.env())
        env.update({"PYTHONPATH": str(ROOT), "COLUMNS": "200", "POWERTOOLS_LOG_LEVEL": "ERROR"})
        yield env


@pytest.fixture(scope="module")
def cli(cli_env):
    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "conveyor.cli", *args],
            env=cli_env,
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=120,
        )

    return run


def test_submit_get_list_cancel(cli):
    done = cli(
        "submit",
        "make_thumbnail",
        "--payload",
        '{"key": "k", "width": 2, "height": 2}',
        "--id",
        "cli-1",
        "--tenant",
        "acme",
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"id": "cli-1", "status": "created", "state": "QUEUED"}
    record = json.loads(cli("get", "cli-1", "--json").stdout)
    assert (record["tenant"], record["state"]) == ("acme", "QUEUED")
    listing = cli("list", "--type", "make_thumbnail", "--tenant", "acme")
    assert "cli-1" in listing.stdout
    assert json.loads(cli("cancel", "cli-1").stdout)["state"] == "CANCELLED"


def test_bad_input_exits_2_with_the_error_name(cli):
    done = cli("submit", "make_thumbnail", "--payload", "{not json")
    assert done.returncode == 2
    assert "ConveyorError" in done.stderr
    done = cli("submit", "no_such_type")
    assert (done.returncode, "UnknownTaskType" in done.stderr) == (2, True)
    done = cli("get", "missing-id")
    assert (done.returncode, "TaskNotFound" in done.stderr) == (2, True)


def test_pause_resume_schedules_and_dlq(cli):
    assert json.loads(cli("pause", "--type", "call_webhook").stdout) == {
        "paused": [["type", "call_webhook"]]
    }
    assert json.loads(cli("resume", "--type", "call_webhook").stdout) == {"paused": []}
    created = cli(
        "schedule",
        "create",
        "nightly_report",
        "rate(5 minutes)",
        "--name",
        "five",
        "--tz",
        "Europe/Paris",
    )
    assert json.loads(created.stdout) == {"created": "five"}, created.stderr
    assert "five" in cli("schedule", "list").stdout
    bad = cli("schedule", "create", "nightly_report", "cron(0 2 * * *)")
    assert (bad.returncode, "InvalidTiming" in bad.stderr) == (2, True)
    assert json.loads(cli("schedule", "delete", "five").stdout) == {"deleted": "five"}
    assert cli("dlq", "list").returncode == 0


def test_the_dispatcher_service_command_runs_tasks_and_stops_on_sigterm(cli, cli_env):
    import signal
    import time

    ok = cli(
        "submit", "send_welcome_email", "--payload", '{"email": "a@example.com"}', "--id", "svc-1"
    )
    bad = cli("submit", "send_welcome_email", "--payload", '{"email": "nobody"}', "--id", "svc-2")
    assert ok.returncode == bad.returncode == 0
    service = subprocess.Popen(
        [sys.executable, "-m", "conveyor.cli", "dispatcher", "--local"],
        env=cli_env,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        done = cli("result", "svc-1", "--timeout", "60")
        assert done.returncode == 0, done.stderr
        assert json.loads(done.stdout)["to"] == "a@example.com"
        failed = cli("result", "svc-2", "--timeout", "60")
        assert (failed.returncode, "TaskFailed" in failed.stderr) == (2, True)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and "svc-2" not in cli("dlq", "list").stdout:
            time.sleep(0.5)
        shown = cli("dlq", "show", "svc-2")
        assert json.loads(shown.stdout)["reason"] == "not an email address: 'nobody'"
    finally:
        service.send_signal(signal.SIGTERM)
        out, _ = service.communicate(timeout=60)
    assert service.returncode == 0, out
    assert "dispatcher stopped" in out


def test_bulk_cancel_by_tag(cli):
    for i in range(3):
        cli("submit", "nightly_report", "--id", f"bulk-{i}", "--payload", "{}")
    done = cli("cancel", "--type", "nightly_report")
    assert json.loads(done.stdout)["cancelled"] >= 3

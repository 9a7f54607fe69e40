"""Fargate-style workers as real processes on the dev cloud: kill -9 and SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conveyor import TaskState
from conveyor.local.devcloud import dev_runtime
from tests.support import ledger

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.e2e


def start_worker(cloud, ledger_dir, **extra) -> subprocess.Popen:
    env = {
        **os.environ,
        **cloud.env(),
        "PYTHONPATH": str(ROOT),
        "LEDGER_DIR": str(ledger_dir),
        "CONVEYOR_TASK_TYPE": "long_job",
        "CONVEYOR_HEARTBEAT": "0.5",
        "CONVEYOR_LEASE": "2",
        "CONVEYOR_WAIT": "1",
        "POWERTOOLS_LOG_LEVEL": "WARNING",
        **extra,
    }
    return subprocess.Popen(
        [sys.executable, "-m", "conveyor.worker"],
        env=env,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def wait_for(predicate, timeout=60.0, every=0.1):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(every)
    raise AssertionError("condition not met in time")


def submit_and_forward(cloud, payload):
    rt = dev_runtime(cloud)
    client = rt.client()
    task_id = client.submit("long_job", payload).task_id
    dispatcher = rt.dispatcher()
    wait_for(lambda: dispatcher.step() or dispatcher.stats.forwarded["long_job"])
    return client, task_id


def test_kill_9_mid_task_completes_exactly_once(cloud, ledger_dir):
    client, task_id = submit_and_forward(cloud, {"chunks": 8, "chunk_seconds": 0.25})
    first = start_worker(cloud, ledger_dir)
    try:
        wait_for(lambda: (ledger_dir / f"started-{task_id}-1").exists())
        time.sleep(0.3)
        os.kill(first.pid, signal.SIGKILL)
        first.wait(10)
        assert ledger.effects()[task_id] == 0
        second = start_worker(cloud, ledger_dir)
        try:
            record = wait_for(lambda: (r := client.get(task_id)).terminal and r, timeout=60)
        finally:
            second.send_signal(signal.SIGTERM)
            second.wait(30)
    finally:
        if first.poll() is None:
            first.kill()
    assert record.state is TaskState.SUCCEEDED
    assert record.attempts == 2  # the killed attempt counted, the retake finished it
    assert ledger.effects()[task_id] == 1
    assert (ledger_dir / f"started-{task_id}-2").exists()


def test_sigterm_releases_a_long_task_and_nothing_is_lost(cloud, ledger_dir):
    client, task_id = submit_and_forward(cloud, {"chunks": 12, "chunk_seconds": 0.25})
    first = start_worker(cloud, ledger_dir, CONVEYOR_STOP_TIMEOUT="0.5")
    wait_for(lambda: (ledger_dir / f"started-{task_id}-1").exists())
    first.send_signal(signal.SIGTERM)
    out, _ = first.communicate(timeout=30)
    assert first.returncode == 0, out
    released = client.get(task_id)
    assert (released.state, released.attempts) == (TaskState.QUEUED, 0)  # attempt given back
    second = start_worker(cloud, ledger_dir)
    try:
        record = wait_for(lambda: (r := client.get(task_id)).terminal and r, timeout=60)
    finally:
        second.send_signal(signal.SIGTERM)
        second.wait(30)
    assert (record.state, record.attempts) == (TaskState.SUCCEEDED, 1)
    assert ledger.effects()[task_id] == 1


def test_sigterm_lets_a_short_task_finish_first(cloud, ledger_dir):
    client, task_id = submit_and_forward(cloud, {"chunks": 4, "chunk_seconds": 0.25})
    worker = start_worker(cloud, ledger_dir, CONVEYOR_STOP_TIMEOUT="30")
    wait_for(lambda: (ledger_dir / f"started-{task_id}-1").exists())
    worker.send_signal(signal.SIGTERM)
    worker.communicate(timeout=60)
    assert worker.returncode == 0
    record = client.get(task_id)
    assert (record.state, record.attempts) == (TaskState.SUCCEEDED, 1)
    assert ledger.effects()[task_id] == 1


def test_cancelling_a_running_task_stops_it_through_its_context(cloud, ledger_dir):
    client, task_id = submit_and_forward(cloud, {"chunks": 60, "chunk_seconds": 0.25})
    worker = start_worker(cloud, ledger_dir)
    try:
        wait_for(lambda: (ledger_dir / f"started-{task_id}-1").exists())
        assert client.cancel(task_id).cancel_requested
        record = wait_for(lambda: (r := client.get(task_id)).terminal and r, timeout=30)
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.wait(30)
    assert record.state is TaskState.CANCELLED
    assert record.run_ms < 15_000  # stopped well before its 15 s of work
    assert ledger.effects()[task_id] == 0

"""The dev cloud's autoscaler follows the same rule as the CDK alarms, on a real backlog
of a real work queue, with real worker processes: 0 -> N -> 0."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from conveyor.local.devcloud import dev_runtime
from conveyor.local.platform import LocalAutoscaler, WorkerPool
from conveyor.policy.scaling import ScalingRule

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.e2e


def test_workers_scale_up_with_the_backlog_and_back_to_zero(cloud, ledger_dir):
    rt = dev_runtime(cloud)
    client = rt.client()
    env = {
        **os.environ,
        **cloud.env(),
        "PYTHONPATH": str(ROOT),
        "LEDGER_DIR": str(ledger_dir),
        "CONVEYOR_TASK_TYPE": "long_job",
        "CONVEYOR_WAIT": "1",
        "CONVEYOR_HEARTBEAT": "1",
        "POWERTOOLS_LOG_LEVEL": "WARNING",
    }
    pool = WorkerPool("long_job", env)
    scaler = LocalAutoscaler(rt, {"long_job": pool}, interval=0.5)
    assert scaler.tick() == {"long_job": 0}
    ids = [
        r.task_id
        for r in client.submit_many(
            [
                {"task_type": "long_job", "payload": {"chunks": 1, "chunk_seconds": 0.2}}
                for _ in range(24)
            ]
        )
    ]
    dispatcher = rt.dispatcher()
    while dispatcher.stats.forwarded["long_job"] < 24:
        dispatcher.step()
    rule = ScalingRule(max_workers=3)
    try:
        first = scaler.tick()["long_job"]
        assert first == rule.desired(24) == 3
        assert len(pool.alive()) == 3
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not all(client.get(i).terminal for i in ids):
            scaler.tick()
            time.sleep(0.5)
        assert all(client.get(i).state.value == "SUCCEEDED" for i in ids)
        assert scaler.tick() == {"long_job": 0}
        deadline = time.monotonic() + 30
        while pool.alive() and time.monotonic() < deadline:
            time.sleep(0.2)
        assert pool.alive() == []
    finally:
        pool.stop()
    counts = [d for _, _, _, d in scaler.history]
    assert counts[0] == 0 and max(counts) == 3 and counts[-1] == 0

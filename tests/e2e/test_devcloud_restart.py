"""A dev cloud that restarted (state lost) or stopped: the SDK and the CLI say so clearly."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from conveyor import Catalog
from conveyor.errors import DevCloudLost, DevCloudUnavailable
from conveyor.local.devcloud import DevCloud, dev_client
from conveyor.topology import Topology
from examples.catalog import catalog

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def restarted():
    """A client of deployment ``lost``, and the dev cloud after a restart on its port."""
    with DevCloud(catalog, Topology(prefix="lost"), catalog_module="examples.catalog") as first:
        client = dev_client(first)
        assert client.submit("send_welcome_email", {"email": "a@b"}, task_id="r-1").created
        port, env = first.port, first.env()
    with DevCloud(Catalog("empty"), Topology(prefix="other"), port=port) as second:
        yield client, second, env


def test_the_sdk_says_the_state_was_lost(restarted):
    client, cloud, _ = restarted
    for call in (
        lambda: client.get("r-1"),
        lambda: client.submit("send_welcome_email", {"email": "a@b"}, task_id="r-2"),
        lambda: client.list(),
    ):
        with pytest.raises(DevCloudLost) as info:
            call()
        assert cloud.endpoint in str(info.value)
        assert "run `conveyor dev` again" in str(info.value)


def test_the_cli_says_the_state_was_lost_in_one_line(restarted):
    _, cloud, env = restarted
    shell = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    shell.update(env)
    shell["PYTHONPATH"] = str(ROOT)
    done = subprocess.run(
        [sys.executable, "-m", "conveyor.cli", "get", "r-1"],
        env=shell,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2, done.stderr
    assert done.stderr.startswith("DevCloudLost: the dev cloud at " + cloud.endpoint)
    assert "Traceback" not in done.stderr


def test_a_missing_schedule_is_still_just_missing(restarted):
    _, cloud, _ = restarted
    scheduler = cloud.clients().scheduler
    group = cloud.topology.schedule_group
    with pytest.raises(scheduler.exceptions.ResourceNotFoundException):
        scheduler.delete_schedule(Name="nope", GroupName=group)


def test_a_stopped_dev_cloud_is_reported_as_unavailable():
    with DevCloud(Catalog("empty"), Topology(prefix="gone")) as cloud:
        client = dev_client(cloud)
    with pytest.raises(DevCloudUnavailable) as info:
        client.get("anything")
    assert cloud.endpoint in str(info.value)

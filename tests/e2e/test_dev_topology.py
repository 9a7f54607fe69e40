"""``conveyor dev --shards N --pool M`` provisions a multi-tenant topology and exports the
settings that make every other process (SDK, ``conveyor dispatcher``) see the same one."""

from __future__ import annotations

import signal
import subprocess
import time

import boto3
import pytest

from conveyor.local.devcloud import DEV_CREDENTIALS
from conveyor.topology import Topology
from tests.e2e.test_cli_shell import ROOT, SCRIPT, user_env

pytestmark = pytest.mark.e2e


def test_conveyor_dev_provisions_shards_and_a_pool_and_exports_them():
    proc = subprocess.Popen(
        [str(SCRIPT), "dev", "--no-run", "--prefix", "mtdev", "--shards", "2", "--pool", "1"],
        cwd=ROOT,
        env=user_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    exports: dict[str, str] = {}
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and "CONVEYOR_HTTP_API" not in exports:
            line = proc.stdout.readline()
            if not line:
                break
            key, _, value = line.removeprefix("export ").strip().partition("=")
            exports[key] = value
        assert "AWS_ENDPOINT_URL" in exports, proc.stderr.read() if proc.poll() else exports
        topology = Topology.from_env(exports)
        assert (topology.shards, topology.pool, topology.multi_tenant) == (2, 1, True)
        sqs = boto3.client(
            "sqs",
            endpoint_url=exports["AWS_ENDPOINT_URL"],
            region_name=DEV_CREDENTIALS["AWS_DEFAULT_REGION"],
            aws_access_key_id=DEV_CREDENTIALS["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=DEV_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        )
        urls = sqs.list_queues(QueueNamePrefix="mtdev-").get("QueueUrls", [])
        names = {url.rsplit("/", 1)[1] for url in urls}
        assert set(topology.lanes) <= names
        assert {"mtdev-pool-0", "mtdev-lane-normal-1"} <= names
        assert not any(name.startswith("mtdev-pool-1") for name in names)
    finally:
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=30)
    assert proc.returncode == 0

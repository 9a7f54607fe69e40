"""Dispatcher services as real processes on the dev cloud (``conveyor dispatcher
--local``), on a compressed clock, for the multi-tenant end-to-end tests.

``FAST`` is the environment that compresses time: lane leases of ``LEASE`` seconds
renewed every ``HEARTBEAT``, the supervisor every ``SUPERVISE``, lanes hiding a received
message for ``VISIBILITY`` seconds (``shorten_lanes`` sets the dev cloud's lanes to it),
and an attempt's lease outliving its type's timeout by 2 s, so what a killed process held
comes back within seconds rather than a minute.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from conveyor.aws.codec import typed
from conveyor.aws.control import LEASE as LEASE_PREFIX

ROOT = Path(__file__).resolve().parents[2]
LEASE = 3.0
HEARTBEAT = 0.5
SUPERVISE = 0.5
VISIBILITY = 5
FAST = {
    "CONVEYOR_LEASE_SECONDS": str(LEASE),
    "CONVEYOR_LEASE_HEARTBEAT": str(HEARTBEAT),
    "CONVEYOR_SUPERVISE_SECONDS": str(SUPERVISE),
    "CONVEYOR_LANE_VISIBILITY": str(VISIBILITY),
    "CONVEYOR_ATTEMPT_MARGIN": "2",
}


def shorten_lanes(sqs: Any, lanes: Iterable[str], seconds: int = VISIBILITY) -> None:
    for lane in lanes:
        url = sqs.get_queue_url(QueueName=lane)["QueueUrl"]
        sqs.set_queue_attributes(QueueUrl=url, Attributes={"VisibilityTimeout": str(seconds)})


def start_dispatcher(
    cloud: Any, member: str, ledger_dir: Path, extra: Mapping[str, str] | None = None
) -> subprocess.Popen[bytes]:
    """``conveyor dispatcher --local`` as ``member``, with the dev cloud's environment."""
    env = {
        **os.environ,
        **cloud.env(),
        **FAST,
        **(extra or {}),
        "CONVEYOR_MEMBER": member,
        "LEDGER_DIR": str(ledger_dir),
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
    }
    log = open(ledger_dir / f"{member}.log", "wb")  # noqa: SIM115 -- the child owns it
    return subprocess.Popen(
        [sys.executable, "-m", "conveyor.cli", "dispatcher", "--local"],
        env=env,
        cwd=ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
    )


def stop_all(procs: Iterable[subprocess.Popen[bytes]]) -> None:
    """Kill every process still running (the tests judge the tables, not a clean exit)."""
    procs = list(procs)
    for proc in procs:
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
    for proc in procs:
        proc.wait(10)


def leases(ddb: Any, table: str, lanes: Iterable[str]) -> dict[str, tuple[str, float]]:
    """The ``ctl#lease#<lane>`` items as they are: lane -> (owner, until epoch s)."""
    keys = [{"id": typed(LEASE_PREFIX + lane)} for lane in lanes]
    found = ddb.batch_get_item(RequestItems={table: {"Keys": keys, "ConsistentRead": True}})
    return {
        item["id"]["S"][len(LEASE_PREFIX) :]: (item["owner"]["S"], float(item["until"]["N"]))
        for item in found["Responses"][table]
    }

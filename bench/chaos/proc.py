"""``python -m bench.chaos.proc``: the dispatcher service for kill -9 scenarios.

The same service as ``conveyor dispatcher --local`` (Lambda types run in this process, so
a kill -9 also kills their handlers), with the chaos scenarios' compressed timings
(``common.LEASE_MARGIN``, ``common.DISPATCHER_OPTIONS``). Environment: the dev cloud's
(``DevCloud.env()``) and ``LEDGER_DIR``. SIGTERM stops it gracefully.
"""

from __future__ import annotations

import os
import signal
import threading

from conveyor.aws import AwsClients
from conveyor.catalog import load_catalog
from conveyor.runtime.bootstrap import aws_runtime
from conveyor.runtime.executors import LocalExecutor
from conveyor.topology import Topology

from .common import DISPATCHER_OPTIONS, EXECUTOR_THREADS, LEASE_MARGIN


def main() -> None:
    catalog = load_catalog(os.environ["CONVEYOR_CATALOG"])
    runtime = aws_runtime(catalog, Topology.from_env(), AwsClients())
    runner = runtime.runner(lease_margin=LEASE_MARGIN)
    service = runtime.dispatcher(
        LocalExecutor(runner, max_workers=EXECUTOR_THREADS), runner=runner, **DISPATCHER_OPTIONS
    )
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    service.run(stop, wait_seconds=1)


if __name__ == "__main__":
    main()

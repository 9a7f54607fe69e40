"""``python -m bench.chaos.proc``: the dispatcher service for kill -9 scenarios.

The same service as ``conveyor dispatcher --local`` (Lambda types run in this process, so
a kill -9 also kills their handlers; with ``CHAOS_EXECUTOR=lambda`` they are invoked
through boto3 as deployed, e.g. on a loopback ``LambdaHost``), with the chaos scenarios'
compressed timings
(``common.LEASE_MARGIN``, ``common.DISPATCHER_OPTIONS``, the reconciler's
``common.RECONCILE_OPTIONS``). Environment: the dev cloud's
(``DevCloud.env()``) and ``LEDGER_DIR``. SIGTERM stops it gracefully.
"""

from __future__ import annotations

import os
import signal
import threading

from conveyor.aws import AwsClients
from conveyor.catalog import load_catalog
from conveyor.runtime.bootstrap import aws_runtime
from conveyor.runtime.executors import Executor, LambdaExecutor, LocalExecutor
from conveyor.topology import Topology

from .common import DISPATCHER_OPTIONS, EXECUTOR_THREADS, LEASE_MARGIN, serve


def main() -> None:
    catalog = load_catalog(os.environ["CONVEYOR_CATALOG"])
    runtime = aws_runtime(catalog, Topology.from_env(), AwsClients())
    runner = runtime.runner(lease_margin=LEASE_MARGIN)
    executor: Executor = LocalExecutor(runner, max_workers=EXECUTOR_THREADS)
    if os.environ.get("CHAOS_EXECUTOR") == "lambda":  # as deployed: Invoke per task
        executor = LambdaExecutor(
            AwsClients(config=LambdaExecutor.CLIENT_CONFIG).lambda_,
            runtime.topology.prefix,
            max_workers=EXECUTOR_THREADS,
        )
    service = runtime.dispatcher(executor, runner=runner, **DISPATCHER_OPTIONS)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    serve(service, stop)


if __name__ == "__main__":
    main()

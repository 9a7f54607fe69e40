"""``python -m conveyor.worker``: the Fargate worker process for one task type.

Environment: CONVEYOR_CATALOG (module path), CONVEYOR_TASK_TYPE, CONVEYOR_PREFIX,
CONVEYOR_SHARDS, CONVEYOR_BUCKET, plus boto3's own (AWS_REGION, AWS_ENDPOINT_URL, ...).
Optional: CONVEYOR_HEARTBEAT (s), CONVEYOR_LEASE (s), CONVEYOR_STOP_TIMEOUT (s),
CONVEYOR_WAIT (long-poll seconds). SIGTERM or SIGINT stops it gracefully.
"""

from __future__ import annotations

import argparse
import os
import signal
import threading


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m conveyor.worker")
    parser.add_argument("--type", default=os.environ.get("CONVEYOR_TASK_TYPE"))
    parser.add_argument("--catalog", default=os.environ.get("CONVEYOR_CATALOG"))
    args = parser.parse_args(argv)
    if not args.type or not args.catalog:
        parser.error("--type and --catalog (or CONVEYOR_TASK_TYPE, CONVEYOR_CATALOG) are needed")

    from .catalog import load_catalog
    from .runtime.bootstrap import aws_runtime
    from .runtime.costmeter import counting
    from .runtime.worker import Worker
    from .topology import Topology

    topology = Topology.from_env()
    clients, meter = counting(topology)
    runtime = aws_runtime(load_catalog(args.catalog), topology, clients)
    worker = Worker(
        runtime,
        args.type,
        heartbeat=float(os.environ.get("CONVEYOR_HEARTBEAT", "30")),
        lease=float(os.environ["CONVEYOR_LEASE"]) if "CONVEYOR_LEASE" in os.environ else None,
        stop_timeout=float(os.environ.get("CONVEYOR_STOP_TIMEOUT", "110")),
        wait_seconds=int(os.environ.get("CONVEYOR_WAIT", "20")),
    )
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    if meter is not None:
        meter.start(stop)  # what each tenant's tasks cost, into the ledger every minute
    worker.run(stop)
    if meter is not None:
        meter.flush()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

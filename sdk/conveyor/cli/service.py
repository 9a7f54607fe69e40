"""``conveyor dispatcher``: the long-running dispatcher service (the Fargate command).

Besides the deployment's variables (``Topology.from_env``, ``CONVEYOR_CATALOG``), the
service reads its timings from the environment: the multi-tenant rhythm
(``tenancy.settings``), and ``CONVEYOR_LANE_VISIBILITY`` (the lanes' visibility timeout
as provisioned, 60 s: long attempts are extended by it and a message buffered for 3/4 of
it is released) and ``CONVEYOR_ATTEMPT_MARGIN`` (seconds an attempt's lease outlives its
type's timeout, 30: how soon a task a crashed dispatcher was running can run again).
"""

from __future__ import annotations

import os
import signal
import threading
from typing import Annotated

import typer

from ..catalog import load_catalog
from ..errors import InvalidOption
from ..topology import Topology
from .common import CatalogOpt, catalog_path, console


def dispatcher(
    catalog: CatalogOpt = None,
    local: Annotated[bool, typer.Option(help="run Lambda types in this process")] = False,
) -> None:
    """Run the dispatcher service until SIGTERM/SIGINT (the Fargate service's command)."""
    from ..aws import AwsClients
    from ..runtime.bootstrap import aws_runtime
    from ..runtime.costmeter import counting
    from ..runtime.executors import LambdaExecutor, LocalExecutor

    topology = Topology.from_env()
    clients, meter = counting(topology)
    runtime = aws_runtime(load_catalog(catalog_path(catalog)), topology, clients)
    runner = runtime.runner(lease_margin=_seconds("CONVEYOR_ATTEMPT_MARGIN", 30.0))
    visibility = int(_seconds("CONVEYOR_LANE_VISIBILITY", 60.0))
    executor = (
        LocalExecutor(runner)
        if local
        else LambdaExecutor(
            AwsClients(
                config=LambdaExecutor.CLIENT_CONFIG, counter=meter.counter if meter else None
            ).lambda_,
            runtime.topology.prefix,
        )
    )
    service = runtime.dispatcher(executor, runner=runner, lane_visibility=visibility)
    stop = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    console.print(f"dispatcher on {len(runtime.topology.lanes)} lanes")
    if meter is not None:
        meter.start(stop)
    service.run(stop)
    if meter is not None:
        meter.flush()
    console.print("dispatcher stopped")


def _seconds(name: str, default: float) -> float:
    raw = os.environ.get(name, "").strip()
    try:
        value = float(raw) if raw else default
    except ValueError:
        value = -1.0
    if not 0 < value < float("inf"):
        raise InvalidOption(f"{name} must be a positive number of seconds, got {raw!r}")
    return value


def register(app: typer.Typer) -> None:
    app.command()(dispatcher)

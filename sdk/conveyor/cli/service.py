"""``conveyor dispatcher``: the long-running dispatcher service (the Fargate command)."""

from __future__ import annotations

import signal
import threading
from typing import Annotated

import typer

from ..catalog import load_catalog
from ..topology import Topology
from .common import CatalogOpt, catalog_path, console


def dispatcher(
    catalog: CatalogOpt = None,
    local: Annotated[bool, typer.Option(help="run Lambda types in this process")] = False,
) -> None:
    """Run the dispatcher service until SIGTERM/SIGINT (the Fargate service's command)."""
    from ..aws import AwsClients
    from ..runtime.bootstrap import aws_runtime
    from ..runtime.executors import LambdaExecutor, LocalExecutor

    runtime = aws_runtime(load_catalog(catalog_path(catalog)), Topology.from_env(), AwsClients())
    runner = runtime.runner()
    executor = (
        LocalExecutor(runner)
        if local
        else LambdaExecutor(
            AwsClients(config=LambdaExecutor.CLIENT_CONFIG).lambda_, runtime.topology.prefix
        )
    )
    service = runtime.dispatcher(executor, runner=runner)
    stop = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    console.print(f"dispatcher on {len(runtime.topology.lanes)} lanes")
    service.run(stop)
    console.print("dispatcher stopped")


def register(app: typer.Typer) -> None:
    app.command()(dispatcher)

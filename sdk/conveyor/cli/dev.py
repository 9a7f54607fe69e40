"""The laptop commands: ``conveyor dev`` (the dev cloud) and ``conveyor demo``."""

from __future__ import annotations

import shlex
import signal
import sys
import threading
from typing import Annotated

import typer
from rich.console import Console
from rich.text import Text

from ..catalog import load_catalog
from ..client import Conveyor
from ..topology import Topology
from .common import CatalogOpt, catalog_path, console, err_console


def export_lines(env: dict[str, str]) -> list[str]:
    """``export KEY=value`` lines, values shell-quoted: safe to ``eval`` as they are."""
    return [f"export {key}={shlex.quote(value)}" for key, value in env.items()]


def dev(
    catalog: CatalogOpt = None,
    port: Annotated[int, typer.Option(help="port on 127.0.0.1; 0 picks a free one")] = 0,
    prefix: Annotated[str, typer.Option(help="resource name prefix")] = "conveyor",
    run: Annotated[
        bool,
        typer.Option(
            help="also run the platform: dispatcher, executors, autoscaled workers, schedule driver"
        ),
    ] = True,
    http_port: Annotated[int, typer.Option(help="HTTP submit API port; 0 picks one")] = 0,
    dashboard_port: Annotated[int, typer.Option(help="web dashboard port; 0 picks one")] = 0,
    shards: Annotated[int, typer.Option(help="lanes per priority class")] = 1,
    spread: Annotated[int, typer.Option(help="lanes per tenant (shuffle sharding)")] = 2,
    pool: Annotated[int, typer.Option(help="spare lanes lent to heavy tenants")] = 0,
) -> None:
    """Start the dev cloud (moto server on loopback), provision the catalog, run the
    platform on it, serve the HTTP submit API, and wait for Ctrl-C."""
    from ..dashboard import platform_probe
    from ..dashboard import serve as serve_dashboard
    from ..local.devcloud import DevCloud, dev_client
    from ..local.http_server import serve
    from ..local.platform import LocalPlatform

    path = catalog_path(catalog)
    cloud = DevCloud(
        load_catalog(path),
        Topology(prefix=prefix, shards=shards, spread=spread, pool=pool),
        port=port,
        catalog_module=path,
    ).start()
    platform = LocalPlatform(cloud).start() if run else None
    sdk: Conveyor = platform.runtime.client() if platform else dev_client(cloud)
    server, _ = serve(sdk, http_port)
    http_api = f"http://127.0.0.1:{server.server_port}"
    probe = platform_probe(platform) if platform else None
    dashboard, _ = serve_dashboard(sdk, dashboard_port, probe=probe)
    stop = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    for line in export_lines({**cloud.env(), "CONVEYOR_HTTP_API": http_api}):
        print(line)
    sys.stdout.flush()
    assert cloud.provisioned is not None
    err_console.print(Text.assemble(("Conveyor dev cloud", "bold green"), f" at {cloud.endpoint}"))
    err_console.print(
        f"provisioned: table {cloud.provisioned.table}, bucket "
        f"{cloud.provisioned.bucket}, {len(cloud.provisioned.queues)} queues"
    )
    err_console.print(
        "stdout carries only the export lines: `conveyor dev > dev.env &`, then `. ./dev.env`"
    )
    err_console.print(f"try: aws --endpoint-url {cloud.endpoint} sqs list-queues")
    err_console.print(f"HTTP submit API: {http_api}/tasks/<type>")
    err_console.print(f"dashboard: http://127.0.0.1:{dashboard.server_port}/")
    try:
        while not stop.wait(0.5):
            pass
    finally:
        server.shutdown()
        dashboard.shutdown()
        if platform is not None:
            platform.stop()
        cloud.stop()
        err_console.print("dev cloud stopped")


def demo(
    tasks: Annotated[int, typer.Option(help="tasks to submit")] = 1000,
    report: Annotated[
        str | None,
        typer.Option(
            help="compare conveyor cost with an independent count of every request; "
            "save the numbers as JSON here"
        ),
    ] = None,
) -> None:
    """Run the example catalog end to end on a fresh dev cloud and print a summary."""
    from ..local.demo import run_demo

    raise typer.Exit(
        run_demo(tasks=tasks, console=Console(width=max(console.width, 130)), report=report)
    )


def register(app: typer.Typer) -> None:
    app.command()(dev)
    app.command()(demo)

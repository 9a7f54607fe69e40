"""CLI commands for people: ``dashboard``, ``status``, and the human-readable ``get`` and
``list`` (``--json`` for machines). ``register(app, client_factory)`` adds them to the
``conveyor`` typer app; ``client_factory(catalog)`` builds the SDK client from the
environment, as every other command does.
"""

from __future__ import annotations

import json
import signal
import threading
from collections.abc import Callable
from typing import Annotated, Any

import typer
from rich.console import Console

from ..ports import now_ms
from ..views.overview import build_overview
from ..views.source import DashboardSource
from ..views.tasks import task_detail
from ..views.tenants import build_tenants
from ..views.terminal import render_status, render_task, render_task_list, task_json

CatalogOpt = Annotated[
    str | None, typer.Option("--catalog", "-c", help="catalog module path (or CONVEYOR_CATALOG)")
]
JsonOpt = Annotated[bool, typer.Option("--json", help="print JSON (epoch-ms times) for machines")]


def _print_json(console: Console, value: Any) -> None:
    console.print_json(json.dumps(value, default=str))


def status_renderable(client: Any, sample: int = 1000) -> Any:
    """The overview for the terminal, from one snapshot (one page of ``sample`` records)."""
    source = DashboardSource(client, page_size=sample, min_interval=0)
    snap = source.snapshot()
    view = build_overview(client.catalog, client.topology, snap)
    return render_status(view, build_tenants(snap))


def register(
    app: typer.Typer,
    client_factory: Callable[[str | None], Any] | None = None,
    console: Console | None = None,
) -> None:
    """Add ``dashboard``, ``status``, ``get`` and ``list`` to ``app``. Without arguments
    the clients and console are the ``conveyor`` CLI's own (``conveyor.cli.common``), so
    this module can be listed among the CLI's command groups as it is."""
    if client_factory is None or console is None:
        from ..cli import common  # type: ignore[attr-defined,unused-ignore]

        client_factory = client_factory or common.client
        console = console or common.console
    out = console
    make_client = client_factory

    @app.command()
    def dashboard(
        catalog: CatalogOpt = None,
        port: Annotated[int, typer.Option(help="port on 127.0.0.1; 0 picks a free one")] = 8642,
        read_only: Annotated[
            bool, typer.Option("--read-only", help="no pause/resume/cancel/redrive controls")
        ] = False,
    ) -> None:
        """Serve the web dashboard on 127.0.0.1 for this deployment (dev cloud or AWS)."""
        from .server import serve

        server, _ = serve(make_client(catalog), port, read_only=read_only)
        out.print(f"Conveyor dashboard: http://127.0.0.1:{server.server_port}/  (Ctrl-C stops)")
        stop = threading.Event()
        signal.signal(signal.SIGINT, lambda *_: stop.set())
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        try:
            while not stop.wait(0.5):
                pass
        finally:
            server.shutdown()

    @app.command()
    def status(
        catalog: CatalogOpt = None,
        watch: Annotated[
            float, typer.Option(help="refresh every N seconds until Ctrl-C (0: print once)")
        ] = 0.0,
        sample: Annotated[int, typer.Option(help="task records read per refresh (1-1000)")] = 1000,
    ) -> None:
        """The overview in the terminal: backlog, throughput, drain time, types, workers."""
        client = make_client(catalog)
        if watch <= 0:
            out.print(status_renderable(client, sample))
            return
        from rich.live import Live

        stop = threading.Event()
        signal.signal(signal.SIGINT, lambda *_: stop.set())
        with Live(status_renderable(client, sample), console=out, auto_refresh=False) as live:
            while not stop.wait(watch):
                live.update(status_renderable(client, sample), refresh=True)

    @app.command()
    def get(task_id: str, json_out: JsonOpt = False, catalog: CatalogOpt = None) -> None:
        """Show one task: state, times, the three clocks, attempts, result or error."""
        client = make_client(catalog)
        now = now_ms(client.clock)
        detail = task_detail(client, task_id, now)
        if json_out:
            _print_json(out, task_json(detail))
        else:
            out.print(render_task(detail, now))

    @app.command("list")
    def list_(
        task_type: Annotated[str | None, typer.Option("--type")] = None,
        state: Annotated[str | None, typer.Option()] = None,
        tenant: Annotated[str | None, typer.Option()] = None,
        limit: Annotated[int, typer.Option()] = 50,
        cursor: Annotated[str | None, typer.Option()] = None,
        json_out: JsonOpt = False,
        catalog: CatalogOpt = None,
    ) -> None:
        """List tasks by type, state and tenant (paginated: pass --cursor to go on)."""
        client = make_client(catalog)
        page = client.list(
            task_type=task_type, state=state, tenant=tenant, limit=limit, cursor=cursor
        )
        if json_out:
            _print_json(out, {"tasks": [r.to_dict() for r in page.records], "cursor": page.cursor})
        else:
            out.print(render_task_list(page.records, page.cursor, now_ms(client.clock)))

"""``conveyor dlq``: list, show and redrive dead-lettered tasks."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated

import typer
from rich.table import Table

from ..durations import DurationError, parse_duration
from ..errors import ConveyorError
from .common import CatalogOpt, client, console, print_json

dlq_app = typer.Typer(
    help="The dead-letter queue: list, show and redrive failed tasks.", no_args_is_help=True
)


def _since(since: str | None) -> datetime | None:
    if since is None:
        return None
    try:
        return datetime.now(UTC) - timedelta(seconds=parse_duration(since))
    except DurationError as exc:
        raise ConveyorError(f"--since: {exc} (e.g. --since 2h)") from None


@dlq_app.command("list")
def dlq_list(
    task_type: Annotated[str | None, typer.Option("--type")] = None,
    since: Annotated[str | None, typer.Option(help="e.g. 2h")] = None,
    limit: Annotated[int, typer.Option()] = 100,
    catalog: CatalogOpt = None,
) -> None:
    """List DLQ entries with their reason."""
    table = Table("task id", "type", "tenant", "kind", "attempts", "reason")
    for entry in client(catalog).dlq_list(task_type=task_type, since=_since(since), limit=limit):
        table.add_row(
            entry.task_id,
            entry.task_type,
            entry.tenant,
            entry.kind,
            str(entry.attempts),
            entry.reason[:80],
        )
    console.print(table)


@dlq_app.command("show")
def dlq_show(task_id: str, catalog: CatalogOpt = None) -> None:
    """Show one DLQ entry in full (the original message included)."""
    for entry in client(catalog).dlq_list(limit=100_000):
        if entry.task_id == task_id:
            print_json(entry.to_dict())
            return
    raise ConveyorError(f"no DLQ entry for task {task_id!r}")


@dlq_app.command("redrive")
def dlq_redrive(
    task_type: Annotated[str | None, typer.Option("--type")] = None,
    since: Annotated[str | None, typer.Option(help="e.g. 2h")] = None,
    catalog: CatalogOpt = None,
) -> None:
    """Re-queue DLQ entries (attempts reset); a crash mid-way loses nothing."""
    ids = client(catalog).dlq_redrive(task_type=task_type, since=_since(since))
    print_json({"redriven": len(ids), "ids": ids})


def register(app: typer.Typer) -> None:
    app.add_typer(dlq_app, name="dlq")

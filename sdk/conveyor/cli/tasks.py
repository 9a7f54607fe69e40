"""Task commands: submit, get, list, cancel, result."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from .common import CatalogOpt, client, console, json_option, print_json


def submit(
    task_type: str,
    payload: Annotated[str, typer.Option(help="JSON payload")] = "null",
    task_id: Annotated[str | None, typer.Option("--id")] = None,
    tenant: Annotated[str | None, typer.Option()] = None,
    priority: Annotated[str | None, typer.Option()] = None,
    delay: Annotated[float | None, typer.Option(help="seconds")] = None,
    catalog: CatalogOpt = None,
) -> None:
    """Submit one task."""
    result = client(catalog).submit(
        task_type,
        json_option(payload),
        task_id=task_id,
        tenant=tenant,
        priority=priority,
        delay=delay,
    )
    print_json(
        {
            "id": result.task_id,
            "status": result.status,
            "state": result.state.value if result.state else None,
        }
    )


def get(task_id: str, catalog: CatalogOpt = None) -> None:
    """Show one task: state, attempts, every timestamp, result or error."""
    print_json(client(catalog).get(task_id).to_dict())


def list_(
    task_type: Annotated[str | None, typer.Option("--type")] = None,
    state: Annotated[str | None, typer.Option()] = None,
    tenant: Annotated[str | None, typer.Option()] = None,
    limit: Annotated[int, typer.Option()] = 50,
    cursor: Annotated[str | None, typer.Option()] = None,
    catalog: CatalogOpt = None,
) -> None:
    """List tasks by type, state and tenant (paginated: pass --cursor to go on)."""
    page = client(catalog).list(
        task_type=task_type, state=state, tenant=tenant, limit=limit, cursor=cursor
    )
    table = Table("id", "type", "tenant", "state", "attempts")
    for r in page.records:
        table.add_row(r.task_id, r.task_type, r.tenant, r.state.value, str(r.attempts))
    console.print(table)
    if page.cursor:
        console.print(f"more: --cursor {page.cursor}")


def cancel(
    task_id: Annotated[str | None, typer.Argument()] = None,
    task_type: Annotated[str | None, typer.Option("--type", help="cancel all of a type")] = None,
    tenant: Annotated[str | None, typer.Option(help="cancel all of a tenant")] = None,
    tag: Annotated[str | None, typer.Option(help="cancel all with a tag")] = None,
    catalog: CatalogOpt = None,
) -> None:
    """Cancel one task, or in bulk by --type/--tenant/--tag (running ones are asked to stop)."""
    sdk = client(catalog)
    if task_id is not None:
        record = sdk.cancel(task_id)
        print_json(
            {
                "id": record.task_id,
                "state": record.state.value,
                "cancel_requested": record.cancel_requested,
            }
        )
        return
    done = sdk.cancel_many(task_type=task_type, tenant=tenant, tag=tag)
    print_json({"cancelled": len(done), "ids": done})


def result(
    task_id: str, timeout: Annotated[float, typer.Option()] = 60.0, catalog: CatalogOpt = None
) -> None:
    """Wait for a task and print its result (exit 2 if it did not succeed)."""
    print_json(client(catalog).result(task_id, timeout=timeout))


def register(app: typer.Typer) -> None:
    app.command()(submit)
    app.command()(get)
    app.command("list")(list_)
    app.command()(cancel)
    app.command()(result)

"""``conveyor schedule``: recurring cron()/rate() schedules."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from .common import CatalogOpt, client, console, json_option, print_json

schedule_app = typer.Typer(help="Recurring cron()/rate() schedules.", no_args_is_help=True)


@schedule_app.command("create")
def schedule_create(
    task_type: str,
    expression: str,
    name: Annotated[str | None, typer.Option()] = None,
    timezone: Annotated[str, typer.Option("--tz")] = "UTC",
    payload: Annotated[str, typer.Option(help="JSON payload")] = "null",
    tenant: Annotated[str, typer.Option()] = "default",
    catalog: CatalogOpt = None,
) -> None:
    """Create a schedule, e.g. `conveyor schedule create nightly_report "cron(0 2 * * ? *)"
    --tz Europe/Paris`."""
    created = client(catalog).create_schedule(
        task_type,
        expression,
        name=name,
        timezone=timezone,
        payload=json_option(payload),
        tenant=tenant,
    )
    print_json({"created": created})


@schedule_app.command("list")
def schedule_list(catalog: CatalogOpt = None) -> None:
    """List schedules with their expression, zone and state."""
    table = Table("name", "expression", "time zone", "state")
    for item in client(catalog).list_schedules():
        table.add_row(
            item["Name"],
            item["ScheduleExpression"],
            item.get("ScheduleExpressionTimezone", "UTC"),
            item.get("State", ""),
        )
    console.print(table)


@schedule_app.command("pause")
def schedule_pause(name: str, catalog: CatalogOpt = None) -> None:
    """Disable a schedule (it keeps its definition)."""
    client(catalog).pause_schedule(name)
    print_json({"paused": name})


@schedule_app.command("resume")
def schedule_resume(name: str, catalog: CatalogOpt = None) -> None:
    """Enable a paused schedule again."""
    client(catalog).resume_schedule(name)
    print_json({"resumed": name})


@schedule_app.command("delete")
def schedule_delete(name: str, catalog: CatalogOpt = None) -> None:
    """Delete a schedule."""
    client(catalog).delete_schedule(name)
    print_json({"deleted": name})


def register(app: typer.Typer) -> None:
    app.add_typer(schedule_app, name="schedule")

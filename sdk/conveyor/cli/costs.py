"""``conveyor cost``: what each tenant or task type cost in AWS requests, in dollars."""

from __future__ import annotations

import dataclasses
from typing import Annotated

import typer
from rich.table import Table

from ..aws.costledger import ledger_of
from ..durations import DurationError, parse_duration
from ..errors import ConveyorError
from ..ports import now_ms
from ..tenant_costs import BY, cost_rows, total_dollars
from .common import CatalogOpt, client, console, print_json


def cost(
    by: Annotated[str, typer.Option("--by", help="tenant | type")] = "tenant",
    since: Annotated[str, typer.Option(help="how far back, e.g. 2h, 7d (whole hours)")] = "24h",
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
    catalog: CatalogOpt = None,
) -> None:
    """Dollars at list prices of the AWS requests each tenant's (or type's) tasks made,
    with the platform's own requests shared out in proportion."""
    if by not in BY:
        raise ConveyorError(f"--by must be one of {', '.join(BY)}, got {by!r}")
    try:
        seconds = parse_duration(since)
    except DurationError as exc:
        raise ConveyorError(f"--since: {exc} (e.g. --since 24h)") from None
    conveyor = client(catalog)
    ledger = ledger_of(conveyor.store)
    if ledger is None:
        raise ConveyorError("this deployment keeps no cost ledger")
    now = now_ms(conveyor.clock)
    rows = cost_rows(ledger.read(now - int(seconds * 1000), now), by)
    if as_json:
        print_json([dataclasses.asdict(r) for r in rows])
        return
    table = Table(by, "requests", "WRU", "RRU", "SQS req", "USD", "USD with platform")
    for r in rows:
        table.add_row(
            r.name,
            f"{r.requests:,.0f}",
            f"{r.units.get('ddb_wru', 0):,.1f}",
            f"{r.units.get('ddb_rru', 0):,.1f}",
            f"{r.units.get('sqs_requests', 0):,.1f}",
            f"{r.dollars:.6f}",
            f"{r.with_platform:.6f}",
        )
    console.print(table)
    console.print(f"total ${total_dollars(rows):.6f} since {since} ago (list prices, us-east-1)")


def register(app: typer.Typer) -> None:
    app.command("cost")(cost)

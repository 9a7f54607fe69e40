"""Pause and resume task types and tenants."""

from __future__ import annotations

from typing import Annotated

import typer

from .common import CatalogOpt, client, print_json

TypeOpt = Annotated[str | None, typer.Option("--type")]
TenantOpt = Annotated[str | None, typer.Option()]


def pause(task_type: TypeOpt = None, tenant: TenantOpt = None, catalog: CatalogOpt = None) -> None:
    """Pause a task type and/or a tenant: their tasks are held, running ones finish."""
    sdk = client(catalog)
    sdk.pause(task_type=task_type, tenant=tenant)
    print_json({"paused": sorted(map(list, sdk.paused()))})


def resume(task_type: TypeOpt = None, tenant: TenantOpt = None, catalog: CatalogOpt = None) -> None:
    """Resume a task type and/or a tenant; held tasks come back spread out."""
    sdk = client(catalog)
    sdk.resume(task_type=task_type, tenant=tenant)
    print_json({"paused": sorted(map(list, sdk.paused()))})


def register(app: typer.Typer) -> None:
    app.command()(pause)
    app.command()(resume)

"""What every command group shares: the consoles, the ``--catalog`` option, the SDK client.

Every command reads the catalog from ``--catalog`` or ``CONVEYOR_CATALOG`` and the
deployment from ``CONVEYOR_PREFIX``/``CONVEYOR_SHARDS``; AWS settings are boto3's own
(``AWS_PROFILE``, ``AWS_REGION``, ``AWS_ENDPOINT_URL`` for the dev cloud).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from ..catalog import load_catalog
from ..client import Conveyor
from ..errors import ConveyorError
from ..topology import Topology

# Markup off: task IDs, reasons and error messages print as they are ("[a-z0-9-]" stays).
# Style with rich.text.Text instead.
console = Console(markup=False)
err_console = Console(stderr=True, markup=False)

CatalogOpt = Annotated[
    str | None, typer.Option("--catalog", "-c", help="catalog module path (or CONVEYOR_CATALOG)")
]


def catalog_path(catalog: str | None) -> str:
    """The catalog module path: ``--catalog``, else ``CONVEYOR_CATALOG``, else the
    ``catalog`` context of ``./cdk.json`` (as the CDK app reads it); a typed error if none."""
    path = catalog or os.environ.get("CONVEYOR_CATALOG") or _cdk_context_catalog()
    if not path:
        raise ConveyorError(
            "no catalog: pass --catalog MODULE, set CONVEYOR_CATALOG, or run from a CDK "
            "project whose cdk.json has a 'catalog' context"
        )
    return path


def _cdk_context_catalog(cdk_json: Path = Path("cdk.json")) -> str | None:
    try:
        context = json.loads(cdk_json.read_text()).get("context") or {}
    except (OSError, ValueError, AttributeError):
        return None
    value = context.get("catalog") if isinstance(context, dict) else None
    return value if isinstance(value, str) and value else None


def client(catalog: str | None) -> Conveyor:
    """An SDK client with every adapter (scheduler and events included), from the env."""
    from ..aws import AwsClients
    from ..runtime.bootstrap import aws_runtime

    runtime = aws_runtime(load_catalog(catalog_path(catalog)), Topology.from_env(), AwsClients())
    return runtime.client()


def print_json(value: Any) -> None:
    console.print_json(json.dumps(value, default=str))


def json_option(text: str, option: str = "--payload") -> Any:
    """Parse a JSON option value; a typed error naming the option if it is not JSON."""
    try:
        return json.loads(text)
    except ValueError as exc:
        raise ConveyorError(f"{option} is not JSON: {exc}") from None

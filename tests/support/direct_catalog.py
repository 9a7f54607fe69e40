"""A catalog with a ``direct`` Lambda type (fed by an SQS event source mapping) next to a
dispatched one, for synthesizing and checking the stack's direct path."""

from __future__ import annotations

from typing import Any

from conveyor import Catalog

catalog = Catalog("direct")


@catalog.task(executor="lambda", direct=True, timeout=20, concurrency=5)
def index_document(payload: dict[str, Any], ctx: Any) -> dict[str, Any]:
    """Index one document (high volume, no per-tenant fairness needed)."""
    return {"indexed": payload.get("key")}


@catalog.task(executor="lambda", timeout=10)
def notify(payload: dict[str, Any], ctx: Any) -> None:
    """A dispatched type alongside, so both paths share one stack."""

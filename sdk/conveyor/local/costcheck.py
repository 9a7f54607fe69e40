"""Does ``conveyor cost`` agree with an independent count of the same run's requests?

One side is the platform's own attribution, read back as ``conveyor cost --by tenant``
reads it (every process's ``CostMeter`` -> the ledger items in the task table ->
``cost_rows``); the other is ``aws.requestlog``: every process's plain request count in
files, priced with the same list prices. They share only the billing rules
(``RequestCounter``) and the price table.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from ..aws import requestlog
from ..aws.attribution import PLATFORM
from ..aws.costledger import ledger_of
from ..cost import dollars
from ..errors import ConveyorError
from ..tenant_costs import cost_rows, total_dollars


@dataclass(frozen=True, slots=True)
class CostCheck:
    """USD by the ledger (``ledger_usd``, over ``tenants`` tenants plus the platform row)
    and by the independent count (``counted_usd``: ``requests`` requests of
    ``processes`` processes); ``difference`` = ledger / counted - 1."""

    ledger_usd: float
    tenants: int
    ledger_requests: float
    counted_usd: float
    requests: int
    processes: int

    @property
    def difference(self) -> float:
        return self.ledger_usd / self.counted_usd - 1 if self.counted_usd else 0.0

    def line(self) -> str:
        return (
            f"cost: ${self.ledger_usd:.6f} by conveyor cost --by tenant ({self.tenants} "
            f"tenants + platform); ${self.counted_usd:.6f} by an independent count of "
            f"{self.requests:,} requests from {self.processes} processes "
            f"({self.difference * 100:+.1f}%)"
        )

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "difference": self.difference}

    def save(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self.to_dict(), indent=2) + "\n", encoding="utf-8")


def compare(store: Any, directory: str | Path, since_ms: int, until_ms: int) -> CostCheck:
    """Read both sides. Flush every meter and ``requestlog.flush()`` first: the ledger's
    read made here is counted by neither side."""
    ledger = ledger_of(store)
    if ledger is None:
        raise ConveyorError("this deployment keeps no cost ledger")
    tally = requestlog.read(directory)
    rows = cost_rows(ledger.read(since_ms, until_ms), "tenant")
    return CostCheck(
        ledger_usd=total_dollars(rows),
        tenants=sum(1 for r in rows if r.name != PLATFORM[0]),
        ledger_requests=sum(r.requests for r in rows),
        counted_usd=dollars(tally.units),
        requests=tally.requests,
        processes=tally.processes,
    )

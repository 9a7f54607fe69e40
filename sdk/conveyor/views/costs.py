"""The dashboard's cost panel: dollars per tenant and per type over a recent window.

Read from the deployment's cost ledger (``conveyor.aws.costledger``) at most once per
``ttl`` seconds however often the page refreshes (a day is ~48 small reads).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..aws.costledger import CostLedger, ledger_of
from ..ports import now_ms
from ..tenant_costs import CostRow, cost_rows, total_dollars


@dataclass(frozen=True, slots=True)
class CostPanel:
    window_hours: int
    by_tenant: list[CostRow] = field(default_factory=list)
    by_type: list[CostRow] = field(default_factory=list)
    total: float = 0.0
    #: Why there is nothing to show (no ledger, or it could not be read), else None.
    note: str | None = None


class CostPanels:
    def __init__(
        self,
        client: Any,
        *,
        hours: int = 24,
        ttl: float = 60.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.client = client
        self.hours = hours
        self.ttl = ttl
        self.monotonic = monotonic
        self.ledger: CostLedger | None = ledger_of(client.store)
        self._cached: tuple[float, CostPanel] | None = None
        self._lock = threading.Lock()

    def panel(self) -> CostPanel:
        with self._lock:
            if self._cached is not None and self.monotonic() - self._cached[0] < self.ttl:
                return self._cached[1]
            panel = self._read()
            self._cached = (self.monotonic(), panel)
            return panel

    def _read(self) -> CostPanel:
        if self.ledger is None:
            return CostPanel(self.hours, note="this deployment keeps no cost ledger")
        now = now_ms(self.client.clock)
        try:
            units = self.ledger.read(now - self.hours * 3_600_000, now)
        except Exception as exc:
            return CostPanel(self.hours, note=f"could not read the cost ledger: {exc}")
        tenants = cost_rows(units, "tenant")
        return CostPanel(self.hours, tenants, cost_rows(units, "type"), total_dollars(tenants))

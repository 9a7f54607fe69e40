"""Back-pressure at admission: refuse a heavy tenant's new tasks while the backlog is
overloaded (``policy.backpressure.check``), from the cached signal the dispatchers
publish. Quiet tenants, and tasks Conveyor creates itself (schedules, events, retries,
redrives), always pass; a stale or missing signal lets everything pass.
"""

from __future__ import annotations

from ..errors import Overloaded
from ..policy.backpressure import check
from ..ports import Clock
from .cache import CachedControl


class AdmissionGate:
    def __init__(self, cache: CachedControl, clock: Clock, max_staleness: float = 30.0) -> None:
        self.cache = cache
        self.clock = clock
        self.max_staleness = max_staleness
        self.refused = 0

    def check(self, tenant: str, source: str = "sdk") -> None:
        """Raise ``Overloaded`` (with ``retry_after`` seconds) for a refused task."""
        refusal = check(
            self.cache.view().signal, tenant, source, self.clock.now(), self.max_staleness
        )
        if refusal is not None:
            self.refused += 1
            raise Overloaded(refusal.reason, retry_after=refusal.retry_after)


__all__ = ["AdmissionGate"]

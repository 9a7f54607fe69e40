"""How much of a lane the dispatcher holds, so the fair scheduler has a choice to make.

The dispatcher can only choose among messages it has received. It keeps up to
``per_tenant`` messages of each tenant and ``total`` in all (each hidden in its lane by
visibility while held). A message beyond its tenant's share is *sidelined*: returned to
its lane hidden for ``base * 2**(receives - 1)`` seconds (capped at ``cap``, plus up to
50% jitter), so a heavy tenant's backlog stays in SQS and the lane keeps moving to the
quiet tenants' messages behind it, at a cost of a few receives per heavy message.
Within one lane this gives fairness among the messages the dispatcher can reach; a
tenant whose backlog outgrows what receives can skim needs a lane of its own. Pure.
"""

from __future__ import annotations

import random
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Lookahead:
    per_tenant: int = 100
    total: int = 2000
    base: float = 2.0
    cap: float = 900.0

    def __post_init__(self) -> None:
        if self.per_tenant < 1 or self.total < self.per_tenant:
            raise ValueError("need 1 <= per_tenant <= total")
        if not 0 < self.base <= self.cap:
            raise ValueError("need 0 < base <= cap seconds")

    def hide_for(
        self, tenant_held: int, total_held: int, receives: int, rng: random.Random
    ) -> float | None:
        """None to hold the message; else seconds to hide it in its lane."""
        if tenant_held < self.per_tenant and total_held < self.total:
            return None
        backoff = min(self.cap, self.base * 2.0 ** min(max(receives, 1) - 1, 20))
        return min(self.cap, backoff * (1 + 0.5 * rng.random()))

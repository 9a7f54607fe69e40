"""How much of a lane the dispatcher holds, so the fair scheduler has a choice to make,
and when the visibility of what it holds is extended. Pure: no AWS, times passed in.

The dispatcher can only choose among messages it has received. It keeps up to
``per_lane`` messages of each lane, ``per_tenant`` of each tenant and ``total`` in all,
each hidden in its lane by visibility while held. A message beyond its tenant's cap is
*sidelined* (returned to its lane hidden for ``base * 2**(receives - 1)`` seconds,
capped at ``cap``, plus up to 50% jitter) only when other tenants are waiting in the
buffer: a single tenant's backlog is simply held up to the lane's depth, at no extra
request, while with others present a heavy tenant's excess stays in SQS and the lane
keeps moving to the messages behind it. Within one lane this gives fairness among the
``per_lane`` messages the dispatcher can reach; a tenant whose backlog outgrows that
needs a lane of its own (sharding, the pool).

A held message is hidden for the lane's visibility ``V`` seconds from its receive. The
dispatcher extends it (``ChangeMessageVisibilityBatch``, 10 entries a call) once it has
less than ``V / 3`` left, topping each batch up with the messages that will be due next,
so holding ``n`` messages costs about ``n / 10`` calls per ``2V / 3`` seconds, and a
message is never within ``V / 3`` of reappearing while it is held.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass

#: Messages the dispatcher holds per lane by default (its ``buffer_per_lane``).
PER_LANE = 200
#: Entries per ``ChangeMessageVisibilityBatch`` call (the SQS limit).
BATCH = 10


@dataclass(frozen=True, slots=True)
class Lookahead:
    """``per_tenant``: held messages of one tenant beyond which its next ones are
    sidelined while others wait; ``total``: held messages across all lanes (the pull
    bound); ``base``/``cap``: sideline hide time in seconds."""

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
        self,
        tenant_held: int,
        total_held: int,
        receives: int,
        rng: random.Random,
        *,
        others_waiting: bool = True,
    ) -> float | None:
        """None to hold the message; else seconds to hide it in its lane.

        ``tenant_held``: its tenant's messages held now; ``total_held``: all held;
        ``receives``: SQS's receive count of this message; ``others_waiting``: whether
        another tenant has messages held (without, the tenant cap does not apply)."""
        over_tenant = tenant_held >= self.per_tenant and others_waiting
        if not over_tenant and total_held < self.total:
            return None
        backoff = min(self.cap, self.base * 2.0 ** min(max(receives, 1) - 1, 20))
        return min(self.cap, backoff * (1 + 0.5 * rng.random()))

    def room(self, lane_held: int, per_lane: int, total_held: int) -> int:
        """Messages one receive may still take for a lane holding ``lane_held`` of its
        ``per_lane``, with ``total_held`` held (or owed to the outbox) in all: 0..10."""
        return max(0, min(BATCH, per_lane - lane_held, self.total - total_held))


def to_extend(hidden_until: Sequence[float], now: float, visibility: float) -> list[int]:
    """Indexes of held messages whose visibility to extend now, soonest first.

    ``hidden_until[i]``: when message ``i`` reappears in its lane (seconds, same clock as
    ``now``); ``visibility``: seconds an extension hides it for. Due: less than
    ``visibility / 3`` left. The due ones are topped up to a whole batch of 10 with the
    next-soonest that have less than ``2 * visibility / 3`` left, so calls go out full.
    Messages whose time has already run out are not extended (see ``expired``)."""
    if visibility <= 0:
        raise ValueError("visibility must be > 0 seconds")
    order = sorted(
        (i for i, until in enumerate(hidden_until) if until > now), key=lambda i: hidden_until[i]
    )
    due = [i for i in order if hidden_until[i] - now < visibility / 3]
    if not due:
        return []
    whole = -(-len(due) // BATCH) * BATCH
    soon = [i for i in order[len(due) :] if hidden_until[i] - now < 2 * visibility / 3]
    return due + soon[: whole - len(due)]


def expired(hidden_until: Sequence[float], now: float) -> list[int]:
    """Indexes of held messages already visible again in their lane (the dispatcher was
    stalled past their visibility): they may be received elsewhere, so they are dropped
    from the buffer, not started, and SQS delivers them again."""
    return [i for i, until in enumerate(hidden_until) if until <= now]

"""The dispatcher's Level-3 choice: fair share, flow control and AIMD over its buffer.

``FairChoice`` wraps the pure brain (``policy.brain``: ``FairScheduler`` +
``AdmissionGate`` + ``Lookahead``) for the dispatcher's buffered messages:

* ``admit`` (at ingest): a message whose rate tokens are due later than
  ``hold_horizon`` seconds, counting those of its type and tenant already buffered, goes
  back to its lane hidden until then (outcome kind ``rate``); one beyond its tenant's
  look-ahead share while other tenants wait in the buffer is sidelined (kind
  ``sidelined``); else it is buffered (``offer``).
* ``next``: the next buffered message the gate admits, in fair order (None if none).
* ``started`` / ``finished``: slots, tokens and the outcome (``throttled`` shrinks the
  target's AIMD window; the run time teaches the cost model and charges the tenant).
* ``withdraw``: a buffered message released to its lane.

The dispatcher's lock guards every call. Times: ``now`` from the dispatcher's clock.
"""

from __future__ import annotations

import random
from collections import Counter

from aws_lambda_powertools import Logger

from ..catalog import Catalog
from ..policy.brain import Brain, build_brain
from ..policy.fair import Ticket
from ..policy.lookahead import Lookahead
from .intake import Held
from .outcome import HOLD, Outcome

logger = Logger(service="conveyor-dispatcher")
#: A rate-limited message due later than this is hidden in its lane, not buffered.
HOLD_HORIZON = 2.0


class FairChoice:
    def __init__(
        self,
        catalog: Catalog,
        *,
        max_in_flight: int,
        rng: random.Random,
        lookahead: Lookahead | None = None,
        tenant_share: float | None = None,
        brain: Brain | None = None,
    ) -> None:
        self.brain = brain or build_brain(
            catalog,
            max_in_flight=max_in_flight,
            tenant_share=tenant_share,
            lookahead=lookahead,
        )
        self.rng = rng
        self._tickets: dict[int, Ticket] = {}
        self._by_type: Counter[str] = Counter()
        self._by_tenant: Counter[str] = Counter()

    def __len__(self) -> int:
        return len(self._tickets)

    def admit(self, held: Held, now: float) -> Outcome | None:
        """None to buffer ``held`` (then ``offer`` it); else how to hold it in its lane."""
        env = held.env
        name, tenant = held.task_type.name, env.tenant
        others = len(self._by_tenant) - (tenant in self._by_tenant) > 0
        hide = self.brain.lookahead.hide_for(
            self._by_tenant[tenant],
            len(self._tickets),
            held.message.receive_count,
            self.rng,
            others_waiting=others,
        )
        if hide is not None:
            return Outcome(HOLD, env.task_id, "sidelined", delay=hide, reason="look-ahead full")
        keys = (("type", name), ("tenant", tenant))
        due = self.brain.gate.rates.due(keys, now, (self._by_type[name], self._by_tenant[tenant]))
        if due - now > HOLD_HORIZON:
            delay = due - now - HOLD_HORIZON / 2
            return Outcome(HOLD, env.task_id, "rate", delay=delay, reason="rate limit")
        return None

    def offer(self, held: Held, now: float) -> None:
        ticket = Ticket(held.task_type.name, held.env.tenant, held.task_type.priority, ref=held)
        self.brain.scheduler.offer(ticket, now)
        self._tickets[id(held)] = ticket
        self._by_type[ticket.task_type] += 1
        self._by_tenant[ticket.tenant] += 1

    def next(self, now: float) -> Held | None:
        gate = self.brain.gate

        def eligible(ticket: Ticket) -> bool:
            return gate.check(ticket, now) is None

        ticket = self.brain.scheduler.next(now, eligible)
        if ticket is None:
            return None
        self._forget(ticket)
        held: Held = ticket.ref
        self._tickets[id(held)] = ticket  # kept until ``started``
        return held

    def started(self, held: Held, now: float) -> Ticket:
        """``held`` goes to its executor now: take its tokens and slots."""
        ticket = self._tickets.pop(id(held))
        self.brain.gate.acquire(ticket, now)
        return ticket

    def forwarded(self, held: Held, now: float) -> None:
        """``held`` went to its type's work queue (Fargate): tokens taken, no slot kept
        (the worker count is that type's quota), no run time to learn."""
        ticket = self.started(held, now)
        self.brain.gate.release(ticket, now, throttled=False, backlogged=False)

    def finished(self, ticket: Ticket, kind: str, run_seconds: float, now: float) -> None:
        """Its attempt ended with outcome ``kind`` after ``run_seconds``."""
        throttled = kind == "throttled"
        self.brain.scheduler.on_outcome(ticket, run_seconds, throttled=throttled)
        gate = self.brain.gate
        target = gate.target(ticket.task_type)
        backlogged = any(gate.target(t) == target for t in self._by_type)
        window = gate.windows.get(target)
        seen = window.changes[-1] if window and window.changes else None
        gate.release(ticket, now, throttled=throttled, backlogged=backlogged)
        if window and window.changes and window.changes[-1] is not seen:
            change = window.changes[-1]
            logger.info(
                "AIMD window changed",
                extra={"target": target, "old": change.old, "new": change.new, "why": change.why},
            )

    def windows(self) -> dict[str, int]:
        """Each executor target's AIMD limit now (calls in flight)."""
        return {target: w.limit for target, w in self.brain.gate.windows.items()}

    def withdraw(self, held: Held) -> None:
        ticket = self._tickets.pop(id(held), None)
        if ticket is not None and self.brain.scheduler.withdraw(ticket):
            self._forget(ticket)

    def _forget(self, ticket: Ticket) -> None:
        for counter, key in ((self._by_type, ticket.task_type), (self._by_tenant, ticket.tenant)):
            counter[key] -= 1
            if counter[key] <= 0:
                del counter[key]

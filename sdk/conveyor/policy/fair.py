"""The fair scheduler: which buffered task goes next, across priority classes and tenants.

* **Tenants** inside a class share by weighted fair queuing on executor-seconds
  (``TenantQueues``, charged by a learning ``CostModel``): a tenant whose tasks run ten
  times longer gets ten times fewer of them.
* **Priority classes** go highest first, with two guarantees for each lower class:

  - a *minimum share* ``g`` (default 5%) of executor-seconds: every dispatch of cost c
    credits each lower class ``g * c``; a class whose credit is >= 0 and that has work
    goes before any higher class, and pays its cost from the credit. So while it stays
    backlogged it gets at least ``g`` of what is dispatched.
  - an *aging bound* ``A`` seconds: when its oldest task has waited ``A``, the class goes
    first again, paid from a second credit that grows at ``aging_share`` (default 25%) of
    dispatches. So a lower class whose offered load is within ``aging_share`` of capacity
    waits at most about ``A`` plus one slot's turnover, and aging can never take more than
    ``g + aging_share`` of the pool from higher classes. (No scheduler bounds the wait of
    a class offered more than it is given: its queue grows.)

  Credits never exceed ``burst`` executor-seconds, so an idle class cannot bank a flood.

Shape (as a slot supplier): ``offer(ticket, now)`` when a task is buffered,
``next(now, eligible=...)`` for the next one that the gate admits (flow control stays out
of here: ``eligible`` answers "may this ticket start now?"), ``on_outcome(ticket, ...)``
when its attempt ends. Pure and deterministic: ties go to the earlier offer.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from heapq import heappop, heappush
from typing import Any

from .costs import CostModel
from .wfq import Eligible, TenantQueues

DEFAULT_CLASSES = ("high", "normal", "low")


@dataclass(slots=True, eq=False)
class Ticket:
    """One buffered task as the scheduler sees it. ``arrived`` is seconds (the scheduler's
    clock) when it was offered; ``cost`` the executor-seconds charged at dispatch;
    ``started`` when its attempt began;
    ``ref`` whatever the caller needs back (the buffered message)."""

    task_type: str
    tenant: str
    priority: str
    arrived: float = 0.0
    ref: Any = None
    cost: float = 0.0
    started: float = 0.0
    seq: int = field(default=0, repr=False)


@dataclass(frozen=True, slots=True)
class ClassPolicy:
    """Guarantees of one lower priority class (the top class needs none)."""

    min_share: float = 0.05
    aging: float = 30.0
    aging_share: float = 0.25

    def __post_init__(self) -> None:
        if not 0 <= self.min_share < 1 or not 0 <= self.aging_share < 1:
            raise ValueError("min_share and aging_share must be in [0, 1)")
        if self.aging <= 0:
            raise ValueError("aging must be > 0 seconds")


class FairScheduler:
    def __init__(
        self,
        *,
        classes: Sequence[str] = DEFAULT_CLASSES,
        policies: Mapping[str, ClassPolicy] | None = None,
        weight_of: Callable[[str], float] | None = None,
        costs: CostModel | None = None,
        burst: float = 5.0,
        max_scan: int = 64,
    ) -> None:
        if not classes:
            raise ValueError("need at least one priority class")
        self.classes = tuple(classes)
        self.rank = {c: i for i, c in enumerate(self.classes)}
        policies = dict(policies or {})
        unknown = set(policies) - set(self.classes)
        if unknown:
            raise ValueError(f"policies for unknown classes: {sorted(unknown)}")
        self.lower = self.classes[1:]
        self.policies = {c: policies.get(c, ClassPolicy()) for c in self.lower}
        if sum(p.min_share for p in self.policies.values()) >= 1:
            raise ValueError("the lower classes' minimum shares must add up to < 1")
        self.costs = costs or CostModel()
        self.burst = burst
        weigh = weight_of or (lambda _tenant: 1.0)
        self.queues: dict[str, TenantQueues[Ticket]] = {
            c: TenantQueues(_tenant_of, weigh, max_scan=max_scan) for c in self.classes
        }
        self.credit = dict.fromkeys(self.lower, 0.0)
        self.age_credit = dict.fromkeys(self.lower, 0.0)
        #: per lower class: (name, min_share, aging_share), credited on every dispatch
        self._gains = tuple((c, p.min_share, p.aging_share) for c, p in self.policies.items())
        self._oldest: dict[str, list[tuple[float, int, str]]] = {c: [] for c in self.classes}
        self._gone: set[int] = set()
        self._seq = 0
        #: how each dispatch was chosen, by class: "share", "aging" or "priority"
        self.routes: dict[tuple[str, str], int] = {}

    def __len__(self) -> int:
        return sum(len(q) for q in self.queues.values())

    def backlog(self, priority: str) -> int:
        return len(self.queues[priority])

    def offer(self, ticket: Ticket, now: float) -> None:
        """Buffer ``ticket`` (its ``arrived`` is set to ``now``)."""
        priority = ticket.priority
        queues = self.queues.get(priority)
        if queues is None:
            raise ValueError(f"unknown priority class {priority!r}")
        self._seq = seq = self._seq + 1
        ticket.seq = seq
        ticket.arrived = now
        tenant = ticket.tenant
        queues.add(tenant, ticket)
        heappush(self._oldest[priority], (now, seq, tenant))

    def _oldest_entry(self, priority: str) -> tuple[float, int, str] | None:
        heap = self._oldest[priority]
        while heap and heap[0][1] in self._gone:
            self._gone.discard(heappop(heap)[1])
        return heap[0] if heap else None

    def oldest_wait(self, priority: str, now: float) -> float:
        """Seconds the oldest ticket of a class has waited (0 when it has none)."""
        entry = self._oldest_entry(priority)
        return now - entry[0] if entry else 0.0

    def next(self, now: float, eligible: Eligible[Ticket] | None = None) -> Ticket | None:
        """The next ticket to start, removed from the buffer, or None.

        Classes are tried in turn until one yields an eligible ticket: while two or
        more classes have work, first each lower class that is owed its minimum share
        (lowest first), then each that has aged past its bound (longest wait first);
        then every class with work, highest first. A class is tried once."""
        queues, estimate = self.queues, self._estimate
        busy = [c for c in self.classes if queues[c]._count]
        tried: set[str] = set()
        if len(busy) > 1:
            # a lower class needs its guarantees only while a higher class has work
            contested = busy[1:]
            credit, policies = self.credit, self.policies
            for c in reversed(contested):
                if credit[c] >= 0 and policies[c].min_share > 0:
                    tried.add(c)
                    ticket = queues[c].pop(estimate, eligible)
                    if ticket is not None:
                        self._dispatched(ticket, "share")
                        return ticket
            for _, c in self._aged(contested, now):
                if c in tried:
                    continue
                tried.add(c)
                ticket = None
                entry = self._oldest_entry(c)
                if entry is not None:  # the oldest ticket of the class, out of its turn
                    ticket = queues[c].pop_head(entry[2], estimate, eligible)
                if ticket is None:
                    ticket = queues[c].pop(estimate, eligible)
                if ticket is not None:
                    self._dispatched(ticket, "aging")
                    return ticket
        for c in busy:
            if c in tried:
                continue
            ticket = queues[c].pop(estimate, eligible)
            if ticket is not None:
                self._dispatched(ticket, "priority")
                return ticket
        return None

    def withdraw(self, ticket: Ticket) -> bool:
        """Take a buffered ticket out without dispatching it (its message went back to
        its lane); False if it was not buffered."""
        if not self.queues[ticket.priority].remove(ticket):
            return False
        self._gone.add(ticket.seq)
        return True

    def _aged(self, contested: list[str], now: float) -> list[tuple[float, str]]:
        """(wait, class) of the contested classes past their aging bound that have
        aging credit, longest wait first (ties keep class order)."""
        aged: list[tuple[float, str]] = []
        age_credit, policies, gone = self.age_credit, self.policies, self._gone
        for c in contested:
            if age_credit[c] >= 0:
                heap = self._oldest[c]  # as oldest_wait(c, now), inline
                while heap and heap[0][1] in gone:
                    gone.discard(heappop(heap)[1])
                wait = now - heap[0][0] if heap else 0.0
                if wait >= policies[c].aging:
                    aged.append((wait, c))
        if len(aged) > 1:
            aged.sort(key=_minus_wait)
        return aged

    def _estimate(self, ticket: Ticket) -> float:
        ticket.cost = cost = self.costs.estimate(ticket.task_type)
        return cost

    def _dispatched(self, ticket: Ticket, route: str) -> None:
        cost = ticket.cost
        self._gone.add(ticket.seq)
        burst, credit, age_credit = self.burst, self.credit, self.age_credit
        for c, min_share, aging_share in self._gains:
            value = credit[c] + min_share * cost
            credit[c] = value if value < burst else burst
            value = age_credit[c] + aging_share * cost
            age_credit[c] = value if value < burst else burst
        if route == "share":
            credit[ticket.priority] -= cost
        elif route == "aging":
            age_credit[ticket.priority] -= cost
        key = (ticket.priority, route)
        routes = self.routes
        routes[key] = routes.get(key, 0) + 1

    def on_outcome(self, ticket: Ticket, run_seconds: float, *, throttled: bool = False) -> None:
        """An attempt ended after ``run_seconds`` of executor time. A throttled attempt did
        no work: its charge is refunded and it does not teach the cost model."""
        actual = 0.0 if throttled or not run_seconds > 0.0 else run_seconds
        if not throttled:
            self.costs.observe(ticket.task_type, actual)
        self.queues[ticket.priority].correct(ticket.tenant, actual - ticket.cost)


def _tenant_of(ticket: Ticket) -> str:
    return ticket.tenant


def _minus_wait(entry: tuple[float, str]) -> float:
    return -entry[0]

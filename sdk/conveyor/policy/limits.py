"""The admission gate: may this ticket start now, and if not, until when must it wait?

One shared pool, limited at every layer (each limit optional):

* a global in-flight cap (the dispatcher's ``max_in_flight``);
* concurrency quotas per task type, per tenant (a number, or a share of the pool for
  tenants without their own) and per priority class;
* an AIMD window per executor target (a type, or the named ``resource`` it calls);
* GCRA rate limits per type and per tenant (``RateLimits``).

``check`` returns None (go) or a ``Block``: ``until`` is when the rate tokens are due
(the caller hides the message until then: no polling), or None when the ticket waits on
a slot that a finishing attempt frees. ``acquire`` takes the tokens and slots;
``release`` returns the slots and feeds the outcome to the target's window. Pure.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from .aimd import AimdSpec, AimdWindow
from .fair import Ticket
from .rates import RateLimits


@dataclass(frozen=True, slots=True)
class Block:
    """Why a ticket may not start: ``reason`` names the limit; ``until`` (seconds, same
    clock as ``now``) when it can, or None while it waits for a free slot."""

    reason: str
    until: float | None = None


POOL = Block("pool")
TYPE_QUOTA = Block("type-quota")
CLASS_QUOTA = Block("class-quota")
TENANT_QUOTA = Block("tenant-quota")


class AdmissionGate:
    def __init__(
        self,
        *,
        max_in_flight: int,
        type_quota: Mapping[str, int] | None = None,
        class_quota: Mapping[str, int] | None = None,
        tenant_quota: Callable[[str], int | None] | None = None,
        tenant_share: float | None = None,
        target_of: Mapping[str, str] | None = None,
        windows: Mapping[str, AimdSpec] | None = None,
        rates: RateLimits | None = None,
    ) -> None:
        if max_in_flight < 1:
            raise ValueError("max_in_flight must be >= 1")
        if tenant_share is not None and not 0 < tenant_share <= 1:
            raise ValueError("tenant_share must be in (0, 1]")
        self.max_in_flight = max_in_flight
        self.share = 1.0
        self._base_type_quota = dict(type_quota or {})
        self.type_quota = dict(type_quota or {})
        self.class_quota = dict(class_quota or {})
        self._tenant_quota = tenant_quota
        self._share_quota = (
            None if tenant_share is None else max(1, int(tenant_share * max_in_flight))
        )
        self.target_of = dict(target_of or {})
        self.windows = {t: AimdWindow(spec) for t, spec in (windows or {}).items()}
        self.rates = rates or RateLimits()
        self.in_flight = 0
        self.by_type: Counter[str] = Counter()
        self.by_tenant: Counter[str] = Counter()
        self.by_class: Counter[str] = Counter()
        self.by_target: Counter[str] = Counter()

    def target(self, task_type: str) -> str:
        return self.target_of.get(task_type, task_type)

    def scale(self, share: float) -> None:
        """Enforce ``share`` of the global limits (rates, type and tenant quotas): with N
        dispatchers each takes 1/N, rounded down but at least 1 slot."""
        self.rates.scale(share)
        self.share = share
        self.type_quota = {
            name: max(1, int(quota * share)) for name, quota in self._base_type_quota.items()
        }

    def tenant_limit(self, tenant: str) -> int | None:
        own = self._tenant_quota(tenant) if self._tenant_quota else None
        return own if own is not None else self._share_quota

    def check(self, ticket: Ticket, now: float) -> Block | None:
        """None if ``ticket`` may start at ``now``; else the first limit in its way.
        Limits that are not configured cost nothing here."""
        if self.in_flight >= self.max_in_flight:
            return POOL
        name, tenant = ticket.task_type, ticket.tenant
        if self.type_quota:
            quota = self.type_quota.get(name)
            if quota is not None and self.by_type.get(name, 0) >= quota:
                return TYPE_QUOTA
        if self.class_quota:
            quota = self.class_quota.get(ticket.priority)
            if quota is not None and self.by_class.get(ticket.priority, 0) >= quota:
                return CLASS_QUOTA
        quota = self._tenant_quota(tenant) if self._tenant_quota else None
        if quota is None:
            quota = self._share_quota
        elif self.share != 1.0:
            quota = max(1, int(quota * self.share))
        if quota is not None and self.by_tenant.get(tenant, 0) >= quota:
            return TENANT_QUOTA
        if self.windows:
            target = self.target_of.get(name, name)
            window = self.windows.get(target)
            if window is not None and not window.admits(self.by_target.get(target, 0), now):
                paused = window.paused_until()
                return Block("window", paused if paused > now else None)
        due = self.rates.due_for(name, tenant, now)
        if due > now:
            return Block("rate", due)
        return None

    def admits(self, ticket: Ticket, now: float) -> bool:
        return self.check(ticket, now) is None

    def acquire(self, ticket: Ticket, now: float) -> None:
        """Take ``ticket``'s rate tokens and slots (call after ``check`` said go)."""
        name, tenant, priority = ticket.task_type, ticket.tenant, ticket.priority
        self.rates.take_for(name, tenant, now)
        ticket.started = now
        self.in_flight += 1
        by_type, by_tenant, by_class = self.by_type, self.by_tenant, self.by_class
        by_type[name] = by_type.get(name, 0) + 1
        by_tenant[tenant] = by_tenant.get(tenant, 0) + 1
        by_class[priority] = by_class.get(priority, 0) + 1
        target = self.target_of.get(name, name)
        self.by_target[target] = self.by_target.get(target, 0) + 1

    def release(self, ticket: Ticket, now: float, *, throttled: bool, backlogged: bool) -> None:
        """Give back ``ticket``'s slots; its outcome adjusts its target's window.
        ``backlogged``: work for that target is waiting (growth needs it)."""
        self.in_flight -= 1
        name = ticket.task_type
        target = self.target_of.get(name, name)
        _count_down(self.by_type, name)
        _count_down(self.by_tenant, ticket.tenant)
        _count_down(self.by_class, ticket.priority)
        left = _count_down(self.by_target, target)
        window = self.windows.get(target)
        if window is not None:
            window.on_outcome(
                now,
                throttled=throttled,
                in_flight=left,
                backlogged=backlogged,
                started=ticket.started,
            )


def _count_down(counts: dict[str, int], key: str) -> int:
    """One less of ``key`` in ``counts``, removed at zero (idle keys cost nothing);
    returns what is left."""
    left = counts.get(key, 0) - 1
    if left > 0:
        counts[key] = left
        return left
    counts.pop(key, None)
    return 0

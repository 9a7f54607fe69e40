"""The dynamic queue pool: when to give a heavy tenant a lane of its own, and when to take
it back. Pure; the caller applies the decisions with versioned conditional writes.

A tenant heavy for ``hot_for`` seconds in a row is *split*: a free lane of the pool is
routed to it, so its backlog stops delaying the tenants that share its shards. A routed
tenant that has not been heavy for ``cool_for`` seconds is *merged*: new tasks go back
to its shards, and the route is kept, draining, while its lane still holds messages
(they are still served); only an empty draining lane is *released* to the pool. Routes
carry an expiry that the owner *renews*; a route nobody renews lapses into draining, so
a dead dispatcher can never keep a lane forever. ``hot_for < cool_for`` is the
hysteresis that keeps a tenant near the threshold from flapping between lanes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Route:
    """A tenant's dedicated lane. Times are seconds on the caller's clock."""

    tenant: str
    lane: str
    version: int
    since: float
    expires_at: float
    draining: bool = False

    def active(self, now: float) -> bool:
        """New tasks of the tenant go to ``lane`` (not draining, not lapsed)."""
        return not self.draining and now < self.expires_at


@dataclass(frozen=True)
class Split:
    tenant: str
    lane: str


@dataclass(frozen=True)
class Renew:
    tenant: str


@dataclass(frozen=True)
class Merge:
    tenant: str


@dataclass(frozen=True)
class Release:
    tenant: str
    lane: str


Decision = Split | Renew | Merge | Release


@dataclass
class PoolPolicy:
    """``lanes``: the pool's spare lanes. Durations in seconds."""

    lanes: Sequence[str]
    hot_for: float = 5.0
    cool_for: float = 60.0
    ttl: float = 300.0
    renew_before: float = 120.0
    _first_heavy: dict[str, float] = field(default_factory=dict)
    _last_heavy: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.hot_for < 0 or self.cool_for <= self.hot_for:
            raise ValueError("need 0 <= hot_for < cool_for")
        if not 0 < self.renew_before < self.ttl:
            raise ValueError("need 0 < renew_before < ttl")

    def observe(self, now: float, heavy: Mapping[str, float]) -> None:
        """Feed the heavy set (tenant -> share) seen at ``now``."""
        for tenant in heavy:
            self._first_heavy.setdefault(tenant, now)
            self._last_heavy[tenant] = now
        for tenant in [t for t in self._first_heavy if t not in heavy]:
            del self._first_heavy[tenant]

    def decide(
        self,
        now: float,
        heavy: Mapping[str, float],
        routes: Mapping[str, Route],
        depth: Mapping[str, int],
    ) -> list[Decision]:
        """Decisions for this instant, given the current routes (by tenant) and the depth
        of pool lanes (visible + in flight + delayed; a missing lane counts as busy)."""
        self.observe(now, heavy)
        out: list[Decision] = []
        used = {r.lane for r in routes.values()}
        free = [lane for lane in self.lanes if lane not in used]
        for tenant, route in routes.items():
            if route.draining or not route.active(now):
                if depth.get(route.lane, 1) == 0:
                    out.append(Release(tenant, route.lane))
                elif not route.draining:
                    out.append(Merge(tenant))  # lapsed: make the draining explicit
                continue
            cooled = now - self._last_heavy.get(tenant, route.since) >= self.cool_for
            if cooled:
                out.append(Merge(tenant))
            elif route.expires_at - now <= self.renew_before:
                out.append(Renew(tenant))
        candidates = sorted(
            (t for t in heavy if t not in routes),
            key=lambda t: (-heavy[t], t),
        )
        for tenant in candidates:
            if not free:
                break
            if now - self._first_heavy[tenant] >= self.hot_for:
                out.append(Split(tenant, free.pop(0)))
        return out

    def new_route(self, split: Split, now: float, version: int = 1) -> Route:
        return Route(split.tenant, split.lane, version, now, now + self.ttl)


__all__ = ["Decision", "Merge", "PoolPolicy", "Release", "Renew", "Route", "Split"]

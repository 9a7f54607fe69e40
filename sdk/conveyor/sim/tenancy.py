"""Many tenants in the simulation: shuffle-sharded lanes, the dynamic pool and
back-pressure, wired as a multi-tenant deployment wires them, on the simulated clock.

* Producers (one process for every tenant) place each task with the runtime's own
  ``tenancy.AdmissionGate`` (a heavy tenant's task refused with ``Overloaded``; the
  producer tries again after Retry-After) and ``tenancy.LaneRouter`` (a routed tenant to
  its pool lane, any other to the shorter of its ``spread`` lanes), over one
  ``CachedControl`` refreshed at most every ``cache_age`` s.
* The dispatcher is the ``fair`` strategy pulling every lane, pool lanes included; it
  feeds every received message to ``tenancy.TenantSupervisor`` and ticks it every
  ``interval`` s: Sample-and-Hold over the receive stream, the back-pressure signal and
  lane depths published to ``MemoryControl``, the pool's splits, merges and releases.

Variants (strategies): ``shared``, one lane per class (today); ``hashed``, ``shards``
lanes and a static hash to the tenant's first lane (no control plane: no depth view, no
pool, no back-pressure); ``sharded``, the shorter of ``spread`` lanes from the published
depths, still without pool and back-pressure; ``full``, everything.
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass, field
from math import comb
from typing import TYPE_CHECKING, Any, cast

from ..errors import Overloaded
from ..memory.control import MemoryControl
from ..policy.backpressure import BackPressure
from ..policy.heavy import SampleAndHold
from ..policy.pool import PoolPolicy
from ..ports import Depth, Lanes
from ..tenancy import AdmissionGate, CachedControl, LaneRouter, TenantSupervisor
from ..topology import Topology
from .lanes import Lane, Msg
from .loop import EventLoop
from .spec import TenancySpec, TenantGroup
from .strategies import FairStrategy

if TYPE_CHECKING:
    from .world import World


@dataclass(frozen=True)
class Variant:
    title: str
    shards: bool
    control: bool
    pool: bool
    pressure: bool


VARIANTS = {
    "shared": Variant("one shared lane per class (today)", False, False, False, False),
    "hashed": Variant(
        "static hashing, N lanes, no pool or back-pressure", True, False, False, False
    ),
    "sharded": Variant(
        "shorter of k of N lanes, no pool or back-pressure", True, True, False, False
    ),
    "full": Variant("shorter of k of N + pool + back-pressure", True, True, True, True),
}


@dataclass
class TenancyLog:
    """What the tenancy did to the heavy tenant, in simulated seconds (None: never)."""

    tenant: str
    turned_heavy: float
    cooled: float
    lanes: int
    spread: int
    detected: float | None = None
    split: float | None = None
    merged: float | None = None
    released: float | None = None
    refused: Counter[str] = field(default_factory=Counter)
    #: times of the heavy tenant's refusals
    refusals: list[float] = field(default_factory=list)
    #: (time, where the heavy tenant's new tasks go: "shards", "pool" or "draining")
    route: list[tuple[float, str]] = field(default_factory=list)
    #: tenants that share at least one lane of a class with the heavy tenant
    neighbours: frozenset[str] = field(default=frozenset(), repr=False)

    @property
    def blast_radius(self) -> float:
        return 1.0 / comb(self.lanes, self.spread)


class _SimClock:
    def __init__(self, loop: EventLoop) -> None:
        self.loop = loop

    def now(self) -> float:
        return self.loop.now


class _LaneDepths:
    """The one ``Lanes`` call the supervisor makes, answered from the simulated lanes."""

    def __init__(self, lanes: dict[str, Lane], clock: _SimClock) -> None:
        self.lanes = lanes
        self.clock = clock

    def depth(self, queue: str) -> Depth:
        return self.lanes[queue].depth(self.clock.now())


def _phase(group: TenantGroup) -> tuple[float, float]:
    """When the group's profile reaches its peak, and when it next steps down."""
    peak = max(m for _, m in group.profile)
    start = next(t for t, m in group.profile if m == peak)
    after = [t for t, m in group.profile if t > start and m < peak]
    return start, min(after, default=float("inf"))


class TenantStrategy(FairStrategy):
    def __init__(self, world: World, variant: str) -> None:
        super().__init__(world)
        sc = world.scenario
        spec = sc.tenancy or TenancySpec()
        self.name = variant
        v = VARIANTS[variant]
        self.topology = Topology(
            prefix="sim",
            shards=spec.shards if v.shards else 1,
            spread=spec.spread,
            pool=spec.pool if v.pool else 0,
        )
        self.lanes = {name: Lane(name) for name in self.topology.lanes}
        clock = _SimClock(world.loop)
        self.control = MemoryControl()
        cache = CachedControl(self.control, clock, spec.cache_age) if v.control else None
        self.router = LaneRouter(self.topology, cache, clock)
        self.admission = AdmissionGate(cache, clock) if cache and v.pressure else None
        self.supervisor: TenantSupervisor | None = None
        if v.control:
            detector = SampleAndHold(
                spec.threshold,
                spec.expected_units,
                random.Random(f"{world.seed}:detector"),
                window=spec.window,
            )
            pool = PoolPolicy(self.topology.pool_lanes, spec.hot_for, spec.cool_for)
            pressure = BackPressure(spec.max_age, spec.max_drain) if v.pressure else None
            self.supervisor = TenantSupervisor(
                self.topology,
                cast(Lanes, _LaneDepths(self.lanes, clock)),
                self.control,
                clock,
                "sim",
                detector=detector,
                pool=pool,
                pressure=pressure,
                interval=spec.interval,
            )
        self._next_watch = 0.0
        self._group = {g.label: g for g in sc.groups}
        heavy = self._group.get(spec.heavy)
        start, end = _phase(heavy) if heavy and heavy.profile else (float("inf"),) * 2
        self.log = TenancyLog(
            heavy.tenant(0) if heavy else "", start, end, self.topology.shards, spec.spread
        )
        if heavy is not None:
            sharder = self.topology.sharder
            mine = set(sharder.shard_set(self.log.tenant))
            self.log.neighbours = frozenset(
                g.tenant(i)
                for g in sc.groups
                for i in range(g.count)
                if g is not heavy and mine & set(sharder.shard_set(g.tenant(i)))
            )

    def lane_of(self, msg: Msg) -> Lane:
        return self.lanes[msg.lane]

    def submit(self, msg: Msg, now: float) -> float | None:
        if self.admission is not None:
            try:
                self.admission.check(msg.tenant)
            except Overloaded as refused:
                self.log.refused[msg.group] += 1
                if msg.tenant == self.log.tenant:
                    self.log.refusals.append(now)
                return refused.retry_after
        msg.lane = self.router.lane(msg.priority, msg.tenant)
        msg.enqueued = now
        self.lanes[msg.lane].send(msg, now)
        return None

    def pull(self, now: float) -> None:
        if self.supervisor is not None and now >= self._next_watch:
            self._next_watch = now + self.supervisor.interval
            self._watch(self.supervisor, now)
        super().pull(now)

    def _ingest(self, lane: Lane, msg: Msg, now: float) -> None:
        if self.supervisor is not None:
            self.supervisor.observe(msg.tenant, now - msg.enqueued)
        super()._ingest(lane, msg, now)

    def finished(self, msg: Msg, token: Any, now: float, run: float, throttled: bool) -> None:
        super().finished(msg, token, now, run, throttled)
        if self.supervisor is not None:
            self.supervisor.finished(1)

    def _watch(self, supervisor: TenantSupervisor, now: float) -> None:
        """One supervisor tick, and what it means for the heavy tenant."""
        supervisor.tick(list(self.lanes))
        log = self.log
        turned = log.detected is None and now >= log.turned_heavy
        if turned and log.tenant in supervisor.detector.heavy(now):
            log.detected = now
        route = supervisor.routes.get(log.tenant)
        where = "shards" if route is None else ("draining" if route.draining else "pool")
        if not log.route or log.route[-1][1] != where:
            log.route.append((now, where))
        if where == "pool" and log.split is None:
            log.split = now
        if where == "draining" and log.merged is None and log.split is not None:
            log.merged = now
        if where == "shards" and log.split is not None and log.released is None:
            log.released = now


def _variant(name: str) -> Any:
    def make(world: World) -> TenantStrategy:
        return TenantStrategy(world, name)

    return make


TENANT_STRATEGIES = {name: _variant(name) for name in VARIANTS}

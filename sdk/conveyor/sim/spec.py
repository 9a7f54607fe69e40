"""What a scenario is made of: task types, tenant groups with rate profiles, downstreams.

Units: seconds of simulated time, tasks per second, calls in flight for capacities.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace

from ..policy.aimd import AimdSpec
from ..policy.fair import ClassPolicy
from ..policy.lookahead import Lookahead
from ..policy.rates import RateSpec

#: (start second, multiplier) steps; the multiplier of the last step at or before t holds.
Profile = tuple[tuple[float, float], ...]


def level(profile: Profile, t: float) -> float:
    value = 1.0
    for start, mult in profile:
        if t >= start:
            value = mult
    return value


@dataclass(frozen=True)
class TypeSpec:
    """A task type: ``mean_run`` seconds (exponentially distributed), its class, limits."""

    name: str
    mean_run: float
    priority: str = "normal"
    rate: RateSpec | None = None
    quota: int | None = None
    resource: str | None = None


@dataclass(frozen=True)
class TenantGroup:
    """``count`` tenants alike, each submitting ``rate`` tasks per second (Poisson) times
    the profile's multiplier, of ``types`` in turn at random. ``label`` names the group in
    reports; ``backlogged`` marks groups whose shares are held to their weights."""

    label: str
    count: int
    rate: float
    types: tuple[str, ...]
    weight: float = 1.0
    profile: Profile = ()
    backlogged: bool = False
    tenant_rate: RateSpec | None = None

    def tenant(self, index: int) -> str:
        return self.label if self.count == 1 else f"{self.label}-{index}"


@dataclass(frozen=True)
class Downstream:
    """A shared resource that accepts ``capacity`` calls in flight (steps over time); a
    call beyond it is throttled and returns after ``throttle_latency`` seconds."""

    name: str
    capacity: Profile
    throttle_latency: float = 0.02

    def capacity_at(self, t: float) -> float:
        return level(self.capacity, t)


@dataclass(frozen=True)
class TenancySpec:
    """A multi-tenant deployment: ``shards`` lanes per class, ``spread`` per tenant,
    ``pool`` spare lanes; the supervisor ticks every ``interval`` s and producers read
    the published view at most every ``cache_age`` s. Sample-and-Hold flags a tenant
    holding ``threshold`` of the receives (``expected_units`` per ``window`` s); the pool
    splits after ``hot_for`` s heavy and merges after ``cool_for`` s not; the backlog is
    overloaded past ``max_age`` s of oldest-message age or ``max_drain`` s of drain time.
    ``heavy`` names the group whose single tenant turns heavy.

    ``hot_for`` is 2 s here (two supervisor ticks), not the runtime's 5 s: with N = 8
    the tenants sharing a lane with the heavy one wait behind the backlog it queued before
    the split, and 3 s more of it puts the quiet p99 of the shortened run at 5.9x (the
    300 s run still at 1.0x); with N = 16 both hold at 5 s."""

    shards: int = 8
    spread: int = 2
    pool: int = 2
    interval: float = 2.0
    cache_age: float = 2.0
    threshold: float = 0.2
    expected_units: float = 250.0
    window: float = 5.0
    hot_for: float = 2.0
    cool_for: float = 30.0
    max_age: float = 10.0
    max_drain: float = 30.0
    heavy: str = "heavy"


@dataclass(frozen=True)
class Scenario:
    name: str
    title: str
    duration: float
    slots: int
    types: tuple[TypeSpec, ...]
    groups: tuple[TenantGroup, ...]
    downstreams: tuple[Downstream, ...] = ()
    warmup: float = 20.0
    poll: float = 0.05
    receives_per_poll: int = 8
    tenant_share: float | None = 0.9
    classes: dict[str, ClassPolicy] = field(default_factory=dict)
    windows: dict[str, AimdSpec] = field(default_factory=dict)
    lookahead: Lookahead = field(default_factory=Lookahead)
    #: messages the dispatcher buffers per lane (the dispatcher's ``buffer_per_lane``);
    #: None: only the look-ahead's bounds
    buffer_per_lane: int | None = None
    share_window: float = 60.0
    changes: tuple[float, ...] = ()
    #: the strategies compared, by name in ``strategies.STRATEGIES``
    strategies: tuple[str, ...] = ("fair", "wrr", "fifo")
    tenancy: TenancySpec | None = None

    def without(self, label: str) -> Scenario:
        return replace(self, groups=tuple(g for g in self.groups if g.label != label))

    def type(self, name: str) -> TypeSpec:
        return next(t for t in self.types if t.name == name)


Factory = Callable[[], Scenario]

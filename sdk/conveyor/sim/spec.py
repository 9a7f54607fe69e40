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
    share_window: float = 60.0
    changes: tuple[float, ...] = ()

    def without(self, label: str) -> Scenario:
        return replace(self, groups=tuple(g for g in self.groups if g.label != label))

    def type(self, name: str) -> TypeSpec:
        return next(t for t in self.types if t.name == name)


Factory = Callable[[], Scenario]

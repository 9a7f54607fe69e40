"""The scenarios ``python -m conveyor.sim`` runs, and the targets each one is held to.

Every scenario runs the ``fair`` strategy beside two baselines, ``fifo`` and ``wrr``
(today's dispatcher), on the same arrivals (same seed). Capacities are in executor
slots; the rates are chosen so that each scenario saturates what it is about.
"""

from __future__ import annotations

from ..policy.aimd import AimdSpec
from ..policy.lookahead import Lookahead
from ..policy.rates import RateSpec
from .spec import Downstream, Scenario, TenancySpec, TenantGroup, TypeSpec


def noisy() -> Scenario:
    """One tenant at 100x the others' rate, alone enough to fill the pool."""
    return Scenario(
        name="noisy",
        title="Noisy neighbour: one tenant at 100x the rate of ten quiet ones",
        duration=180.0,
        warmup=30.0,
        slots=50,
        tenant_share=0.8,
        types=(TypeSpec("work", 1.0),),
        groups=(
            TenantGroup("quiet", 10, 0.5, ("work",)),
            TenantGroup("heavy", 1, 50.0, ("work",)),
        ),
    )


def weighted() -> Scenario:
    """Four backlogged tenants, weights 1/1/2/3, task durations 0.2 s vs 2 s; each asks
    for 30 or 60 executor-seconds a second, 1.8x the pool in all."""
    return Scenario(
        name="weighted",
        title="Weighted tenants, task durations 10x apart, all backlogged",
        duration=320.0,
        warmup=20.0,
        slots=100,
        tenant_share=None,
        types=(TypeSpec("short", 0.2), TypeSpec("long", 2.0)),
        groups=(
            TenantGroup("a-w1-short", 1, 150.0, ("short",), backlogged=True),
            TenantGroup("b-w1-long", 1, 30.0, ("long",), backlogged=True),
            TenantGroup("c-w2-short", 1, 150.0, ("short",), weight=2.0, backlogged=True),
            TenantGroup("d-w3-long", 1, 30.0, ("long",), weight=3.0, backlogged=True),
        ),
    )


def priority() -> Scenario:
    """High alone asks 1.5x the pool; normal and low each ask 10% of it."""
    return Scenario(
        name="priority",
        title="Priority saturation: high alone exceeds capacity",
        duration=240.0,
        warmup=30.0,
        slots=50,
        types=(
            TypeSpec("urgent", 1.0, priority="high"),
            TypeSpec("regular", 1.0, priority="normal"),
            TypeSpec("batch", 1.0, priority="low"),
        ),
        groups=(
            TenantGroup("high", 5, 15.0, ("urgent",)),
            TenantGroup("normal", 5, 1.0, ("regular",)),
            TenantGroup("low", 5, 1.0, ("batch",)),
        ),
    )


def aimd() -> Scenario:
    """A downstream that takes 80 calls at once halves to 40 at t=120 s."""
    return Scenario(
        name="aimd",
        title="Downstream capacity halves mid-run (AIMD window)",
        duration=240.0,
        warmup=30.0,
        slots=150,
        tenant_share=None,
        types=(TypeSpec("call", 0.5, resource="api"),),
        groups=(TenantGroup("callers", 20, 10.0, ("call",)),),
        downstreams=(Downstream("api", ((0.0, 80.0), (120.0, 40.0))),),
        windows={"api": AimdSpec(initial=20, maximum=150, increase=0.5)},
        changes=(120.0,),
    )


def outage() -> Scenario:
    """The downstream refuses every call for 30 s, then recovers; the backlog drains."""
    return Scenario(
        name="outage",
        title="Outage for 30 s, then recovery drain",
        duration=300.0,
        warmup=30.0,
        slots=100,
        tenant_share=None,
        types=(TypeSpec("call", 0.5, resource="api"),),
        groups=(TenantGroup("callers", 20, 5.0, ("call",)),),
        downstreams=(Downstream("api", ((0.0, 60.0), (60.0, 0.0), (90.0, 60.0))),),
        windows={"api": AimdSpec(initial=20, maximum=100, increase=0.5)},
        changes=(60.0, 90.0),
    )


def tenants10k() -> Scenario:
    """10,000 light tenants and 10 heavy ones (rate-limited per tenant), a rate-limited
    type, over capacity."""
    return Scenario(
        name="tenants10k",
        title="10,000 tenants, per-tenant and per-type rate limits",
        duration=150.0,
        warmup=30.0,
        slots=100,
        types=(TypeSpec("work", 1.0), TypeSpec("sync", 0.5, rate=RateSpec(10.0, 10.0))),
        groups=(
            TenantGroup("light", 10_000, 0.009, ("work",) * 9 + ("sync",)),
            TenantGroup("heavy", 10, 3.0, ("work",), tenant_rate=RateSpec(2.0, 5.0)),
        ),
    )


QUIET_RATE = 0.04


def heavy1000(
    heavy_rate: float = 80.0,
    heavy_from: float = 60.0,
    heavy_until: float = 120.0,
    duration: float = 300.0,
    tenancy: TenancySpec | None = None,
) -> Scenario:
    """999 quiet tenants at 0.04 tasks/s (40% of the pool in all) and one that sends like
    them, except from ``heavy_from`` to ``heavy_until`` s when it sends ``heavy_rate``
    tasks/s (80% of the pool: 120% demand), then cools down; its refused tasks are sent
    again after Retry-After, so it stays backlogged well after it cools down.

    Why not "100x the others' rate": among 1,000 tenants that is 100 of 1,099 shares of
    the traffic, 9%, which saturates nothing unless the quiet tenants alone fill 91% of
    the pool; saturation is what makes a backlog, so the heavy tenant here sends 2,000x.

    The dispatcher is given a shallow look-ahead (10 messages buffered per lane, as its
    default was before the 200-deep look-ahead, with nothing sidelined), so a lane is
    FIFO as moto serves it: the worst case, left for the tenancy layer (sharding, the
    pool) to fix; and no tenant may hold more than 40% of the slots (``tenant_share``):
    without that headroom quiet tasks wait for a slot to free, whatever the lanes do.
    """
    calm = QUIET_RATE / heavy_rate
    return Scenario(
        name="heavy1000",
        title=(
            f"1,000 tenants, one at {heavy_rate / QUIET_RATE:,.0f}x the others' rate "
            f"from {heavy_from:g} to {heavy_until:g} s"
        ),
        duration=duration,
        warmup=30.0,
        slots=100,
        tenant_share=0.4,
        # a shallow look-ahead (the dispatcher now holds 200 per lane): 10, nothing sidelined
        lookahead=Lookahead(per_tenant=100, total=100),
        buffer_per_lane=10,
        types=(TypeSpec("work", 1.0),),
        groups=(
            TenantGroup("quiet", 999, QUIET_RATE, ("work",)),
            TenantGroup(
                "heavy",
                1,
                heavy_rate,
                ("work",),
                profile=((0.0, calm), (heavy_from, 1.0), (heavy_until, calm)),
            ),
        ),
        strategies=("shared", "hashed", "sharded", "full"),
        tenancy=tenancy or TenancySpec(),
    )


SCENARIOS = {
    f.__name__: f for f in (noisy, weighted, priority, aimd, outage, tenants10k, heavy1000)
}

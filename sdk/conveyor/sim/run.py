"""Run a scenario under every strategy and check its targets."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

from .metrics import RunStats, summarize
from .scenarios import SCENARIOS
from .spec import Scenario
from .strategies import STRATEGIES
from .tenancy import TENANT_STRATEGIES
from .tenancy_report import ratio
from .world import World

ALL_STRATEGIES = {**STRATEGIES, **TENANT_STRATEGIES}
#: scenarios that also run without their "heavy" group, to compare quiet tenants' waits
WITH_AND_WITHOUT = ("noisy", "heavy1000")


@dataclass(frozen=True)
class Target:
    label: str
    value: float
    bound: str
    ok: bool
    baseline: str = ""


@dataclass
class Report:
    scenario: Scenario
    seed: int
    runs: dict[str, RunStats]
    alone: dict[str, RunStats] = field(default_factory=dict)
    targets: list[Target] = field(default_factory=list)


def simulate(scenario: Scenario, strategy: str, seed: int) -> RunStats:
    world = World(scenario, ALL_STRATEGIES[strategy], seed)
    return summarize(strategy, world.run())


def run(
    name: str,
    seed: int = 1,
    strategies: tuple[str, ...] | None = None,
    scenario: Scenario | None = None,
) -> Report:
    """Run scenario ``name`` (or ``scenario``, a variant of it) under ``strategies``
    (by default the scenario's own)."""
    scenario = scenario or SCENARIOS[name]()
    strategies = strategies or scenario.strategies
    report = Report(scenario, seed, {s: simulate(scenario, s, seed) for s in strategies})
    if name in WITH_AND_WITHOUT:
        quiet = scenario.without("heavy")
        report.alone = {s: simulate(quiet, s, seed) for s in strategies}
    check = TARGETS.get(name)
    report.targets = check(report) if check else []
    return report


def _noisy(r: Report) -> list[Target]:
    def ratio(s: str) -> float:
        alone = r.alone[s].group("quiet").p99
        return r.runs[s].group("quiet").p99 / alone if alone else math.inf

    others = ", ".join(f"{s} {ratio(s):.1f}x" for s in r.runs if s != "fair")
    value = ratio("fair")
    return [Target("quiet p99 with heavy / without", value, "<= 1.2", value <= 1.2, others)]


def _weighted(r: Report) -> list[Target]:
    fair = r.runs["fair"]
    dev = fair.window_dev or 0.0
    j = fair.jain or 0.0
    base = ", ".join(f"{s} {x.window_dev or 0:.0%}" for s, x in r.runs.items() if s != "fair")
    jb = ", ".join(f"{s} {x.jain or 0:.2f}" for s, x in r.runs.items() if s != "fair")
    return [
        Target("worst share gap vs weight, 60 s windows", dev, "<= 5%", dev <= 0.05, base),
        Target("Jain's index, weight-normalised", j, ">= 0.95", j >= 0.95, jb),
    ]


def _priority(r: Report) -> list[Target]:
    sc, fair = r.scenario, r.runs["fair"]
    out = []
    for c in ("normal", "low"):
        policy = sc.classes.get(c)
        share = policy.min_share if policy else 0.05
        aging = policy.aging if policy else 30.0
        got = fair.class_share_min.get(c, 0.0)
        out.append(
            Target(f"{c}: least share in a 60 s window", got, f">= {share:.0%}", got >= share)
        )
        worst = fair.max_wait.get(c, 0.0)
        base = ", ".join(
            f"{s} {x.max_wait.get(c, 0):.0f}s" for s, x in r.runs.items() if s != "fair"
        )
        out.append(
            Target(f"{c}: max wait, s", worst, f"<= {aging + 1:g}", worst <= aging + 1, base)
        )
    return out


def _aimd(r: Report) -> list[Target]:
    fair = r.runs["fair"]
    used = fair.used_pct["api"]
    settle = max(fair.settle.values())
    base = ", ".join(f"{s} {x.throttled_pct:.0f}%" for s, x in r.runs.items() if s != "fair")
    return [
        Target("capacity used, %", used, ">= 85", used >= 85),
        Target("calls throttled, %", fair.throttled_pct, "<= 2", fair.throttled_pct <= 2, base),
        Target("settle after halving, s", settle, "<= 30", settle <= 30),
    ]


def _rates(r: Report) -> list[Target]:
    fair = r.runs["fair"]
    excess = fair.rate_excess or 0.0
    base = ", ".join(f"{s} {x.rate_excess or 0:+.0f}" for s, x in r.runs.items() if s != "fair")
    return [Target("dispatches over rate*W+burst", excess, "<= 0", excess <= 0, base)]


def _outage(r: Report) -> list[Target]:
    out = []
    for s, x in r.runs.items():
        out.append(Target(f"{s}: drain after recovery, s", drain_time(x, 90.0), "", True))
    fair = r.runs["fair"]
    out.append(Target("fair: calls throttled, %", fair.throttled_pct, "", True))
    return out


def drain_time(stats: RunStats, recovered: float) -> float:
    """Seconds after ``recovered`` until the backlog is back to its level before the
    outage (its most over the 20 s before), inf if never."""
    before = [n for t, n in stats.backlog if recovered - 50 <= t < recovered - 30]
    level = max(before, default=0) + 10
    for t, n in stats.backlog:
        if t >= recovered and n <= level:
            return t - recovered
    return math.inf


def _heavy(r: Report) -> list[Target]:
    """The full design against the issue's bounds (other variants as baselines)."""
    log = r.runs["full"].tenancy
    heavy = r.scenario.tenancy.heavy if r.scenario.tenancy else "heavy"
    quiet_refused = sum(n for g, n in log.refused.items() if g != heavy)
    detected = math.inf if log.detected is None else log.detected - log.turned_heavy
    split = math.inf if log.split is None else log.split - log.turned_heavy
    merged = math.inf if log.merged is None else log.merged - log.cooled
    others = ", ".join(f"{s} {ratio(r, s):.1f}x" for s in r.runs if s != "full")
    return [
        Target(
            "quiet p99 with heavy / without",
            ratio(r, "full"),
            "<= 1.2",
            ratio(r, "full") <= 1.2,
            others,
        ),
        Target("heavy detected after, s", detected, "<= 10", detected <= 10),
        Target("moved to a pool lane after, s", split, "happens", split < math.inf),
        Target("heavy producer's 429s", float(log.refused[heavy]), "> 0", log.refused[heavy] > 0),
        Target("quiet producers' 429s", float(quiet_refused), "0", quiet_refused == 0),
        Target("merged back, s after cooldown", merged, "happens", 0 <= merged < math.inf),
    ]


TARGETS: dict[str, Callable[[Report], list[Target]]] = {
    "noisy": _noisy,
    "weighted": _weighted,
    "priority": _priority,
    "aimd": _aimd,
    "outage": _outage,
    "tenants10k": _rates,
    "heavy1000": _heavy,
}

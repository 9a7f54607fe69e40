"""Figures of one run: waits per tenant group, shares against weights, Jain's index,
worst waits per priority class, utilisation, throttled calls, rate-limit excess and how
fast each AIMD window settles after a capacity change. Pure functions of a Recorder."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from .record import Recorder

SETTLE_BAND = (0.75, 1.1)


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in [0, 100]); 0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def jain(values: Sequence[float]) -> float:
    """Jain's fairness index (sum x)^2 / (n * sum x^2), in [1/n, 1]; 1 for no values."""
    total = sum(values)
    squares = sum(x * x for x in values)
    return 1.0 if not squares else total * total / (len(values) * squares)


def max_in_window(times: Sequence[float], width: float) -> int:
    """Most events within any closed interval of ``width`` seconds."""
    best, lo = 0, 0
    for hi, t in enumerate(times):
        while t - times[lo] > width + 1e-9:
            lo += 1
        best = max(best, hi - lo + 1)
    return best


@dataclass
class GroupStats:
    label: str
    tasks: int
    p50: float
    p99: float
    worst: float
    exec_share: float
    weight_share: float


@dataclass
class RunStats:
    strategy: str
    groups: list[GroupStats]
    jain: float | None
    window_dev: float | None
    max_wait: dict[str, float]
    class_share: dict[str, float]
    class_share_min: dict[str, float]
    utilisation: float
    throttled_pct: float
    receives_per_task: float
    rate_excess: float | None
    used_pct: dict[str, float]
    settle: dict[str, float]
    events: int
    windows: list[tuple[float, dict[str, float], dict[str, float]]] = field(repr=False)
    backlog: list[tuple[float, int]] = field(repr=False)
    waits: list[tuple[str, str, str, float, float, bool]] = field(repr=False)
    tenancy: Any = None

    def group(self, label: str) -> GroupStats:
        return next(g for g in self.groups if g.label == label)


def summarize(strategy: str, rec: Recorder) -> RunStats:
    sc = rec.scenario
    span = rec.end - sc.warmup
    by_group: dict[str, list[float]] = defaultdict(list)
    by_class: dict[str, list[float]] = defaultdict(list)
    for group, _, priority, _, wait, _ in rec.waits:
        by_group[group].append(wait)
        by_class[priority].append(wait)
    exec_group: dict[str, float] = defaultdict(float)
    for tenant, seconds in rec.exec_tenant.items():
        exec_group[rec.group_of[tenant]] += seconds
    total_exec = sum(exec_group.values()) or 1.0
    total_weight = sum(g.count * g.weight for g in sc.groups)
    groups = [
        GroupStats(
            g.label,
            len(by_group[g.label]),
            percentile(by_group[g.label], 50),
            percentile(by_group[g.label], 99),
            max(by_group[g.label], default=0.0),
            exec_group[g.label] / total_exec,
            g.count * g.weight / total_weight,
        )
        for g in sc.groups
    ]
    return RunStats(
        strategy=strategy,
        groups=groups,
        jain=_jain(rec),
        window_dev=_window_dev(rec),
        max_wait={c: max(v) for c, v in sorted(by_class.items())},
        class_share=_class_share(rec, None),
        class_share_min=_class_share(rec, "min"),
        utilisation=rec.busy / (sc.slots * span),
        throttled_pct=100.0 * rec.throttled / max(1, rec.calls),
        receives_per_task=rec.receives / max(1, len(rec.waits)),
        rate_excess=_rate_excess(rec),
        used_pct={n: 100 * rec.used[n] / max(1e-9, rec.capacity[n]) for n in rec.used},
        settle=_settle(rec),
        events=rec.events,
        windows=rec.samples,
        backlog=rec.backlog,
        waits=rec.waits,
        tenancy=rec.tenancy,
    )


def _backlogged(rec: Recorder) -> dict[str, float]:
    """Weight of every tenant of a backlogged group."""
    return {
        g.tenant(i): g.weight for g in rec.scenario.groups if g.backlogged for i in range(g.count)
    }


def _jain(rec: Recorder) -> float | None:
    weights = _backlogged(rec)
    if len(weights) < 2:
        return None
    return jain([rec.exec_tenant.get(t, 0.0) / w for t, w in weights.items()])


def _full_windows(rec: Recorder) -> range:
    width = rec.scenario.share_window
    return range(math.ceil(rec.scenario.warmup / width), int(rec.end // width))


def _window_dev(rec: Recorder) -> float | None:
    """Worst relative gap between a backlogged tenant's share of executor-seconds in a
    full share window and its weight's share (0.05 = 5%)."""
    weights = _backlogged(rec)
    if len(weights) < 2:
        return None
    total_w = sum(weights.values())
    worst = 0.0
    for index in _full_windows(rec):
        served = {t: rec.exec_window.get((t, index), 0.0) for t in weights}
        total = sum(served.values())
        if total <= 0:
            continue
        for tenant, weight in weights.items():
            worst = max(worst, abs(served[tenant] / total / (weight / total_w) - 1))
    return worst


def _class_share(rec: Recorder, how: str | None) -> dict[str, float]:
    """Share of executor-seconds per class: overall, or the smallest over full windows."""
    classes = sorted({c for c, _ in rec.exec_class})
    windows = list(_full_windows(rec))
    if how is None:
        totals = {c: sum(rec.exec_class.get((c, i), 0.0) for i in windows) for c in classes}
        whole = sum(totals.values()) or 1.0
        return {c: v / whole for c, v in totals.items()}
    out: dict[str, float] = {}
    for c in classes:
        shares = []
        for i in windows:
            whole = sum(rec.exec_class.get((k, i), 0.0) for k in classes)
            if whole:
                shares.append(rec.exec_class.get((c, i), 0.0) / whole)
        out[c] = min(shares, default=0.0)
    return out


def _rate_excess(rec: Recorder) -> float | None:
    """Worst (dispatches in a window) - (rate * window + burst) over rate-limited keys and
    windows of 1, 10 and 60 s; <= 0 means every limit held."""
    specs = {("type", t.name): t.rate for t in rec.scenario.types if t.rate}
    for g in rec.scenario.groups:
        if g.tenant_rate:
            specs.update({("tenant", g.tenant(i)): g.tenant_rate for i in range(g.count)})
    worst: float | None = None
    for key, spec in specs.items():
        times = rec.dispatches.get(key, [])
        for width in (1.0, 10.0, 60.0):
            excess = max_in_window(times, width) - (spec.rate * width + spec.burst)
            worst = excess if worst is None else max(worst, excess)
    return worst


def _settle(rec: Recorder) -> dict[str, float]:
    """Seconds after each capacity change until the window stays within SETTLE_BAND of
    the new capacity (until the next change or the end); inf if it never does."""
    out: dict[str, float] = {}
    changes = sorted(rec.scenario.changes)
    for name in rec.used:
        for k, at in enumerate(changes):
            until = changes[k + 1] if k + 1 < len(changes) else rec.end
            points = [
                (t, w[name], c[name]) for t, w, c in rec.samples if at <= t < until and name in w
            ]
            settled = math.inf
            for t, window, cap in reversed(points):
                lo, hi = SETTLE_BAND
                if not lo * cap <= window <= hi * cap:
                    break
                settled = t - at
            out[f"{name}@{at:g}s"] = settled
    return out


def wait_series(stats: RunStats, bucket: float = 5.0) -> dict[str, list[tuple[float, float]]]:
    """p99 queue wait per tenant group of the tasks created in each ``bucket`` seconds."""
    buckets: dict[tuple[str, int], list[float]] = defaultdict(list)
    for group, _, _, created, wait, _ in stats.waits:
        buckets[(group, int(created // bucket))].append(wait)
    series: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for (group, index), values in sorted(buckets.items()):
        series[group].append((index * bucket, percentile(values, 99)))
    return series

"""The multi-tenant scenario's table and chart: per variant, the quiet tenants' p99 wait
with the heavy tenant against the same run without it, and what the tenancy did to the
heavy tenant (detected, moved to a pool lane, refused, merged back)."""

from __future__ import annotations

import math
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING

from rich.table import Table

from ..policy.sharding import blast_radius
from .metrics import RunStats, percentile, wait_series
from .tenancy import VARIANTS, TenancyLog

if TYPE_CHECKING:
    from .run import Report

QUIET = "quiet"


def _at(value: float | None, since: float) -> str:
    return "-" if value is None else f"{value:.0f}s +{value - since:.0f}"


def ratio(report: Report, variant: str) -> float:
    """Quiet tenants' p99 wait with the heavy tenant / without it (inf if 0 without)."""
    alone = report.alone[variant].group(QUIET).p99
    return report.runs[variant].group(QUIET).p99 / alone if alone else math.inf


def neighbours_p99(stats: RunStats) -> float:
    """p99 wait of the quiet tenants that share a lane with the heavy tenant."""
    log: TenancyLog = stats.tenancy
    return percentile([w for g, t, _, _, w, _ in stats.waits if t in log.neighbours], 99)


def tenancy_tables(report: Report) -> list[Table]:
    sc, spec = report.scenario, report.scenario.tenancy
    assert spec is not None
    table = Table(
        title=f"{sc.name}: quiet tenants and the heavy one (seed {report.seed})",
        title_justify="left",
    )
    for col in (
        "variant",
        "lanes",
        "quiet p99 s",
        "alone",
        "ratio",
        "nbrs p99",
        "quiet max",
        "detected",
        "to pool",
        "429 heavy",
        "429 quiet",
        "merged",
        "heavy p99",
        "rcv/task",
    ):
        table.add_column(col, justify="left" if col in ("variant", "lanes") else "right")
    for name, stats in report.runs.items():
        log: TenancyLog = stats.tenancy
        quiet = stats.group(QUIET)
        alone = report.alone[name].group(QUIET) if name in report.alone else None
        pool = spec.pool if VARIANTS[name].pool else 0
        heavy = [g for g in stats.groups if g.label == spec.heavy]
        table.add_row(
            name,
            f"{log.lanes}" + (f"/k{log.spread}" if log.lanes > 1 else "") + f"+{pool}",
            f"{quiet.p99:.3f}",
            f"{alone.p99:.3f}" if alone else "-",
            f"{ratio(report, name):.2f}x" if alone else "-",
            f"{neighbours_p99(stats):.3f}",
            f"{quiet.worst:.2f}",
            "-" if log.detected is None else f"+{log.detected - log.turned_heavy:.1f}s",
            _at(log.split, log.turned_heavy) if VARIANTS[name].pool else "-",
            str(log.refused[spec.heavy]),
            str(sum(n for g, n in log.refused.items() if g != spec.heavy)),
            _at(log.merged, log.cooled),
            f"{heavy[0].p99:.1f}" if heavy else "-",
            f"{stats.receives_per_task:.2f}",
        )
    table.caption = (
        f"lanes: N per class/k per tenant+pool lanes. {VARIANTS_CAPTION}. alone: the same "
        "run without the heavy tenant; nbrs: quiet tenants sharing a lane with it. "
        f"Blast radius of N={spec.shards}, k={spec.spread}: "
        f"1/C({spec.shards},{spec.spread}) = {blast_radius(spec.shards, spec.spread):.2%} "
        "of tenant pairs share all their lanes. Times: simulated s (+ after the heavy tenant "
        "turns heavy; for 'merged', + after it cools down)."
    )
    table.caption_justify = "left"
    return [table]


VARIANTS_CAPTION = "; ".join(f"{n}: {v.title}" for n, v in VARIANTS.items())


def tenancy_chart(report: Report, out: Path) -> Path:
    """Quiet p99 wait over time per variant; the heavy tenant's route and refusals."""
    import matplotlib.pyplot as plt

    fig, (waits, route) = plt.subplots(2, 1, figsize=(9, 6.5), sharex=True)
    for name, stats in report.runs.items():
        points = wait_series(stats).get(QUIET, [])
        waits.plot([t for t, _ in points], [w for _, w in points], label=name)
    waits.set_yscale("symlog", linthresh=0.1)
    waits.set_ylabel("quiet p99 wait, s")
    waits.set_title(f"{report.scenario.name}: quiet tenants' p99 queue wait per 5 s")
    waits.legend(fontsize="small")
    full = next((s for n, s in report.runs.items() if VARIANTS[n].pool), None)
    if full is not None:
        log: TenancyLog = full.tenancy
        level = {"shards": 0, "draining": 0.5, "pool": 1}
        steps = [*log.route, (report.scenario.duration, log.route[-1][1])] if log.route else []
        route.step([t for t, _ in steps], [level[w] for _, w in steps], where="post", label="route")
        route.set_yticks([0, 0.5, 1], ["shards", "draining", "pool lane"])
        route.axvspan(log.turned_heavy, log.cooled, alpha=0.1, label="heavy phase")
        per_second = Counter(int(t) for t in log.refusals)
        twin = route.twinx()
        twin.bar(list(per_second), list(per_second.values()), width=1.0, color="C3", alpha=0.5)
        twin.set_ylabel("429s per s", color="C3")
        route.set_title("full: the heavy tenant's route, and its producer's 429s")
    route.set_xlabel("simulated s")
    fig.tight_layout()
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{report.scenario.name}-tenancy.png"
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path

"""Print a scenario's tables (rich) and draw its charts (matplotlib, when installed)."""

from __future__ import annotations

import math
from pathlib import Path

from rich.console import Console
from rich.table import Table

from .metrics import RunStats, wait_series
from .run import Report
from .tenancy_report import tenancy_chart, tenancy_tables

CLASSES = ("high", "normal", "low")


def _s(value: float) -> str:
    if math.isinf(value):
        return "inf"
    return f"{value:.3f}" if value < 1 else f"{value:.1f}"


def tables(report: Report) -> list[Table]:
    sc = report.scenario
    waits = Table(title=f"{sc.name}: {sc.title} (seed {report.seed})", title_justify="left")
    for col in (
        "policy",
        "tenants",
        "tasks",
        "p50 wait s",
        "p99 wait s",
        "exec-s share",
        "weight share",
    ):
        waits.add_column(col, justify="left" if col in ("policy", "tenants") else "right")
    for name, stats in report.runs.items():
        for g in stats.groups:
            extra = ""
            if report.alone and g.label in {x.label for x in report.alone[name].groups}:
                extra = f" (alone {_s(report.alone[name].group(g.label).p99)})"
            waits.add_row(
                name,
                g.label,
                str(g.tasks),
                _s(g.p50),
                _s(g.p99) + extra,
                f"{g.exec_share:.1%}",
                f"{g.weight_share:.1%}",
            )
    summary = Table(title=f"{sc.name}: per policy", title_justify="left")
    cols = ["policy", "Jain", "worst 60s gap", *(f"max wait {c}" for c in CLASSES)]
    cols += [
        "utilisation",
        "throttled %",
        "receives/task",
        "rate excess",
        "downstream used",
        "settle s",
    ]
    for col in cols:
        summary.add_column(col, justify="left" if col == "policy" else "right")
    for name, x in report.runs.items():
        summary.add_row(*_summary_row(name, x))
    held = "full" if sc.tenancy is not None else "fair"
    targets = Table(title=f"{sc.name}: targets ({held})", title_justify="left")
    for col in ("target", "value", "bound", "met", "baselines"):
        targets.add_column(col)
    for t in report.targets:
        met = "" if not t.bound else ("yes" if t.ok else "NO")
        targets.add_row(
            t.label,
            _s(t.value) if t.value >= 0.1 or t.value == 0 else f"{t.value:.3f}",
            t.bound,
            met,
            t.baseline,
        )
    out = [waits, summary, targets]
    if sc.tenancy is not None:
        out[1:1] = tenancy_tables(report)
    return out


def _summary_row(name: str, x: RunStats) -> list[str]:
    return [
        name,
        "-" if x.jain is None else f"{x.jain:.3f}",
        "-" if x.window_dev is None else f"{x.window_dev:.1%}",
        *(_s(x.max_wait[c]) if c in x.max_wait else "-" for c in CLASSES),
        f"{x.utilisation:.1%}",
        f"{x.throttled_pct:.2f}",
        f"{x.receives_per_task:.2f}",
        "-" if x.rate_excess is None else f"{x.rate_excess:+.0f}",
        ", ".join(f"{v:.0f}%" for v in x.used_pct.values()) or "-",
        ", ".join(_s(v) for v in x.settle.values()) or "-",
    ]


def print_report(report: Report, console: Console | None = None) -> None:
    console = console or Console(width=160)
    for table in tables(report):
        console.print(table)


def charts(report: Report, out: Path) -> list[Path]:
    """Queue wait over time per tenant class, and AIMD windows against capacity."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return []
    out.mkdir(parents=True, exist_ok=True)
    name = report.scenario.name
    written = []
    fig, axes = plt.subplots(1, len(report.runs), figsize=(5 * len(report.runs), 3.5), sharey=True)
    for ax, (strategy, stats) in zip(axes, report.runs.items(), strict=True):
        for label, points in wait_series(stats).items():
            ax.plot([p[0] for p in points], [p[1] for p in points], label=label)
        ax.set_title(f"{strategy}: p99 queue wait per 5 s")
        ax.set_xlabel("simulated s (task created)")
        ax.set_yscale("symlog", linthresh=0.1)
    axes[0].set_ylabel("seconds")
    axes[0].legend(fontsize="small")
    fig.tight_layout()
    path = out / f"{name}-wait.png"
    fig.savefig(path, dpi=90)
    plt.close(fig)
    written.append(path)
    if report.scenario.tenancy is not None:
        written.append(tenancy_chart(report, out))
    fair = report.runs.get("fair")
    if fair and any(w for _, w, _ in fair.windows):
        fig, ax = plt.subplots(figsize=(7, 3.5))
        times = [t for t, _, _ in fair.windows]
        for target in fair.windows[-1][1]:
            ax.plot(times, [w.get(target, 0) for _, w, _ in fair.windows], label=f"window {target}")
            ax.plot(
                times,
                [c.get(target, 0) for _, _, c in fair.windows],
                "--",
                label=f"capacity {target}",
            )
        ax.set_xlabel("simulated s")
        ax.set_ylabel("calls in flight")
        ax.set_title(f"{name}: AIMD window vs downstream capacity")
        ax.legend(fontsize="small")
        fig.tight_layout()
        path = out / f"{name}-aimd.png"
        fig.savefig(path, dpi=90)
        plt.close(fig)
        written.append(path)
    return written

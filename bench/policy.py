"""Policy speed: scheduling decisions per second with 10,000 active tenants, the fair
scheduler (alone, and behind the admission gate as the dispatcher runs it) beside the
current ``WeightedLanePicker``. One core; the rate is per CPU second of this process (other
load on a shared machine skews it less than wall clock, which is printed beside it).
Printed, not asserted.

A decision here is one ``next`` (plus the ``on_outcome`` and the ``offer`` that keep
every tenant backlogged), so the heap always holds all the tenants. The gated rows check
every ticket against limits that are configured but never reached, so the gate does all
its work and never blocks: "type limits" is a concurrency quota and a rate per task type;
"every limit" adds per-class and per-tenant quotas, a default per-tenant rate and an AIMD
window per executor target, as ``build_brain`` gives the dispatcher.

Each configuration runs ``--repeats`` times, interleaved (the order rotates every
round) so a noisy neighbour on the machine slows all of them alike; the table shows the
median and the spread.

    python -m bench.policy [--tenants N] [--decisions N] [--repeats N]
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "sdk"))

from rich.console import Console
from rich.table import Table

from conveyor.model import PRIORITY_WEIGHTS
from conveyor.policy.aimd import AimdSpec
from conveyor.policy.fair import FairScheduler, Ticket
from conveyor.policy.limits import AdmissionGate
from conveyor.policy.picker import WeightedLanePicker
from conveyor.policy.rates import RateLimits, RateSpec

CLASSES = tuple(PRIORITY_WEIGHTS)
TYPES = ("email", "report")


def type_limits_gate(decisions: int) -> AdmissionGate:
    rates = RateLimits()
    rates.set(("type", "report"), RateSpec(1e9, 1e9))
    return AdmissionGate(
        max_in_flight=decisions + 1, type_quota={"report": decisions + 1}, rates=rates
    )


def every_limit_gate(decisions: int) -> AdmissionGate:
    rates = RateLimits()
    for name in TYPES:
        rates.set(("type", name), RateSpec(1e9, 1e9))
    rates.set_default("tenant", RateSpec(1000.0, 100.0))  # each tenant: ~1 decision/s here
    big = decisions + 1
    window = AimdSpec(initial=big, maximum=big)
    return AdmissionGate(
        max_in_flight=big,
        type_quota=dict.fromkeys(TYPES, big),
        class_quota=dict.fromkeys(CLASSES, big),
        tenant_quota=lambda _tenant: 10,
        target_of={"email": "smtp"},
        windows={"smtp": window, "report": window},
        rates=rates,
    )


def fair(
    tenants: int, decisions: int, *, gate: Callable[[int], AdmissionGate] | None = None
) -> tuple[float, float]:
    rng = random.Random(1)
    weights = {f"t{i}": 1.0 + i % 3 for i in range(tenants)}
    scheduler = FairScheduler(weight_of=weights.__getitem__)
    admission = gate(decisions) if gate is not None else None
    for i in range(tenants * 2):
        scheduler.offer(Ticket(TYPES[i % 2], f"t{i % tenants}", CLASSES[i % 3]), 0.0)
    now = 0.0
    eligible = (lambda t: admission.check(t, now) is None) if admission is not None else None
    start, wall = time.process_time(), time.perf_counter()
    for _ in range(decisions):
        now += 0.0001
        ticket = scheduler.next(now, eligible)
        assert ticket is not None
        if admission is not None:
            admission.acquire(ticket, now)
            admission.release(ticket, now, throttled=False, backlogged=True)
        scheduler.on_outcome(ticket, rng.expovariate(1.0))
        scheduler.offer(Ticket(ticket.task_type, ticket.tenant, ticket.priority), now)
    return _rates(decisions, start, wall)


def picker(decisions: int) -> tuple[float, float]:
    lanes = {c: [f"{c}-{s}" for s in range(4)] for c in CLASSES}
    pick = WeightedLanePicker(lanes, PRIORITY_WEIGHTS)
    start, wall = time.process_time(), time.perf_counter()
    for _ in range(decisions):
        pick.order()
    return _rates(decisions, start, wall)


def _rates(decisions: int, cpu_start: float, wall_start: float) -> tuple[float, float]:
    """Decisions per CPU second and per wall-clock second since the starts."""
    cpu = time.process_time() - cpu_start
    wall = time.perf_counter() - wall_start
    return decisions / cpu, decisions / wall


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tenants", type=int, default=10_000)
    parser.add_argument("--decisions", type=int, default=200_000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args(argv)
    n, d = args.tenants, args.decisions
    rows: list[tuple[str, str, str, Callable[[], tuple[float, float]]]] = [
        ("WeightedLanePicker.order (today)", "no", "", lambda: picker(d)),
        ("FairScheduler.next", "yes", ">= 50,000", lambda: fair(n, d)),
        (
            "FairScheduler.next + AdmissionGate (type limits)",
            "yes",
            ">= 50,000",
            lambda: fair(n, d, gate=type_limits_gate),
        ),
        (
            "FairScheduler.next + AdmissionGate (every limit)",
            "yes",
            ">= 50,000",
            lambda: fair(n, d, gate=every_limit_gate),
        ),
    ]
    runs: list[list[tuple[float, float]]] = [[] for _ in rows]
    for r in range(args.repeats):
        for k in range(len(rows)):
            i = (k + r) % len(rows)
            runs[i].append(rows[i][3]())
    table = Table(
        title=f"Scheduling decisions per second, {n:,} active tenants "
        f"(median of {args.repeats} interleaved runs of {d:,})"
    )
    columns = ("policy", "knows tenants", "decisions/s", "min - max", "wall-clock /s", "target")
    for col in columns:
        numeric = col in ("decisions/s", "min - max", "wall-clock /s")
        table.add_column(col, justify="right" if numeric else "left")
    for (name, knows, target, _), got in zip(rows, runs, strict=True):
        cpu = [c for c, _ in got]
        table.add_row(
            name,
            knows,
            f"{statistics.median(cpu):,.0f}",
            f"{min(cpu):,.0f} - {max(cpu):,.0f}",
            f"{statistics.median(w for _, w in got):,.0f}",
            target,
        )
    Console(width=140).print(table)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

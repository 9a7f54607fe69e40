"""Policy speed: scheduling decisions per second with 10,000 active tenants, the fair
scheduler (alone, and behind the admission gate as the dispatcher runs it) beside the
current ``WeightedLanePicker``. One core, wall clock, printed not asserted.

A decision here is one ``next`` (plus the ``on_outcome`` and the ``offer`` that keep
every tenant backlogged), so the heap always holds all the tenants.

    python -m bench.policy [--tenants N] [--decisions N]
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "sdk"))

from rich.console import Console
from rich.table import Table

from conveyor.model import PRIORITY_WEIGHTS
from conveyor.policy.fair import FairScheduler, Ticket
from conveyor.policy.limits import AdmissionGate
from conveyor.policy.picker import WeightedLanePicker
from conveyor.policy.rates import RateLimits, RateSpec

CLASSES = tuple(PRIORITY_WEIGHTS)


def fair(tenants: int, decisions: int, *, gated: bool) -> float:
    rng = random.Random(1)
    weights = {f"t{i}": 1.0 + i % 3 for i in range(tenants)}
    scheduler = FairScheduler(weight_of=weights.__getitem__)
    rates = RateLimits()
    rates.set(("type", "report"), RateSpec(1e9, 1e9))
    gate = AdmissionGate(
        max_in_flight=decisions + 1, type_quota={"report": decisions + 1}, rates=rates
    )
    for i in range(tenants * 2):
        ticket = Ticket(("email", "report")[i % 2], f"t{i % tenants}", CLASSES[i % 3])
        scheduler.offer(ticket, 0.0)
    eligible = (lambda t: gate.check(t, now) is None) if gated else None
    now = 0.0
    start = time.perf_counter()
    for _ in range(decisions):
        now += 0.0001
        ticket = scheduler.next(now, eligible)
        assert ticket is not None
        if gated:
            gate.acquire(ticket, now)
            gate.release(ticket, now, throttled=False, backlogged=True)
        scheduler.on_outcome(ticket, rng.expovariate(1.0))
        scheduler.offer(Ticket(ticket.task_type, ticket.tenant, ticket.priority), now)
    return decisions / (time.perf_counter() - start)


def picker(decisions: int) -> float:
    lanes = {c: [f"{c}-{s}" for s in range(4)] for c in CLASSES}
    pick = WeightedLanePicker(lanes, PRIORITY_WEIGHTS)
    start = time.perf_counter()
    for _ in range(decisions):
        pick.order()
    return decisions / (time.perf_counter() - start)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tenants", type=int, default=10_000)
    parser.add_argument("--decisions", type=int, default=200_000)
    args = parser.parse_args(argv)
    table = Table(title=f"Scheduling decisions per second, {args.tenants:,} active tenants")
    for col in ("policy", "knows tenants", "decisions/s", "target"):
        table.add_column(col, justify="right" if col == "decisions/s" else "left")
    table.add_row("WeightedLanePicker.order (today)", "no", f"{picker(args.decisions):,.0f}", "")
    table.add_row(
        "FairScheduler.next",
        "yes",
        f"{fair(args.tenants, args.decisions, gated=False):,.0f}",
        ">= 50,000",
    )
    table.add_row(
        "FairScheduler.next + AdmissionGate",
        "yes",
        f"{fair(args.tenants, args.decisions, gated=True):,.0f}",
        ">= 50,000",
    )
    Console(width=120).print(table)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

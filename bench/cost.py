"""Cost benchmark: AWS requests and dollars per million tasks, Conveyor vs a hand-wired
baseline, at three load levels, events on and off.

Every request of every process in a task's life is counted (the SDK, the dispatcher
service with production settings, the real Lambda entry behind an in-process Invoke,
EventBridge), by one botocore hook that applies AWS's billing rules. All workloads run at
once against the same in-process moto, so idle long polls and batching see real time.
moto's speed says nothing about AWS's: only the counts matter.

    python -m bench.cost [--scale 1.0] [--json out.json]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import sys
import warnings
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
for _k, _v in {
    "AWS_ACCESS_KEY_ID": "bench",
    "AWS_SECRET_ACCESS_KEY": "bench",
    "AWS_DEFAULT_REGION": "us-east-1",
    "POWERTOOLS_LOG_LEVEL": "ERROR",
    "POWERTOOLS_TRACE_DISABLED": "true",
    "POWERTOOLS_METRICS_NAMESPACE": "Conveyor",
}.items():
    os.environ.setdefault(_k, _v)
warnings.filterwarnings("ignore", message="No application metrics to publish")

from moto import mock_aws  # noqa: E402
from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402

from conveyor.cost import PRICES, per_million  # noqa: E402
from conveyor.local.atomic import make_dynamodb_atomic  # noqa: E402

from .catalog import MODES  # noqa: E402
from .lifecycle import Deployment, Load, Result  # noqa: E402
from .naive import NaiveDeployment  # noqa: E402

#: USD per 1M tasks the issue sets for full guarantees, events off.
TARGETS = {"backlog": 2.30, "10 tasks/s": 2.60}
FLOOR = 3 * 0.625 + 0.3 * 0.40 + 0.20  # 3 WRU, SQS send/receive/delete by 10, one Invoke


def loads(scale: float) -> list[Load]:
    return [
        Load("backlog", max(50, int(400 * scale))),
        Load("10 tasks/s", max(20, int(300 * scale)), rate=10.0),
        Load("1 task/s", max(5, int(20 * scale)), rate=1.0),
    ]


def row(result: Result) -> dict[str, Any]:
    requests, units = result.counter.snapshot()
    n = result.tasks
    return {
        "approach": result.approach,
        "load": result.load,
        "tasks": n,
        "requests_per_task": sum(requests.values()) / n,
        "units_per_task": {k: v / n for k, v in sorted(units.items())},
        "usd_per_million_tasks": per_million(units, n),
        "wall_seconds": result.seconds,
        "submit_seconds": result.submit_seconds,
        "requests": {f"{s}:{o}": c for (s, o), c in sorted(requests.items())},
    }


def run(scale: float) -> list[dict[str, Any]]:
    """The backlog first (all approaches at once), then both trickles together: a backlog
    would slow moto enough that a trickle could not keep its rate."""
    results: list[Result] = []
    make_dynamodb_atomic()  # moto's conditional writes are not atomic across threads
    with mock_aws(), contextlib.redirect_stdout(io.StringIO()):  # EMF metric lines
        backlog, *trickles = loads(scale)
        for phase in ([backlog], trickles):
            jobs = []
            for load in phase:
                i = len(results) + len(jobs)
                naive = NaiveDeployment(f"n{i}")
                jobs.append(lambda naive=naive, load=load: naive.run(load))
                for mode, task_type in MODES.items():
                    deployment = Deployment(f"c{i}{len(jobs)}")
                    jobs.append(
                        lambda d=deployment, t=task_type, m=mode, load=load: d.run(
                            f"conveyor, {m}", t, load
                        )
                    )
            with ThreadPoolExecutor(max_workers=len(jobs)) as pool:
                results += pool.map(lambda job: job(), jobs)
    return [row(r) for r in results]


def render(rows: list[dict[str, Any]], console: Console) -> None:
    for load in dict.fromkeys(r["load"] for r in rows):
        group = [r for r in rows if r["load"] == load]
        base = next(r for r in group if "baseline" in r["approach"])["usd_per_million_tasks"]
        target = TARGETS.get(load)
        title = f"{load}: {group[0]['tasks']} tasks, submit -> SUCCEEDED, every process counted"
        if target:
            title += f" (target, events off: <= ${target:.2f}/1M)"
        table = Table(title=title)
        for column in (
            "approach",
            "req/task",
            "WRU",
            "RRU",
            "SQS units",
            "events",
            "invokes",
            "USD per 1M",
            "vs baseline",
            "rate achieved",
        ):
            table.add_column(column, justify="left" if column == "approach" else "right")
        for r in group:
            u = r["units_per_task"]
            table.add_row(
                r["approach"],
                f"{r['requests_per_task']:.2f}",
                f"{u.get('ddb_wru', 0):.2f}",
                f"{u.get('ddb_rru', 0):.3f}",
                f"{u.get('sqs_requests', 0):.3f}",
                f"{u.get('events', 0):.2f}",
                f"{u.get('lambda_requests', 0):.2f}",
                f"${r['usd_per_million_tasks']:.3f}",
                f"{r['usd_per_million_tasks'] / base:.2f}x" if base else "-",
                f"{r['tasks'] / r['submit_seconds']:.1f}/s" if "/s" in load else "-",
            )
        console.print(table)
    console.print(
        f"Floor for these guarantees: 3 WRU + 0.3 SQS + 1 Invoke = ${FLOOR:.3f} per 1M tasks; "
        f"an event adds ${PRICES['events'] * 1e6:.2f}. Lambda compute is excluded (the same "
        "for both)."
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0, help="multiply task counts")
    parser.add_argument("--json", type=Path, default=None, help="also write the rows here")
    args = parser.parse_args(argv)
    rows = run(args.scale)
    render(rows, Console(width=150))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""``make demo``: the example catalog on a fresh dev cloud, end to end.

Starts moto server on loopback, provisions the example catalog, submits the tasks of a
small SaaS day with ``submit_many`` (many tenants, every priority), and prints a table of
task states by type.
"""

from __future__ import annotations

import random
import time
from collections import Counter
from typing import Any

from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from ..admission import SubmitRequest
from ..catalog import load_catalog
from ..model import TaskState
from ..topology import Topology
from .devcloud import DevCloud, dev_client

CATALOG = "examples.catalog"


def demo_requests(count: int, rng: random.Random) -> list[SubmitRequest]:
    """A realistic mix: emails and thumbnails dominate, a heavy tenant, some webhooks."""
    tenants = [f"tenant-{i:02d}" for i in range(12)]
    out: list[SubmitRequest] = []
    for n in range(count):
        tenant = "tenant-00" if rng.random() < 0.3 else rng.choice(tenants)
        roll = rng.random()
        if roll < 0.35:
            out.append(
                SubmitRequest(
                    "send_welcome_email",
                    {"email": f"user{n}@example.com", "name": f"User {n}"},
                    tenant=tenant,
                )
            )
        elif roll < 0.70:
            out.append(
                SubmitRequest(
                    "make_thumbnail",
                    {
                        "key": f"uploads/{n}.png",
                        "width": rng.randint(300, 4000),
                        "height": rng.randint(300, 4000),
                    },
                    tenant=tenant,
                )
            )
        elif roll < 0.93:
            out.append(
                SubmitRequest(
                    "call_webhook",
                    {"url": f"https://hooks.example/{n}", "fail_first": 1 if n % 9 == 0 else 0},
                    tenant=tenant,
                )
            )
        elif roll < 0.99:
            out.append(SubmitRequest("nightly_report", {"rows": n}, tenant=tenant))
        else:
            out.append(SubmitRequest("reindex_catalog", {"chunks": 3}, tenant=tenant))
    return out


def states_table(client: Any, title: str) -> tuple[Table, Counter[str]]:
    counts: Counter[tuple[str, str]] = Counter()
    totals: Counter[str] = Counter()
    for task_type in client.catalog:
        cursor = None
        while True:
            page = client.list(task_type=task_type.name, limit=1000, cursor=cursor)
            for record in page.records:
                counts[(task_type.name, record.state.value)] += 1
                totals[record.state.value] += 1
            cursor = page.cursor
            if not cursor:
                break
    states = [s.value for s in TaskState]
    table = Table(title=title)
    table.add_column("task type")
    for state in states:
        table.add_column(state, justify="right")
    table.add_column("total", justify="right")
    for task_type in client.catalog:
        row = [counts[(task_type.name, s)] for s in states]
        table.add_row(task_type.name, *map(str, row), str(sum(row)))
    table.add_row(
        "[bold]all", *(f"[bold]{totals[s]}" for s in states), f"[bold]{sum(totals.values())}"
    )
    return table, totals


def run_demo(*, tasks: int = 1000, console: Console | None = None, seed: int = 7) -> int:
    console = console or Console()
    catalog = load_catalog(CATALOG)
    started = time.perf_counter()
    with DevCloud(catalog, Topology(prefix="demo"), catalog_module=CATALOG) as cloud:
        console.print(
            f"[bold green]dev cloud[/] {cloud.endpoint}: "
            f"{len(cloud.provisioned.queues) if cloud.provisioned else 0} queues, "
            f"table {cloud.topology.table}"
        )
        client = dev_client(cloud)
        requests = demo_requests(tasks, random.Random(seed))
        created = 0
        with Progress(console=console, transient=True) as progress:
            bar = progress.add_task("submitting", total=len(requests))
            for start in range(0, len(requests), 100):
                results = client.submit_many(requests[start : start + 100])
                created += sum(r.created for r in results)
                progress.advance(bar, len(results))
        console.print(
            f"submitted {created} tasks with submit_many in {time.perf_counter() - started:.1f}s"
        )
        table, totals = states_table(client, "Task states")
        console.print(table)
        if sum(totals.values()) != created:
            console.print("[red]task count mismatch[/]")
            return 1
    return 0

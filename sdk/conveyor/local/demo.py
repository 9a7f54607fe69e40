"""``make demo``: the example catalog end to end on a fresh dev cloud.

Starts moto server on loopback, provisions the example catalog, starts the platform
(dispatcher, local executors, autoscaled worker processes), and runs a small SaaS day:
1,000+ tasks over many tenants and every priority -- successes, flaky webhooks that
succeed after retries, bad emails that fail fatally into the DLQ, long re-index tasks on
workers scaled up from zero and back, a cancelled batch, tasks that expire while their
type is paused, and a paused-then-resumed type. Prints progress, then the final table of
states with queue-wait and run-time percentiles, and exits 0 only if every task ended in
the state it should.
"""

from __future__ import annotations

import os
import random
import shutil
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from ..admission import SubmitRequest
from ..aws import requestlog
from ..catalog import load_catalog
from ..model import TaskRecord, TaskState
from ..topology import Topology
from .costcheck import compare
from .devcloud import DevCloud
from .platform import LocalPlatform

CATALOG = "examples.catalog"


def demo_requests(count: int, rng: random.Random) -> list[SubmitRequest]:
    """A realistic mix: emails and thumbnails dominate, one heavy tenant, some webhooks
    that fail transiently, a few bad addresses, nightly reports and long re-indexes."""
    tenants = [f"tenant-{i:02d}" for i in range(12)]
    out: list[SubmitRequest] = []
    for n in range(count):
        tenant = "tenant-00" if rng.random() < 0.3 else rng.choice(tenants)
        roll = rng.random()
        if roll < 0.35:
            email = f"user{n}@example.com" if n % 50 else f"user{n}-at-nowhere"
            out.append(SubmitRequest("send_welcome_email", {"email": email}, tenant=tenant))
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
                    {
                        "url": f"https://hooks.example/{n}",
                        "fail_first": 1 if n % 7 == 0 else 0,
                        "throttle_first": 1 if n % 11 == 0 else 0,
                    },
                    tenant=tenant,
                )
            )
        elif roll < 0.99:
            out.append(SubmitRequest("nightly_report", {"rows": n}, tenant=tenant))
        else:
            out.append(
                SubmitRequest("reindex_catalog", {"chunks": 4, "chunk_seconds": 0.5}, tenant=tenant)
            )
    return out


def expected_state(request: SubmitRequest, cancelled: bool, expiring: bool) -> TaskState:
    if cancelled:
        return TaskState.CANCELLED
    if expiring:
        return TaskState.EXPIRED
    if request.task_type == "send_welcome_email" and "@" not in request.payload["email"]:
        return TaskState.FAILED
    return TaskState.SUCCEEDED


def all_records(client: Any) -> list[TaskRecord]:
    out: list[TaskRecord] = []
    for task_type in client.catalog:
        cursor = None
        while True:
            page = client.list(task_type=task_type.name, limit=1000, cursor=cursor)
            out.extend(page.records)
            cursor = page.cursor
            if not cursor:
                break
    return out


def pct(values: list[int], q: float) -> str:
    if not values:
        return "-"
    ordered = sorted(values)
    return f"{ordered[min(len(ordered) - 1, int(q * len(ordered)))]:,}"


def summary_table(records: list[TaskRecord], catalog: Any) -> Table:
    states = [s.value for s in TaskState]
    table = Table(title="Task states, queue wait and run time (ms)")
    table.add_column("task type")
    for state in states:
        table.add_column(state[:9], justify="right")
    for column in ("wait p50", "wait p95", "run p50", "run p95"):
        table.add_column(column, justify="right")
    by_type: dict[str, list[TaskRecord]] = defaultdict(list)
    for record in records:
        by_type[record.task_type].append(record)
    for task_type in [t.name for t in catalog] + ["all"]:
        rows = records if task_type == "all" else by_type[task_type]
        counts = Counter(r.state.value for r in rows)
        done = [r for r in rows if r.state is TaskState.SUCCEEDED]
        waits = [r.queue_wait_ms for r in done]
        runs = [r.run_ms for r in done]
        style = "[bold]" if task_type == "all" else ""
        table.add_row(
            style + task_type,
            *(f"{style}{counts[s]}" for s in states),
            pct(waits, 0.5),
            pct(waits, 0.95),
            pct(runs, 0.5),
            pct(runs, 0.95),
        )
    return table


def run_demo(
    *,
    tasks: int = 1000,
    console: Console | None = None,
    seed: int = 7,
    timeout: float = 600.0,
    report: str | Path | None = None,
) -> int:
    """``report``: also count every request of every process independently
    (``aws.requestlog``, in the directory ``<report>.requests``), compare it with
    ``conveyor cost --by tenant`` after the run, print one line and save the numbers as
    JSON at ``report``."""
    console = console or Console()
    catalog = load_catalog(CATALOG)
    rng = random.Random(seed)
    started = time.monotonic()
    started_ms = int(time.time() * 1000)
    log_dir = _fresh_log_dir(report) if report is not None else None
    with DevCloud(catalog, Topology(prefix="demo"), catalog_module=CATALOG) as cloud:
        assert cloud.provisioned is not None
        console.print(
            f"[bold green]dev cloud[/] {cloud.endpoint}: "
            f"{len(cloud.provisioned.queues)} queues, table {cloud.topology.table}"
        )
        if log_dir is not None:  # from here on (not provisioning): the platform's own run
            os.environ[requestlog.REQUEST_LOG_ENV] = str(log_dir)
        platform = LocalPlatform(
            cloud, dispatcher_options={"hold_seconds": 3.0, "pause_refresh": 0.5}
        )
        client = platform.runtime.client()
        client.pause(task_type="make_thumbnail")
        console.print("paused make_thumbnail: its tasks are held until resume")
        requests = demo_requests(tasks, rng)
        batch = [
            SubmitRequest("nightly_report", {"rows": i}, tenant="tenant-99", tags=("cancel-me",))
            for i in range(20)
        ]
        expiring = [
            SubmitRequest(
                "make_thumbnail", {"key": f"stale/{i}", "width": 10, "height": 10}, ttl=2.0
            )
            for i in range(5)
        ]
        expected: dict[str, TaskState] = {}
        with platform:
            for start in range(0, len(requests), 100):
                chunk = requests[start : start + 100]
                for request, result in zip(chunk, client.submit_many(chunk), strict=True):
                    expected[result.task_id] = expected_state(request, False, False)
            client.pause(tenant="tenant-99")  # so the batch cannot start before we cancel it
            time.sleep(1.0)  # > the dispatcher's pause refresh (0.5 s)
            for result in client.submit_many(batch):
                expected[result.task_id] = TaskState.CANCELLED
            cancelled = client.cancel_many(tag="cancel-me", task_type="nightly_report")
            client.resume(tenant="tenant-99")
            for result in client.submit_many(expiring):
                expected[result.task_id] = TaskState.EXPIRED
            # resume only once their 2 s TTL has surely passed, however late (a loaded
            # machine) they were submitted: they must not start before they expire
            resume_after = time.monotonic() - started + 3.0
            console.print(
                f"submitted {len(expected)} tasks with submit_many; cancelled a "
                f"batch of {len(cancelled)}; 5 thumbnails expire while paused"
            )
            resumed = False
            with Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                console=console,
            ) as progress:
                bar = progress.add_task("running", total=len(expected))
                while time.monotonic() - started < timeout:
                    records = all_records(client)
                    finished = sum(1 for r in records if r.terminal)
                    progress.update(bar, completed=finished)
                    if not resumed and time.monotonic() - started > max(8, resume_after):
                        client.resume(task_type="make_thumbnail")
                        resumed = True
                        progress.console.print(
                            "resumed make_thumbnail: held tasks return spread over the hold window"
                        )
                    if finished >= len(expected) and resumed:
                        break
                    time.sleep(2.0)
            idle_deadline = time.monotonic() + 20
            while time.monotonic() < idle_deadline and any(
                p.alive() for p in platform.pools.values()
            ):
                time.sleep(0.5)
        records = all_records(client)
        console.print(summary_table(records, catalog))
        history = [(n, d) for _, n, _, d in platform.autoscaler.history if n == "reindex_catalog"]
        peak = max((d for _, d in history), default=0)
        console.print(
            f"reindex_catalog workers: 0 -> {peak} -> "
            f"{history[-1][1] if history else 0} (scaled on work-queue depth)"
        )
        dead = client.dlq_list(limit=1000)
        console.print(f"DLQ: {len(dead)} entries, e.g. {dead[0].reason if dead else '-'!r}")
        wrong = [
            (r.task_id, r.task_type, r.state.value, expected[r.task_id].value)
            for r in records
            if r.task_id in expected and r.state != expected[r.task_id]
        ]
        missing = len(expected) - sum(1 for r in records if r.task_id in expected)
        console.print(
            f"{len(records)} tasks in {time.monotonic() - started:.0f}s; "
            f"{len(wrong)} in an unexpected state, {missing} missing"
        )
        for row in wrong[:10]:
            console.print(f"  unexpected: {row}")
        if report is not None and log_dir is not None:
            platform.meter.flush()  # the reads above, after the platform stopped
            requestlog.flush()
            check = compare(client.store, log_dir, started_ms, int(time.time() * 1000))
            check.save(report)
            console.print(check.line(), soft_wrap=True)
            os.environ.pop(requestlog.REQUEST_LOG_ENV, None)
        return 0 if not wrong and not missing else 1


def _fresh_log_dir(report: str | Path) -> Path:
    directory = Path(f"{report}.requests")
    if directory.exists():
        shutil.rmtree(directory)
    directory.mkdir(parents=True)
    return directory

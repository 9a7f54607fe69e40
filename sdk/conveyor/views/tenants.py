"""The tenants screen: each tenant's share of the work and the queue wait it sees. Pure.

From the records window (a sample on a large table; ``sampled`` says how many records):
share of tasks and of run time, p50/p99 first-time queue wait of started tasks, tasks
waiting now, paused flag. A tenant is *heavy* when its share of tasks is over twice the
even share (1 / tenants) with at least two tenants present.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from ..model import TaskRecord, TaskState
from .source import Snapshot
from .stats import percentile


@dataclass(frozen=True, slots=True)
class TenantRow:
    tenant: str
    tasks: int
    share: float
    run_share: float
    waiting: int
    running: int
    failed: int
    p50_queue_wait_ms: float | None
    p99_queue_wait_ms: float | None
    paused: bool
    heavy: bool


def build_tenants(snap: Snapshot) -> list[TenantRow]:
    groups: dict[str, list[TaskRecord]] = defaultdict(list)
    for record in snap.records:
        groups[record.tenant].append(record)
    total = sum(len(g) for g in groups.values())
    total_run = sum(r.run_ms for r in snap.records)
    even = 1 / len(groups) if groups else 0.0
    rows = []
    for tenant, mine in groups.items():
        waits = [r.queue_wait_ms for r in mine if r.attempts > 0]
        share = len(mine) / total if total else 0.0
        rows.append(
            TenantRow(
                tenant=tenant,
                tasks=len(mine),
                share=share,
                run_share=sum(r.run_ms for r in mine) / total_run if total_run else 0.0,
                waiting=sum(r.state in (TaskState.QUEUED, TaskState.SCHEDULED) for r in mine),
                running=sum(r.state is TaskState.RUNNING for r in mine),
                failed=sum(r.state is TaskState.FAILED for r in mine),
                p50_queue_wait_ms=percentile(waits, 50),
                p99_queue_wait_ms=percentile(waits, 99),
                paused=("tenant", tenant) in snap.paused,
                heavy=len(groups) >= 2 and share > 2 * even,
            )
        )
    rows.sort(key=lambda r: (-r.tasks, r.tenant))
    return rows

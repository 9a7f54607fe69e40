"""The overview screen's figures, from one snapshot. Pure: the web page and
``conveyor status`` both render this.

* Backlog per queue: visible + in flight + delayed (SQS approximate counts).
* Oldest age per lane: since the longest-waiting QUEUED record of that lane (in the
  records window) fell due; delayed tasks not yet due do not count. A lower bound when the
  window is a sample.
* Throughput: tasks finished per minute over the last ``WINDOW_MINUTES`` (records window).
* Drain time: lane backlog / throughput; None while nothing finishes.
* Workers: each Fargate type's work-queue backlog and the count the scaling rule wants
  (``policy.scaling``, the same table AWS applies), plus running workers when the probe
  knows them.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from ..catalog import Catalog
from ..model import TaskRecord, TaskState
from ..policy.scaling import ScalingRule
from ..topology import Topology
from .source import Snapshot
from .stats import finished_between, per_minute_series, percentile

WINDOW_MINUTES = 5
SERIES_MINUTES = 30


@dataclass(frozen=True, slots=True)
class QueueRow:
    name: str
    kind: str  # lane | work | dlq
    visible: int
    in_flight: int
    delayed: int
    oldest_queued_ms: int | None
    history: list[int] = field(default_factory=list)

    @property
    def backlog(self) -> int:
        return self.visible + self.in_flight + self.delayed


@dataclass(frozen=True, slots=True)
class TypeRow:
    name: str
    executor: str
    priority: str
    paused: bool
    states: dict[str, int]
    finished_per_minute: float
    p50_queue_wait_ms: float | None
    p99_run_ms: float | None


@dataclass(frozen=True, slots=True)
class WorkerRow:
    task_type: str
    backlog: int
    desired: int
    running: int | None
    max_workers: int


@dataclass(frozen=True, slots=True)
class Overview:
    now_ms: int
    queues: list[QueueRow]
    types: list[TypeRow]
    workers: list[WorkerRow]
    states: dict[str, int]
    throughput_per_minute: float
    series: list[tuple[int, int]]
    lane_backlog: int
    drain_seconds: float | None
    dlq_depth: int
    aimd: dict[str, Any]
    sampled: int
    passes: int
    paused: list[tuple[str, str]]
    errors: list[str]
    #: Lane layout: lanes per class, lanes per tenant, pool lanes, and the blast radius
    #: (share of tenant pairs that share all their lanes: 1 / C(shards, spread)).
    shards: int = 1
    spread: int = 1
    pool: int = 0
    blast_radius: float = 1.0


def _oldest_queued(records: Sequence[TaskRecord], lane: str, now_ms: int) -> int | None:
    """When the longest-waiting due, never-started QUEUED task of ``lane`` became due."""
    times = [
        max(r.queued_at or r.created_at, r.not_before or 0)
        for r in records
        if r.lane == lane
        and r.state is TaskState.QUEUED
        and r.attempts == 0
        and (r.not_before or 0) <= now_ms
    ]
    return min(times) if times else None


def build_overview(
    catalog: Catalog,
    topology: Topology,
    snap: Snapshot,
    history: Sequence[tuple[int, dict[str, int]]] = (),
) -> Overview:
    records = snap.records
    now = snap.now_ms
    queues = []
    for name, depth in snap.depths.items():
        kind = "dlq" if name == topology.dlq else "lane" if name in topology.lanes else "work"
        oldest = _oldest_queued(records, name, now) if kind == "lane" else None
        queues.append(
            QueueRow(
                name,
                kind,
                depth.visible,
                depth.in_flight,
                depth.delayed,
                None if oldest is None else max(0, now - oldest),
                [sample.get(name, 0) for _, sample in history],
            )
        )
    window_start = now - WINDOW_MINUTES * 60_000
    throughput = finished_between(records, window_start, now + 1) / WINDOW_MINUTES
    lane_backlog = sum(q.backlog for q in queues if q.kind == "lane")
    by_type: dict[str, list[TaskRecord]] = {}
    for record in records:
        by_type.setdefault(record.task_type, []).append(record)
    types = []
    for task_type in catalog:
        mine = by_type.get(task_type.name, [])
        waits = [r.queue_wait_ms for r in mine if r.attempts > 0]
        runs = [r.run_ms for r in mine if r.terminal and r.attempts > 0]
        types.append(
            TypeRow(
                name=task_type.name,
                executor=task_type.executor,
                priority=task_type.priority,
                paused=("type", task_type.name) in snap.paused,
                states=dict(Counter(r.state.value for r in mine)),
                finished_per_minute=finished_between(mine, window_start, now + 1) / WINDOW_MINUTES,
                p50_queue_wait_ms=percentile(waits, 50),
                p99_run_ms=percentile(runs, 99),
            )
        )
    running = snap.probe.get("workers", {}) if snap.probe else {}
    workers = []
    for task_type in catalog:
        if task_type.executor != "fargate":
            continue
        work = snap.depths.get(topology.work_queue(task_type.name))
        backlog = work.visible + work.in_flight + work.delayed if work else 0
        workers.append(
            WorkerRow(
                task_type.name,
                backlog,
                ScalingRule(max_workers=task_type.max_workers).desired(backlog),
                running.get(task_type.name),
                task_type.max_workers,
            )
        )
    dlq = snap.depths.get(topology.dlq)
    return Overview(
        now_ms=now,
        queues=queues,
        types=types,
        workers=workers,
        states=dict(Counter(r.state.value for r in records)),
        throughput_per_minute=throughput,
        series=per_minute_series(records, now, SERIES_MINUTES),
        lane_backlog=lane_backlog,
        drain_seconds=(lane_backlog / throughput * 60) if throughput > 0 else None,
        dlq_depth=(dlq.visible + dlq.in_flight + dlq.delayed) if dlq else 0,
        aimd=dict(snap.probe.get("aimd", {})) if snap.probe else {},
        sampled=len(records),
        passes=snap.passes,
        paused=sorted(snap.paused),
        errors=list(snap.errors),
        shards=topology.shards,
        spread=topology.sharder.k,
        pool=topology.pool,
        blast_radius=topology.sharder.blast_radius,
    )

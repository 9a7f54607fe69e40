"""The same screens in a terminal (rich): ``conveyor status``, ``get`` and ``list``.

Renderers take view models and return rich renderables; they never call AWS, so tests
render them to text and read it. Times print in the local zone (or ``tz``).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import tzinfo
from typing import Any

from rich import box
from rich.console import Group, RenderableType
from rich.table import Column, Table
from rich.text import Text

from ..model import TaskRecord
from .format import DASH, age, duration, local_time, percent, rate, short_time, size
from .overview import Overview
from .tasks import TaskDetail
from .tenants import TenantRow

STATE_STYLE = {
    "SUCCEEDED": "green",
    "FAILED": "red",
    "RUNNING": "blue",
    "QUEUED": "yellow",
    "SCHEDULED": "cyan",
    "CANCELLED": "dim",
    "EXPIRED": "dim",
}


def _state(value: str) -> Text:
    return Text(value, style=STATE_STYLE.get(value, ""))


def render_status(
    view: Overview, tenants: Sequence[TenantRow] = (), tz: tzinfo | None = None
) -> RenderableType:
    """The overview: headline figures, queues, task types, workers, top tenants."""
    drain = duration(view.drain_seconds * 1000) if view.drain_seconds is not None else DASH
    drain = drain if view.lane_backlog else "empty"
    head = Text.assemble(
        ("lane backlog ", "dim"),
        (str(view.lane_backlog), "bold"),
        ("   throughput ", "dim"),
        (rate(view.throughput_per_minute), "bold"),
        ("   drain ", "dim"),
        (drain, "bold"),
        ("   DLQ ", "dim"),
        (str(view.dlq_depth), "bold red" if view.dlq_depth else "bold"),
    )
    states = Text("  ".join(f"{s.lower()} {n}" for s, n in sorted(view.states.items())), "dim")
    queues = Table(
        "queue",
        "kind",
        "visible",
        "in flight",
        "delayed",
        "oldest queued",
        title="Queues",
        title_justify="left",
    )
    for q in view.queues:
        queues.add_row(
            q.name,
            q.kind,
            str(q.visible),
            str(q.in_flight),
            str(q.delayed),
            duration(q.oldest_queued_ms) if q.oldest_queued_ms is not None else DASH,
        )
    types = Table(
        "type",
        "executor",
        "states",
        "finished/min",
        "p50 queue wait",
        "p99 run",
        title="Task types",
        title_justify="left",
    )
    for t in view.types:
        name = Text(t.name) + (Text(" paused", "yellow") if t.paused else Text(""))
        counts = " ".join(f"{s.lower()}:{n}" for s, n in sorted(t.states.items())) or DASH
        types.add_row(
            name,
            t.executor,
            counts,
            rate(t.finished_per_minute),
            duration(t.p50_queue_wait_ms),
            duration(t.p99_run_ms),
        )
    layout = Text(
        f"lanes: {view.shards} per priority, {view.spread} per tenant, {view.pool} in the pool;"
        f" blast radius {view.blast_radius:.2%} of tenant pairs share all their lanes",
        "dim",
    )
    parts: list[RenderableType] = [head, states, layout, queues, types]
    if view.workers:
        workers = Table(
            "type",
            "work backlog",
            "desired",
            "running",
            "max",
            title="Workers",
            title_justify="left",
        )
        for w in view.workers:
            workers.add_row(
                w.task_type,
                str(w.backlog),
                str(w.desired),
                DASH if w.running is None else str(w.running),
                str(w.max_workers),
            )
        parts.append(workers)
    if view.aimd:
        parts.append(
            Text("AIMD windows: " + ", ".join(f"{k}={v}" for k, v in sorted(view.aimd.items())))
        )
    if tenants:
        top = Table(
            "tenant",
            "tasks",
            "share",
            "p99 queue wait",
            "flags",
            title="Top tenants",
            title_justify="left",
        )
        for row in tenants[:10]:
            flags = " ".join(f for f, on in (("heavy", row.heavy), ("paused", row.paused)) if on)
            top.add_row(
                row.tenant,
                str(row.tasks),
                percent(row.share),
                duration(row.p99_queue_wait_ms),
                flags,
            )
        parts.append(top)
    for error in view.errors:
        parts.append(Text(f"could not read {error}", "red"))
    parts.append(Text(f"from {view.sampled} records read; {local_time(view.now_ms, tz)}", "dim"))
    return Group(*parts)


def render_task(detail: TaskDetail, now_ms: int, tz: tzinfo | None = None) -> RenderableType:
    """One task: facts, the three clocks, attempts, events, error, result."""
    r = detail.record
    facts = Table.grid(padding=(0, 2))
    facts.add_column(style="dim")
    facts.add_column()
    facts.add_row("task", Text(r.task_id, "bold") + Text("  ") + _state(r.state.value))
    facts.add_row("type / tenant", f"{r.task_type} / {r.tenant}")
    facts.add_row("priority / lane", f"{r.priority} / {r.lane}")
    attempts = f"{r.attempts}" + (f" (+{r.throttles} throttled)" if r.throttles else "")
    facts.add_row("attempts", attempts)
    facts.add_row("submitted", f"{local_time(r.created_at, tz)} ({age(r.created_at, now_ms)})")
    if r.not_before:
        facts.add_row("due", local_time(r.not_before, tz))
    facts.add_row("started", local_time(r.started_at, tz))
    facts.add_row("finished", local_time(r.finished_at, tz))
    tl = detail.timeline
    facts.add_row("queue wait", duration(tl.queue_wait_ms))
    facts.add_row("retry wait", duration(tl.retry_wait_ms))
    facts.add_row("run time", duration(tl.run_ms))
    facts.add_row("payload", f"{size(r.payload_size)}, {detail.payload_note}")
    if r.tags:
        facts.add_row("tags", ", ".join(r.tags))
    parts: list[RenderableType] = [facts]
    if tl.attempts:
        table = Table(
            "#",
            "started",
            "finished",
            "waited",
            "ran",
            "outcome",
            "executor",
            "error",
            title="Attempts",
            title_justify="left",
        )
        for a in tl.attempts:
            table.add_row(
                str(a.number),
                local_time(a.started_at, tz, with_date=False),
                local_time(a.finished_at, tz, with_date=False),
                duration(a.waited_ms),
                duration(a.run_ms),
                a.outcome,
                a.executor or DASH,
                a.error or DASH,
            )
        parts.append(table)
    events = Table.grid(padding=(0, 2))
    for at, what in tl.events:
        events.add_row(Text(local_time(at, tz), "dim"), what)
    parts.append(Text("Timeline", "bold"))
    parts.append(events)
    if r.error:
        parts.append(
            Text.assemble(
                ("Error ", "bold red"), f"{r.error.type} ({r.error.kind}): ", r.error.message
            )
        )
    if detail.result_preview is not None:
        parts.append(Text("Result", "bold"))
        parts.append(Text(detail.result_preview))
    return Group(*parts)


def render_task_list(
    records: Sequence[TaskRecord], cursor: str | None, now_ms: int, tz: tzinfo | None = None
) -> RenderableType:
    table = Table(
        "type",
        "tenant",
        "state",
        "att.",
        "submitted",
        "queue wait",
        "run",
        box=box.SIMPLE_HEAD,
        pad_edge=False,
    )
    table.columns.insert(0, Column("id", no_wrap=True))
    for r in records:
        table.add_row(
            r.task_id,
            r.task_type,
            r.tenant,
            _state(r.state.value),
            str(r.attempts),
            short_time(r.created_at, now_ms, tz),
            duration(r.queue_wait_ms),
            duration(r.run_ms),
        )
    parts: list[RenderableType] = [table]
    if cursor:
        parts.append(Text(f"more: --cursor {cursor}", "dim"))
    return Group(*parts)


def task_json(detail: TaskDetail) -> dict[str, Any]:
    """``conveyor get --json``: the record as stored (epoch ms) plus its timeline."""
    tl = detail.timeline
    return {
        **detail.record.to_dict(),
        "timeline": {
            "attempts": [
                {
                    "number": a.number,
                    "started_at": a.started_at,
                    "finished_at": a.finished_at,
                    "outcome": a.outcome,
                    "executor": a.executor,
                    "error": a.error,
                    "waited_ms": a.waited_ms,
                }
                for a in tl.attempts
            ],
            "events": [{"at": at, "what": what} for at, what in tl.events],
            "exact": tl.exact,
        },
    }

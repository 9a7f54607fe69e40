"""The dashboard's screens: each GET handler turns a request into (template, context), each
POST action changes one thing and says what it did. AWS errors propagate to ``app``,
which renders them inside the page."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from .. import tracing
from ..errors import ConveyorError, InvalidOption
from ..model import TaskState
from ..ports import now_ms
from ..views.overview import build_overview
from ..views.schedules import build_schedules
from ..views.source import DashboardSource
from ..views.tasks import TaskQuery, list_tasks, task_detail
from ..views.tenants import build_tenants
from ..views.trace import trace_rows
from . import charts
from .http import Request

Page = tuple[str, dict[str, Any]]


def overview(source: DashboardSource, request: Request) -> Page:
    snap = source.snapshot()
    view = build_overview(source.catalog, source.topology, snap, list(source.history))
    series = [
        (datetime.fromtimestamp(t / 1000).strftime("%H:%M"), float(n)) for t, n in view.series
    ]
    return "overview.html", {
        "view": view,
        "throughput_chart": charts.bars(series, unit=" tasks"),
        "sparks": {
            q.name: charts.sparkline(q.history, label=f"{q.name} backlog") for q in view.queues
        },
    }


def tenants(source: DashboardSource, request: Request) -> Page:
    snap = source.snapshot()
    rows = build_tenants(snap)
    bars = charts.share_bars([(r.tenant, r.share) for r in rows], width=160)
    return "tenants.html", {
        "rows": list(zip(rows, bars, strict=True)),
        "sampled": len(snap.records),
        "errors": snap.errors,
    }


def cost(source: DashboardSource, request: Request) -> Page:
    return "cost.html", {"cost": source.costs.panel()}


def tasks(source: DashboardSource, request: Request) -> Page:
    query = TaskQuery.from_params(request.query)
    page = list_tasks(source.client, query)
    return "tasks.html", {
        "head": "tasks_filters.html",
        # A state/tenant/tag filter may read many store pages to fill one: on demand only.
        "live": None if (query.state or query.tenant or query.tag) else 5,
        "page": page,
        "query": query,
        "types": source.catalog.names,
        "states": [s.value for s in TaskState],
        "now": now_ms(source.client.clock),
    }


def _dlq_entry(source: DashboardSource, task_id: str) -> Any:
    with source.dlq_lock:
        for entry in source.client.dlq_list(limit=1000):
            if entry.task_id == task_id:
                return entry
    return None


def task(source: DashboardSource, request: Request, task_id: str) -> Page:
    now = now_ms(source.client.clock)
    record = source.client.get(task_id)
    entry = _dlq_entry(source, task_id) if record.state is TaskState.FAILED else None
    detail = task_detail(source.client, record, now, entry.body if entry else None)
    source.remember(detail.record)
    tl = detail.timeline
    return "task.html", {
        "live": None if detail.record.terminal else 3,  # a finished task no longer changes
        "d": detail,
        "r": detail.record,
        "now": now,
        "in_dlq": entry is not None,
        "clocks_chart": charts.clocks(tl.queue_wait_ms, tl.retry_wait_ms, tl.run_ms),
        "timeline_chart": charts.timeline(tl.segments),
        "trace": trace_rows(tracing.recorder().of_task(task_id)),
    }


def dlq(source: DashboardSource, request: Request) -> Page:
    task_type = request.query.get("type") or None
    with source.dlq_lock:
        entries = source.client.dlq_list(task_type=task_type, limit=200)
    return "dlq.html", {
        "head": "dlq_filters.html",
        "entries": entries,
        "task_type": task_type,
        "types": source.catalog.names,
    }


def dlq_entry(source: DashboardSource, request: Request, task_id: str) -> Page:
    entry = _dlq_entry(source, task_id)
    if entry is None:
        raise LookupError(f"no DLQ entry for task {task_id!r} (redriven, or never dead-lettered)")
    return "dlq_entry.html", {"e": entry}


def schedules(source: DashboardSource, request: Request) -> Page:
    now = now_ms(source.client.clock)
    rows, one_time = build_schedules(source.client.list_schedules(), now)
    return "schedules.html", {"rows": rows, "one_time": one_time, "now": now}


# -- actions (POST) -------------------------------------------------------------------------


def _required(form: dict[str, str], name: str) -> str:
    value = (form.get(name) or "").strip()
    if not value:
        raise InvalidOption(f"missing form field {name!r}")
    return value


def pause(source: DashboardSource, form: dict[str, str], *, on: bool) -> str:
    kind, name = _required(form, "kind"), _required(form, "name")
    if kind not in ("type", "tenant"):
        raise InvalidOption(f"cannot pause a {kind!r}")
    args = {"task_type": name} if kind == "type" else {"tenant": name}
    (source.client.pause if on else source.client.resume)(**args)
    return f"{'paused' if on else 'resumed'} {kind} {name}"


def cancel(source: DashboardSource, form: dict[str, str]) -> str:
    record = source.client.cancel(_required(form, "task_id"))
    if record.state is TaskState.CANCELLED:
        return f"cancelled {record.task_id}"
    if record.cancel_requested:
        return f"asked running task {record.task_id} to stop"
    return f"{record.task_id} had already finished ({record.state.value})"


def redrive(source: DashboardSource, form: dict[str, str]) -> str:
    task_id = (form.get("task_id") or "").strip() or None
    task_type = (form.get("type") or "").strip() or None
    if task_id is None and task_type is None and form.get("all") != "1":
        raise InvalidOption("say which entries to redrive: a task, a type, or all")
    with source.dlq_lock:
        ids = source.client.dlq().redrive(
            task_type=task_type, task_id=task_id, now_ms=now_ms(source.client.clock)
        )
    if task_id and not ids:
        raise ConveyorError(f"task {task_id} was not redriven (no longer in the DLQ?)")
    return f"redriven {len(ids)} task(s): {', '.join(ids[:5])}{' …' if len(ids) > 5 else ''}"


def schedule_state(source: DashboardSource, form: dict[str, str]) -> str:
    name = _required(form, "name")
    if form.get("enabled") == "1":
        source.client.resume_schedule(name)
        return f"resumed schedule {name}"
    source.client.pause_schedule(name)
    return f"paused schedule {name}"

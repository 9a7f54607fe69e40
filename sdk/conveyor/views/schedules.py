"""The schedules screen: recurring schedules with their next firing, and how many one-time
(far-future task and retry) schedules exist. Pure over the scheduler's listing."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from ..policy.cron import fire_times

#: One-time schedules (``at()``) of tasks and retries are named ``t-<task id>``.
ONE_TIME_PREFIX = "t-"


@dataclass(frozen=True, slots=True)
class ScheduleRow:
    name: str
    expression: str
    timezone: str
    enabled: bool
    task_type: str | None
    tenant: str | None
    next_fire_ms: int | None


def _next_fire(expression: str, timezone: str, now_ms: int) -> int | None:
    now = datetime.fromtimestamp(now_ms / 1000, UTC)
    try:
        times = fire_times(expression, timezone, now, now + timedelta(days=400), limit=1)
    except Exception:
        return None
    return int(times[0].timestamp() * 1000) if times else None


def build_schedules(
    items: Iterable[Mapping[str, Any]], now_ms: int
) -> tuple[list[ScheduleRow], int]:
    """(recurring rows sorted by name, count of one-time schedules)."""
    rows = []
    one_time = 0
    for item in items:
        name = str(item.get("Name", ""))
        expression = str(item.get("ScheduleExpression", ""))
        if name.startswith(ONE_TIME_PREFIX) or expression.startswith("at(") or "at_ms" in item:
            one_time += 1
            continue
        target: Any = item.get("Target", {})
        body = target.get("Input") if isinstance(target, Mapping) else None
        body = body or item.get("Input")
        try:
            fired = json.loads(body) if body else {}
        except ValueError:
            fired = {}
        timezone = str(item.get("ScheduleExpressionTimezone") or "UTC")
        enabled = item.get("State", "ENABLED") == "ENABLED"
        rows.append(
            ScheduleRow(
                name=name,
                expression=expression,
                timezone=timezone,
                enabled=enabled,
                task_type=fired.get("type") if isinstance(fired, dict) else None,
                tenant=fired.get("tenant") if isinstance(fired, dict) else None,
                next_fire_ms=_next_fire(expression, timezone, now_ms) if enabled else None,
            )
        )
    rows.sort(key=lambda r: r.name)
    return rows, one_time

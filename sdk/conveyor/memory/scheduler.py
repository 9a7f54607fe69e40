"""In-memory twin of EventBridgeScheduler: records schedules; fires nothing by itself."""

from __future__ import annotations

from typing import Any

from ..triggers import scheduler_name


class MemoryScheduler:
    def __init__(self) -> None:
        self.schedules: dict[str, dict[str, Any]] = {}

    def create_at(
        self,
        task_id: str,
        fire_at_ms: int,
        queue: str,
        body: str,
        window_minutes: int | None = None,
    ) -> str:
        name = scheduler_name("t-" + task_id)
        if name in self.schedules:
            raise ValueError(f"schedule {name} exists")
        self.schedules[name] = {
            "Name": name,
            "at_ms": fire_at_ms,
            "queue": queue,
            "Input": body,
            "window": window_minutes,
            "State": "ENABLED",
        }
        return name

    def delete(self, task_id: str) -> None:
        self.delete_schedule(scheduler_name("t-" + task_id))

    def delete_schedule(self, name: str) -> None:
        self.schedules.pop(name, None)

    def create_recurring(
        self,
        name: str,
        expression: str,
        timezone: str,
        queue: str,
        body: str,
        *,
        enabled: bool = True,
    ) -> None:
        self.schedules[name] = {
            "Name": name,
            "ScheduleExpression": expression,
            "ScheduleExpressionTimezone": timezone,
            "queue": queue,
            "Input": body,
            "State": "ENABLED" if enabled else "DISABLED",
        }

    def set_enabled(self, name: str, enabled: bool) -> None:
        self.schedules[name]["State"] = "ENABLED" if enabled else "DISABLED"

    def list(self) -> list[dict[str, Any]]:
        return list(self.schedules.values())

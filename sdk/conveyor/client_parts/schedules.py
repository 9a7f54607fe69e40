"""Recurring schedules: cron()/rate() expressions whose every firing runs one task."""

from __future__ import annotations

from typing import Any

from ..errors import ConveyorError, InvalidOption, InvalidTiming
from ..ids import validate_tenant
from .base import ClientBase


class SchedulesPart(ClientBase):
    def create_schedule(
        self,
        task_type: str,
        expression: str,
        *,
        name: str | None = None,
        timezone: str = "UTC",
        payload: Any = None,
        tenant: str = "default",
        enabled: bool = True,
    ) -> str:
        """Create a cron()/rate() schedule whose every firing runs one task (ID derived
        from the schedule and the scheduled time, so a double firing runs once).
        Everything is checked first; a bad expression, zone or payload creates nothing."""
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        from ..catalog import Schedule
        from ..payload import encode
        from ..policy.expressions import validate_expression
        from ..triggers import NAME_RE, fire_body

        task = self.catalog.get(task_type)
        text = validate_expression(expression)
        try:
            ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise InvalidTiming(f"unknown time zone {timezone!r}") from None
        encode(payload)
        validate_tenant(tenant)
        name = name or task_type
        if not 1 <= len(name) <= 64 or NAME_RE.search(name):
            raise InvalidOption(f"schedule name {name!r}: 1-64 characters of [0-9A-Za-z_.-]")
        if self.scheduler is None:
            raise ConveyorError("this client has no scheduler")
        schedule = Schedule(text, name, timezone, payload, tenant, enabled)
        self.scheduler.create_recurring(
            name,
            text,
            timezone,
            self.topology.lane_for(task.priority, tenant),
            fire_body(task_type, schedule, name),
            enabled=enabled,
        )
        return name

    def list_schedules(self) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = self._require_scheduler().list()
        return out

    def pause_schedule(self, name: str) -> None:
        self._require_scheduler().set_enabled(name, False)

    def resume_schedule(self, name: str) -> None:
        self._require_scheduler().set_enabled(name, True)

    def delete_schedule(self, name: str) -> None:
        self._require_scheduler().delete_schedule(name)

    def _require_scheduler(self) -> Any:
        if self.scheduler is None:
            raise ConveyorError("this client has no scheduler")
        return self.scheduler

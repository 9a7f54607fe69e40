"""The dev cloud's schedule driver: moto stores schedules but never fires them, so this
reads them back through the Scheduler API and fires each due one into its target queue,
the way AWS would -- filling in ``<aws.scheduler.scheduled-time>``, and deleting one-time
schedules whose ``ActionAfterCompletion`` is DELETE.

Time comes from the injected clock, so tests run it on an accelerated clock: each
``tick()`` fires everything due in (previous tick, now].
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from ..policy.cron import fire_times
from ..policy.expressions import validate_at
from ..ports import Clock, Lanes, OutMessage, SystemClock
from ..triggers import SCHEDULED_TIME


class ScheduleDriver:
    def __init__(self, scheduler: Any, lanes: Lanes, *, clock: Clock | None = None) -> None:
        self.scheduler = scheduler
        self.lanes = lanes
        self.clock = clock or SystemClock()
        self.last = datetime.fromtimestamp(self.clock.now(), UTC)
        self.fired: list[tuple[str, datetime]] = []
        self._done: set[tuple[str, datetime]] = set()

    def tick(self) -> list[tuple[str, datetime]]:
        now = datetime.fromtimestamp(self.clock.now(), UTC)
        fired: list[tuple[str, datetime]] = []
        for schedule in self.scheduler.list():
            if schedule.get("State", "ENABLED") != "ENABLED":
                continue
            expression = schedule["ScheduleExpression"]
            timezone = schedule.get("ScheduleExpressionTimezone") or "UTC"
            created = schedule.get("CreationDate")
            anchor = created if isinstance(created, datetime) else self.last
            if anchor.tzinfo is None:
                anchor = anchor.replace(tzinfo=UTC)
            if expression.startswith("at("):
                # A one-time schedule fires once when due, however late the driver is.
                when = validate_at(expression).replace(tzinfo=ZoneInfo(timezone))
                key = (schedule["Name"], when)
                times = [when] if when <= now and key not in self._done else []
                self._done.update((schedule["Name"], t) for t in times)
            else:
                times = fire_times(expression, timezone, self.last, now, anchor=anchor)
            target = schedule["Target"]
            queue = target["Arn"].rsplit(":", 1)[-1]
            for when in times:
                stamp = when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
                body = target.get("Input", "").replace(SCHEDULED_TIME, stamp)
                self.lanes.send(
                    queue, [OutMessage(body=body, group="scheduler", id=schedule["Name"])]
                )
                fired.append((schedule["Name"], when))
            if (
                times
                and expression.startswith("at(")
                and schedule.get("ActionAfterCompletion") == "DELETE"
            ):
                self.scheduler.delete_schedule(schedule["Name"])
        self.last = now
        self.fired.extend(fired)
        return fired

"""The bench's task types: one small Lambda task, declared once per cost mode."""

from __future__ import annotations

from typing import Any

from conveyor import Catalog

catalog = Catalog("bench")


def _send(payload: dict[str, Any], ctx: Any) -> dict[str, Any]:
    return {"sent": payload.get("email", "")}


#: mode -> task type name; every type runs the same handler.
MODES = {
    "events off": "welcome_quiet",
    "events on": "welcome_events",
}
catalog.task(name="welcome_quiet", timeout=30, priority="high", events=False)(_send)
catalog.task(name="welcome_events", timeout=30, priority="high", events=True)(_send)
#: Listed through the by_type index (one more WRU per task); not a bench row.
catalog.task(name="welcome_indexed", timeout=30, priority="high", events=False, indexed=True)(_send)

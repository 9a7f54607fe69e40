"""The bench's task types: one small Lambda task, declared once per cost mode."""

from __future__ import annotations

from typing import Any

from conveyor import Catalog

catalog = Catalog("bench")


def _send(payload: dict[str, Any], ctx: Any) -> dict[str, Any]:
    return {"sent": payload.get("email", "")}


#: mode -> task type name; every type runs the same handler. Full guarantees = the
#: defaults (indexed: listing by type and the reconciler's repairs).
MODES = {
    "events off": "welcome_quiet",
    "events on": "welcome_events",
    "events off, unindexed": "welcome_unindexed",
    "lean, events off": "welcome_lean",
    "lean, events off, unindexed": "welcome_lean_unindexed",
}
catalog.task(name="welcome_quiet", timeout=30, priority="high", events=False)(_send)
catalog.task(name="welcome_events", timeout=30, priority="high", events=True)(_send)
#: Out of the by_type index: one WRU less per task; no reconciler repair, listing scans.
catalog.task(name="welcome_unindexed", timeout=30, priority="high", events=False, indexed=False)(
    _send
)
#: Lean: no RUNNING write (one consistent read instead), no lease (see the README, *Cost*).
catalog.task(name="welcome_lean", timeout=30, priority="high", events=False, lean=True)(_send)
catalog.task(
    name="welcome_lean_unindexed",
    timeout=30,
    priority="high",
    events=False,
    indexed=False,
    lean=True,
)(_send)

"""Messages that *create* tasks when they arrive: schedule firings and EventBridge events.

EventBridge Scheduler and EventBridge rules put these on the task type's lane; the
dispatcher turns each into a task with a derived ID, so at-least-once delivery (the
Scheduler may fire twice; a rule may deliver twice) still runs the task once:

* a firing of schedule ``S`` for the scheduled time ``T`` becomes task ``S-<T as
  YYYYMMDDTHHMMSSZ>``; the Scheduler fills ``T`` in from ``<aws.scheduler.scheduled-time>``;
* an event with id ``E`` becomes task ``evt-E``; the rule's input transformer wraps the
  whole event (``<event>`` mapped from ``$``).

Pure: building bodies, and expanding a body into a SubmitRequest.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from .admission import SubmitRequest
from .catalog import EventTrigger, Schedule
from .envelope import Malformed

SCHEDULED_TIME = "<aws.scheduler.scheduled-time>"
NAME_RE = re.compile(r"[^0-9A-Za-z_.-]")
_VALID_NAME = re.compile(r"[0-9A-Za-z_.-]{1,64}")
_HASHED_TAIL = re.compile(r"-[0-9a-f]{23}\Z")


def scheduler_name(text: str) -> str:
    """A valid Scheduler name (1-64 of [0-9A-Za-z-_.]) for any text, stable and injective.

    A text that is already a valid name is its own name. Any other text (too long, empty,
    or with other characters, e.g. ``job:1``) becomes its first 40 characters cleaned, a
    ``-`` and 23 hex digits of its SHA-256; a valid text that merely looks like that form
    is hashed too. So distinct texts get distinct names (``job:1`` and ``job_1`` included),
    short of a SHA-256 collision on 92 bits."""
    if _VALID_NAME.fullmatch(text) and not _HASHED_TAIL.search(text):
        return text
    sha = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()
    return NAME_RE.sub("_", text[:40]) + "-" + sha[:23]


def schedule_name(task_type: str, schedule: Schedule) -> str:
    return scheduler_name(schedule.name or task_type)


def fire_body(task_type: str, schedule: Schedule, name: str) -> str:
    """The Input of a recurring schedule's target (the Scheduler fills in the time)."""
    body = {
        "v": 1,
        "fire": name,
        "type": task_type,
        "tenant": schedule.tenant,
        "payload": schedule.payload,
        "at": SCHEDULED_TIME,
    }
    return json.dumps(body, separators=(",", ":"))


def trigger_transformer(task_type: str, trigger: EventTrigger) -> tuple[dict[str, str], str]:
    """(InputPathsMap, InputTemplate) of a rule target: the whole event, wrapped."""
    head = json.dumps({"v": 1, "trigger": trigger.name, "type": task_type}, separators=(",", ":"))
    return {"event": "$"}, head[:-1] + ',"event":<event>}'


def fire_task_id(name: str, scheduled: str) -> str:
    try:
        when = datetime.fromisoformat(scheduled.replace("Z", "+00:00"))
    except ValueError:
        raise Malformed(f"schedule firing has an unreadable time {scheduled!r}") from None
    return f"{name}-{when.strftime('%Y%m%dT%H%M%SZ')}"


def _dig(event: Mapping[str, Any], path: str) -> Any:
    value: Any = event
    for key in path.split("."):
        if not isinstance(value, Mapping):
            return None
        value = value.get(key)
    return value


def is_creator(data: Any) -> bool:
    return isinstance(data, dict) and data.get("v") == 1 and ("fire" in data or "trigger" in data)


def expand(data: Mapping[str, Any], triggers: Mapping[str, EventTrigger]) -> SubmitRequest:
    """The submit request a firing or event message stands for (Malformed if it can't)."""
    task_type = data.get("type")
    if not isinstance(task_type, str):
        raise Malformed("creator message has no task type")
    if "fire" in data:
        name = str(data["fire"])
        scheduled = data.get("at")
        if not isinstance(scheduled, str):
            raise Malformed("schedule firing has no scheduled time")
        return SubmitRequest(
            task_type,
            data.get("payload"),
            task_id=fire_task_id(name, scheduled),
            tenant=data.get("tenant") or None,
        )
    event = data.get("event")
    if not isinstance(event, dict) or not isinstance(event.get("id"), str):
        raise Malformed("trigger message carries no event with an id")
    trigger = triggers.get(str(data["trigger"]))
    tenant = None
    if trigger is not None:
        tenant = (
            _dig(event, trigger.tenant_field) if trigger.tenant_field else None
        ) or trigger.tenant
    return SubmitRequest(
        task_type,
        event,
        task_id=scheduler_name("evt-" + event["id"])[:128],
        tenant=tenant if isinstance(tenant, str) else None,
    )

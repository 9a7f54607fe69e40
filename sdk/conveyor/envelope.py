"""The lane message: a small JSON envelope around the payload (or its S3 reference).

``parse`` never trusts the body: anything that is not a well-formed envelope raises
``Malformed`` with a reason, which the dispatcher turns into a DLQ entry.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from . import tracing
from .ids import TASK_ID_RE
from .model import TaskRecord

VERSION = 1


class Malformed(ValueError):
    """A lane message that cannot be a task; ``reason`` goes with it to the DLQ."""


@dataclass(frozen=True, slots=True)
class Envelope:
    task_id: str
    task_type: str
    tenant: str
    priority: str
    sha256: str
    enqueued_at: int
    payload: Any = None
    payload_ref: str | None = None
    expires_at: int | None = None
    #: X-Ray trace header of the task (``conveyor.tracing``); None when not traced.
    trace: str | None = None

    @classmethod
    def for_record(
        cls, record: TaskRecord, payload: Any, enqueued_at: int, trace: str | None = None
    ) -> Envelope:
        """The lane message of a stored task (payload inline unless offloaded). ``trace``
        defaults to the task's own header (``tracing.message_header``: derived from the
        record), so a re-send, a repair or a trigger's task is in the task's one trace."""
        if trace is None:
            trace = tracing.message_header(record.task_id, record.created_at, record.trace_parent)
        return cls(
            task_id=record.task_id,
            task_type=record.task_type,
            tenant=record.tenant,
            priority=record.priority,
            sha256=record.payload_sha256,
            enqueued_at=enqueued_at,
            payload=None if record.payload_ref else payload,
            payload_ref=record.payload_ref,
            expires_at=record.expires_at,
            trace=trace,
        )

    def to_json(self) -> str:
        body: dict[str, Any] = {
            "v": VERSION,
            "id": self.task_id,
            "type": self.task_type,
            "tenant": self.tenant,
            "prio": self.priority,
            "sha": self.sha256,
            "at": self.enqueued_at,
        }
        if self.payload_ref is not None:
            body["ref"] = self.payload_ref
        else:
            body["payload"] = self.payload
        if self.expires_at is not None:
            body["exp"] = self.expires_at
        if self.trace is not None:
            body["tr"] = self.trace
        return json.dumps(body, separators=(",", ":"), allow_nan=False)


def parse(body: str) -> Envelope:
    try:
        data = json.loads(body)
    except (ValueError, TypeError) as exc:
        raise Malformed(f"body is not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise Malformed("body is not a JSON object")
    if data.get("v") != VERSION:
        raise Malformed(f"unknown envelope version {data.get('v')!r}")
    for key in ("id", "type", "tenant", "prio", "sha", "at"):
        if key not in data:
            raise Malformed(f"envelope misses field {key!r}")
    if not isinstance(data["id"], str) or not TASK_ID_RE.match(data["id"]):
        raise Malformed(f"envelope has an invalid task id {data['id']!r}")
    if not isinstance(data["at"], int) or isinstance(data["at"], bool):
        raise Malformed("envelope field 'at' is not epoch milliseconds")
    if "payload" not in data and not isinstance(data.get("ref"), str):
        raise Malformed("envelope has neither a payload nor a payload reference")
    exp = data.get("exp")
    if exp is not None and (not isinstance(exp, int) or isinstance(exp, bool)):
        raise Malformed("envelope field 'exp' is not epoch milliseconds")
    return Envelope(
        task_id=data["id"],
        task_type=str(data["type"]),
        tenant=str(data["tenant"]),
        priority=str(data["prio"]),
        sha256=str(data["sha"]),
        enqueued_at=data["at"],
        payload=data.get("payload"),
        payload_ref=data.get("ref"),
        expires_at=exp,
        trace=trace if isinstance(trace := data.get("tr"), str) and len(trace) <= 256 else None,
    )

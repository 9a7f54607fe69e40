"""The task model: states, the transitions allowed between them, and the task record.

Pure: no I/O, no clock. Times are integer epoch **milliseconds** (UTC) everywhere in a
record; ``None`` means "has not happened".

Invariants:

* ``TRANSITIONS`` is the only source of truth for what may follow what; a store applies a
  transition as one conditional write on ``state IN allowed_sources``.
* ``attempts`` counts attempts that *started* (RUNNING), never SQS receive counts;
  ``throttles`` counts throttled attempts, which do not spend ``attempts``. It is the
  retry budget spent, so it goes down when an attempt is handed back (throttle, SIGTERM
  release) and is reset by a redrive.
* ``starts`` counts every start ever and never goes down: it is the attempt's fencing
  token. Every write of an attempt's outcome is conditional on it, so an attempt from
  before a hand-back, a retake or a redrive can never write over a newer one.
* The record stays small (well under 1 KB for ordinary tasks): the payload travels in the
  lane message or in S3; only its SHA-256, size and (if offloaded) its key live here.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class TaskState(StrEnum):
    """Where a task is in its life."""

    SCHEDULED = "SCHEDULED"
    QUEUED = "QUEUED"
    RUNNING = "RUNNING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"
    EXPIRED = "EXPIRED"


S = TaskState

#: Allowed transitions: target state -> states it may be entered from.
TRANSITIONS: dict[TaskState, frozenset[TaskState]] = {
    S.QUEUED: frozenset({S.SCHEDULED, S.RUNNING, S.FAILED}),  # fire, retry, redrive
    # start (a fired schedule's message starts a SCHEDULED task directly); retake a lease
    S.RUNNING: frozenset({S.SCHEDULED, S.QUEUED, S.RUNNING}),
    S.SUCCEEDED: frozenset({S.RUNNING}),
    S.FAILED: frozenset({S.RUNNING, S.QUEUED}),  # QUEUED: dropped as malformed/undeliverable
    S.CANCELLED: frozenset({S.SCHEDULED, S.QUEUED, S.RUNNING}),
    S.EXPIRED: frozenset({S.QUEUED, S.SCHEDULED}),
}

TERMINAL: frozenset[TaskState] = frozenset({S.SUCCEEDED, S.FAILED, S.CANCELLED, S.EXPIRED})
ACTIVE: frozenset[TaskState] = frozenset({S.SCHEDULED, S.QUEUED, S.RUNNING})


#: A lean type's attempt writes no RUNNING: its one outcome write goes straight from the
#: state it read (QUEUED, or SCHEDULED for a fired schedule) to the outcome, fenced by
#: ``starts`` like any outcome write (``runtime.lean``).
LEAN_TRANSITIONS: dict[TaskState, frozenset[TaskState]] = {
    S.QUEUED: frozenset({S.SCHEDULED, S.QUEUED}),  # a retry
    S.SUCCEEDED: frozenset({S.SCHEDULED, S.QUEUED}),
    S.FAILED: frozenset({S.SCHEDULED, S.QUEUED}),
    S.CANCELLED: frozenset({S.SCHEDULED, S.QUEUED}),
}


def allowed_sources(target: TaskState, *, lean: bool = False) -> frozenset[TaskState]:
    """States from which ``target`` may be entered (empty for initial-only states);
    ``lean``: by a lean attempt's outcome write (``LEAN_TRANSITIONS``)."""
    return (LEAN_TRANSITIONS if lean else TRANSITIONS).get(target, frozenset())


@dataclass(frozen=True, slots=True)
class TaskError:
    """Why an attempt (or the task) failed. ``kind`` is fatal|retryable|throttled|timeout|
    malformed|expired|cancelled."""

    kind: str
    type: str
    message: str

    def to_dict(self) -> dict[str, str]:
        return {"kind": self.kind, "type": self.type, "message": self.message[:1000]}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TaskError:
        return cls(kind=str(data["kind"]), type=str(data["type"]), message=str(data["message"]))


@dataclass(frozen=True, slots=True)
class TaskRecord:
    """One task's durable state. Times are epoch ms (UTC)."""

    task_id: str
    task_type: str
    tenant: str
    priority: str
    state: TaskState
    lane: str
    payload_sha256: str
    payload_size: int
    created_at: int
    payload_ref: str | None = None
    attempts: int = 0
    throttles: int = 0
    #: Starts ever (monotonic); the running attempt's fencing token.
    starts: int = 0
    #: Random ID of the write that holds the task: the start of the running attempt, or
    #: (until the first start) the create that inserted it, or a lean type's last outcome
    #: write (``runtime.lean``). Tells a write whose reply was lost, and that botocore sent
    #: again, from someone else's.
    owner: str | None = None
    queued_at: int | None = None
    started_at: int | None = None
    finished_at: int | None = None
    not_before: int | None = None
    expires_at: int | None = None
    #: Until when a re-submit with this ID is a duplicate; None = forever.
    dedup_until: int | None = None
    #: The RUNNING attempt's lease: another delivery may retake the task only after it.
    lease_until: int | None = None
    cancel_requested: bool = False
    result: Any = None
    result_ref: str | None = None
    error: TaskError | None = None
    tags: tuple[str, ...] = ()
    #: Accumulated clocks (ms): waiting in a lane, waiting between retries, running.
    queue_wait_ms: int = 0
    retry_wait_ms: int = 0
    run_ms: int = 0
    schedule_name: str | None = None
    #: The last attempts, oldest first (``conveyor.clocks``: short keys, bounded size).
    history: tuple[dict[str, Any], ...] = ()
    #: When the store may forget a finished record (epoch ms; DynamoDB TTL). None = never.
    purge_at: int | None = None
    #: The submitter's own trace, when it ran inside one: ``<root>/<parent span>`` (52
    #: bytes; ``conveyor.tracing``). None: the task's trace is derived from its ID.
    trace_parent: str | None = None
    version: int = 0

    @property
    def terminal(self) -> bool:
        return self.state in TERMINAL

    def inserted_by(self, record: TaskRecord) -> bool:
        """Whether this stored record is the insert of ``record`` (same random ``owner``
        tag, given at creation) and unchanged since (same ``version``): a create that
        meets it met its own earlier try."""
        return record.owner is not None and (self.owner, self.version) == (
            record.owner,
            record.version,
        )

    def replace(self, **changes: Any) -> TaskRecord:
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-native view (for the CLI, the HTTP API and events)."""
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if isinstance(value, TaskState):
                value = value.value
            elif isinstance(value, TaskError):
                value = value.to_dict()
            elif isinstance(value, tuple):
                value = [dict(v) if isinstance(v, dict) else v for v in value]
            out[f.name] = value
        return out


#: Priority classes, highest first, with their weighted-fair-share weights. A lane exists
#: per priority (and shard); the dispatcher serves lanes in proportion to these weights, so
#: high goes first but low is never starved.
PRIORITY_WEIGHTS: dict[str, int] = {"high": 6, "normal": 3, "low": 1}
PRIORITIES: tuple[str, ...] = tuple(PRIORITY_WEIGHTS)

"""The outcome write for each way an attempt can end, as a ``PendingWrite``.

Pure: no I/O; times are epoch milliseconds passed in. Every write clears the lease and
the owner, adds this attempt's wait and run time to the record's clocks and appends it to
the bounded history (``conveyor.clocks``), all in the same write; a
finished task also gets ``finished_at`` and ``purge_at`` (when DynamoDB TTL may drop it,
never before its dedup window closes).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .. import clocks
from ..catalog import TaskType
from ..model import TaskError, TaskRecord, TaskState
from ..payload import MAX_PAYLOAD, encode
from .failure import FailurePlan
from .outcome import ACK, DLQ, RETRY, Outcome
from .settle import PendingWrite

#: Results up to this many bytes are kept in the task record; larger ones go to S3.
RESULT_INLINE_LIMIT = 8 * 1024


@dataclass(frozen=True, slots=True)
class Attempt:
    """The attempt being finished: its RUNNING record and type, its run time (ms) and the
    executor that ran it (for the history; defaults to the type's executor)."""

    record: TaskRecord
    task_type: TaskType
    #: Milliseconds the handler ran.
    run_ms: int = 0
    executor: str | None = None

    def write(
        self,
        target: TaskState,
        changes: dict[str, Any],
        outcome: Outcome,
        now: int,
        error: TaskError | None = None,
        backoff_ms: int = 0,
        **extra: Any,
    ) -> PendingWrite:
        record = self.record
        common = {
            "lease_until": None,
            "owner": None,
            **clocks.outcome_changes(
                record,
                target=target,
                outcome=outcome.kind,
                now=now,
                run_ms=self.run_ms,
                executor=self.executor or self.task_type.executor,
                error=error.type if error is not None else None,
                backoff_ms=backoff_ms,
            ),
        }
        return PendingWrite(
            record.task_id,
            record.starts,
            target,
            {**common, **changes},
            outcome,
            self.task_type.events,
            **extra,
        )

    def finished(self, now: int) -> dict[str, Any]:
        return {"finished_at": now, "purge_at": purge_at(self.task_type, self.record, now)}


def purge_at(task_type: TaskType, record: TaskRecord | None, now: int) -> int | None:
    if task_type.dedup_window is None:
        return None
    purge = now + int(task_type.result_retention * 1000)
    if record is not None and record.dedup_until is not None:
        purge = max(purge, record.dedup_until)
    return purge


def failed(a: Attempt, error: TaskError, now: int) -> PendingWrite:
    """FAILED for good: the message goes to the DLQ once the record says so."""
    dlq = Outcome(DLQ, a.record.task_id, error.kind, reason=error.message)
    return a.write(TaskState.FAILED, {**a.finished(now), "error": error}, dlq, now, error)


def succeeded(a: Attempt, result: Any, now: int) -> PendingWrite:
    """SUCCEEDED with the result inline, or in the payload store when it is large; a
    result that cannot be stored fails the task (fatal)."""
    try:
        data = encode(result)
    except Exception as exc:
        message = f"result is not JSON-native: {exc}"
        return failed(a, TaskError("fatal", type(exc).__name__, message), now)
    if len(data) > MAX_PAYLOAD:
        return failed(a, TaskError("fatal", "ResultTooLarge", f"result is {len(data)} bytes"), now)
    changes = {**a.finished(now), "error": None}
    blob = None
    if len(data) > RESULT_INLINE_LIMIT:
        key = f"results/{a.record.task_id}/{a.record.attempts}.json"
        blob = (key, data)
        changes["result_ref"] = key
    else:
        changes["result"] = result
    ok = Outcome(ACK, a.record.task_id, "ok")
    return a.write(TaskState.SUCCEEDED, changes, ok, now, blob=blob)


def cancelled(a: Attempt, error: TaskError, now: int) -> PendingWrite:
    outcome = Outcome(ACK, a.record.task_id, "cancelled")
    return a.write(TaskState.CANCELLED, {**a.finished(now), "error": error}, outcome, now, error)


def retried(
    a: Attempt, plan: FailurePlan, now: int, delay: float, *, scheduled: bool
) -> PendingWrite:
    """Back to QUEUED for a retry in ``delay`` seconds: the message waits hidden that
    long (``retry``), or, when a schedule re-enqueues it (``scheduled``), is acked. A
    throttle hands its attempt back (``attempts`` - 1) and counts a throttle."""
    changes = {
        "error": plan.error,
        "queued_at": now + int(delay * 1000),
    }
    action = ACK if scheduled else RETRY
    outcome = Outcome(action, a.record.task_id, plan.kind, delay=delay, reason=plan.error.message)
    increments = {"attempts": -1, "throttles": 1} if plan.throttled else None
    return a.write(
        TaskState.QUEUED,
        changes,
        outcome,
        now,
        plan.error,
        backoff_ms=int(delay * 1000),
        increments=increments,
    )

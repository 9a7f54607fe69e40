"""What a failed attempt leads to: cancelled, failed for good, or retried after a delay.

Pure: the exception, the record and the type go in (randomness passed in), a plan comes
out; the runner turns it into one conditional write. A throttled attempt is handed back
(``attempts`` - 1, ``throttles`` + 1), so it never spends the retry budget; ``starts``,
the fencing token, is never handed back.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from ..catalog import TaskType
from ..model import TaskError, TaskRecord, TaskState
from ..policy.retry import FATAL, THROTTLED, Action, classify, decide
from .timeout import TaskTimeout


@dataclass(frozen=True, slots=True)
class FailurePlan:
    """``target`` is CANCELLED, FAILED or QUEUED (a retry after ``delay`` seconds)."""

    target: TaskState
    kind: str
    error: TaskError
    delay: float = 0.0

    @property
    def throttled(self) -> bool:
        return self.kind == THROTTLED


def plan_failure(
    exc: BaseException,
    record: TaskRecord,
    task_type: TaskType,
    *,
    cancelled: bool,
    rng: random.Random,
) -> FailurePlan:
    kind = "retryable" if isinstance(exc, TaskTimeout) else classify(exc, task_type.retry)
    error = TaskError(kind, type(exc).__name__, str(exc) or type(exc).__name__)
    if cancelled:
        return FailurePlan(
            TaskState.CANCELLED, "cancelled", TaskError("cancelled", error.type, error.message)
        )
    decision = decide(
        kind,
        attempts=record.attempts,
        throttles=record.throttles + (1 if kind == THROTTLED else 0),
        policy=task_type.retry,
        rng=rng,
        hint=getattr(exc, "delay", None),
    )
    if decision.action is Action.FAIL:
        if kind == FATAL:
            return FailurePlan(TaskState.FAILED, kind, error)
        message = f"{decision.reason}: {error.message}"
        return FailurePlan(TaskState.FAILED, kind, TaskError(kind, error.type, message))
    return FailurePlan(TaskState.QUEUED, kind, error, decision.delay)

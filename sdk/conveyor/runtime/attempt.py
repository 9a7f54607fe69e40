"""Starting an attempt, or saying why a delivery does not start one.

Starting is one conditional write (QUEUED/SCHEDULED -> RUNNING, or RUNNING -> RUNNING once
the previous lease expired) that adds 1 to ``attempts`` and to ``starts`` (the new
attempt's fencing token) and records a random ``owner``. If the reply is lost, the retried
write is refused and carries the record: our ``owner`` on it means the start was ours.

A delivery that cannot start (``not_started``) while another attempt runs under a live
lease comes back after twice the time that attempt has run so far (at least
``RETRY_SOON``), never later than the lease end: most tasks finish well inside their lease,
so a duplicate is settled soon after the original, and a long task is checked a
logarithmic number of times (one receive and one refused write each).

A delivery that cannot start is acked when the task is finished, except
a FAILED one, which is dead-lettered again: the process that failed it may have died
before its dead letter was sent, and a second letter is harmless (a redrive re-queues a
FAILED record once and only re-sends the message of a QUEUED one).
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable

from aws_lambda_powertools import Logger

from ..envelope import Envelope
from ..errors import InvalidTransition, TaskNotFound
from ..model import TaskError, TaskRecord, TaskState
from ..ports import Clock, TaskStore, now_ms
from .outcome import ACK, DLQ, HOLD, Outcome
from .settle import backoff_delays

logger = Logger(service="conveyor")

#: Seconds a delivery that could not be decided waits before it comes back.
RETRY_SOON = 5.0


def unanswered(task_id: str, what: str) -> Outcome:
    """The delivery comes back in ``RETRY_SOON`` s: the task store did not answer ``what``
    within its backoff budget (nothing was decided, nothing run)."""
    reason = f"{what}: the task store did not answer"
    return Outcome(HOLD, task_id, "unsettled", delay=RETRY_SOON, reason=reason)


def not_started(task_id: str, current: object, now: int) -> Outcome:
    """What the holder of a message does when its start was refused by ``current``."""
    if not isinstance(current, TaskRecord):
        return Outcome(HOLD, task_id, "busy", delay=RETRY_SOON, reason="state unknown")
    if current.state is TaskState.FAILED:
        error = current.error or TaskError("failed", "Failed", "failed")
        return Outcome(
            DLQ,
            task_id,
            error.kind,
            state=current.state.value,
            reason=error.message,
            attempts=current.attempts,
        )
    if current.terminal:
        return Outcome(
            ACK, task_id, "duplicate", state=current.state.value, reason=f"already {current.state}"
        )
    if current.state is TaskState.RUNNING and current.lease_until is not None:
        wait = max(1.0, (current.lease_until - now) / 1000 + 1)
        if current.started_at is not None:
            ran = max(0.0, (now - current.started_at) / 1000)
            wait = min(wait, max(RETRY_SOON, 2 * ran))
        return Outcome(
            HOLD,
            task_id,
            "busy",
            state=current.state.value,
            delay=wait,
            reason="running elsewhere under a live lease",
        )
    return Outcome(
        HOLD,
        task_id,
        "busy",
        state=current.state.value,
        delay=RETRY_SOON,
        reason=f"cannot start from {current.state}",
    )


def start(
    store: TaskStore,
    env: Envelope,
    *,
    lease_seconds: float,
    clock: Clock,
    rng: random.Random,
    sleep: Callable[[float], None],
    budget: float,
) -> TaskRecord | Outcome:
    """The RUNNING record of a new attempt, or the Outcome for a delivery that does not
    start one. Transient failures are retried for at most ``budget`` seconds of backoff."""
    owner = uuid.uuid4().hex[:16]
    delays = backoff_delays(budget, rng)
    while True:
        now = now_ms(clock)
        try:
            return store.transition(
                env.task_id,
                TaskState.RUNNING,
                {"started_at": now, "lease_until": now + int(lease_seconds * 1000), "owner": owner},
                now,
                increments={"attempts": 1, "starts": 1},
            )
        except TaskNotFound:
            return Outcome(DLQ, env.task_id, "missing", reason="the task record no longer exists")
        except InvalidTransition as exc:
            current = exc.current
            if (
                isinstance(current, TaskRecord)
                and current.owner == owner
                and current.state is TaskState.RUNNING
            ):
                return current  # our start; its reply was lost
            return not_started(env.task_id, current, now)
        except Exception:
            logger.exception(
                "could not start the attempt; retrying", extra={"task_id": env.task_id}
            )
        delay = next(delays, None)
        if delay is None:
            return unanswered(env.task_id, "could not start")
        sleep(delay)


def expire(
    store: TaskStore, task_id: str, changes: dict[str, object], now: int
) -> TaskRecord | Outcome:
    """Move a task whose TTL has passed to EXPIRED; the record written, or the Outcome
    when it was not written here."""
    try:
        return store.transition(task_id, TaskState.EXPIRED, changes, now)
    except TaskNotFound:
        return Outcome(ACK, task_id, "expired", reason="expired (the record is gone)")
    except InvalidTransition as exc:
        current = exc.current
        if isinstance(current, TaskRecord) and current.state is TaskState.EXPIRED:
            return Outcome(ACK, task_id, "expired", state="EXPIRED", reason="expired")
        return not_started(task_id, current, now)
    except Exception:
        logger.exception("could not expire the task", extra={"task_id": task_id})
        return Outcome(
            HOLD, task_id, "unsettled", delay=RETRY_SOON, reason="the EXPIRED write failed"
        )

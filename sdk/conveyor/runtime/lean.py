"""A lean type's attempt (``@task(lean=True)``): one read, the handler, one outcome write.

An ordinary attempt writes twice: the start (QUEUED -> RUNNING, with a lease) and the
outcome. A lean attempt skips the start write:

1. **One read.** A strongly consistent GetItem (1 RRU for a record up to 4 KB). A
   finished task is not run again (acked as a duplicate; a FAILED one dead-lettered again,
   as ``attempt.not_started`` says); a missing one is dead-lettered; a RUNNING one (started
   before the type was made lean) takes the ordinary start instead.
2. **The handler**, with ``ctx.attempt`` = the read ``attempts`` + 1.
3. **One conditional outcome write** from the state read (``model.LEAN_TRANSITIONS``),
   pinned to the ``starts`` read and adding 1 to ``starts`` and ``attempts`` itself, so
   the first outcome of the attempts that read the same record wins and every other is
   refused (``Superseded``: the message is acked as a duplicate or held, never run
   again by this delivery). The write leaves a random tag in ``owner``; a retried write
   whose first try landed but whose reply was lost meets its own tag and counts as done
   (``settle.judge_lean``). Transient failures are retried and, past the budget, kept in
   process memory exactly as ordinary outcome writes are (``settle.OutcomeWriter``).

**A failed invocation** (the function crashed or timed out, so no outcome was written) is
recorded by the dispatcher that invoked it (``TaskRunner.lost_run``): one more read and
one fenced write spend an attempt (``AttemptLost``), so a task that always crashes its
function fails after ``max_attempts`` instead of running again for as long as its
message lives.

What lean gives up (see the README, *Cost*): at most one concurrent run (no lease: two
deliveries of one task may run the handler at the same time), crash detection by lease
(a delivery that dies mid-run is run again when its message's visibility ends, and that
run is not counted in ``attempts``), and the RUNNING state (the record stays QUEUED until
the outcome; ``started_at``, the wait and run clocks and the history entry are written by
the outcome write).
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable

from aws_lambda_powertools import Logger

from ..envelope import Envelope
from ..model import TaskRecord, TaskState
from ..ports import Clock, TaskStore, now_ms
from .attempt import not_started, unanswered
from .outcome import DLQ, Outcome
from .settle import backoff_delays

logger = Logger(service="conveyor")


class AttemptLost(Exception):
    """A lean run that ended without its outcome: its invocation failed (the function
    crashed or timed out). Retryable: it spends an attempt like any retryable error."""


def new_tag() -> str:
    """The random ``owner`` tag of one lean attempt's outcome write (16 hex characters)."""
    return uuid.uuid4().hex[:16]


def read(
    store: TaskStore,
    env: Envelope,
    *,
    clock: Clock,
    rng: random.Random,
    sleep: Callable[[float], None],
    budget: float,
) -> TaskRecord | Outcome:
    """The record a lean attempt runs from (QUEUED, SCHEDULED, or RUNNING for the
    ordinary start), or the Outcome for a delivery that runs nothing. Transient read
    failures are retried for at most ``budget`` seconds of backoff, then held."""
    delays = backoff_delays(budget, rng)
    while True:
        try:
            record = store.get(env.task_id)
        except Exception:
            logger.exception("could not read the task; retrying", extra={"task_id": env.task_id})
        else:
            if record is None:
                return Outcome(
                    DLQ, env.task_id, "missing", reason="the task record no longer exists"
                )
            if record.state in (TaskState.QUEUED, TaskState.SCHEDULED, TaskState.RUNNING):
                return record
            return not_started(env.task_id, record, now_ms(clock))
        delay = next(delays, None)
        if delay is None:
            return unanswered(env.task_id, "could not read the task")
        sleep(delay)


def as_started(record: TaskRecord, now: int) -> TaskRecord:
    """The record as this attempt runs it (never written): RUNNING, ``attempts`` and
    ``starts`` one up, ``started_at`` now. Outcome writes are built from it as from an
    ordinary start's record, so the clocks and history come out the same."""
    return record.replace(
        state=TaskState.RUNNING,
        attempts=record.attempts + 1,
        starts=record.starts + 1,
        started_at=now,
        lease_until=None,
    )

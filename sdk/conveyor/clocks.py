"""The three clocks and the bounded per-attempt history, for an attempt's outcome write. Pure.

All times are epoch ms (UTC); every clock only grows over a task's life and never goes
negative. They are written by the outcome write itself (no extra request):

* ``queue_wait_ms`` -- time in a lane before an attempt that does not follow a handed-back
  attempt: after submit (or a schedule's due time, ``not_before``) and after a DLQ redrive
  (which re-queues at ``queued_at``). Measured from ``due`` = max(``queued_at`` or
  ``created_at``, ``not_before``) to the attempt's ``started_at``.
* ``retry_wait_ms`` -- time between an attempt that sent the task back to QUEUED (retry,
  throttle, SIGTERM release) and the next start: the planned backoff is added by the retry
  write (``finish.retried``), the lateness after it fell due (``started_at - due``) by the
  next attempt's outcome write, so the sum is the real gap.
* ``run_ms`` -- handler time, measured by the runner.

A hold (a paused type or tenant) or a dispatcher throttle leaves the record as it is, so the
time held falls in whichever wait it interrupts. Which wait an attempt's lateness belongs to
is read from the last history entry: ``r == "Q"`` (it sent the task back) means retry wait;
no entry, or any other ``r`` (FAILED, then redriven), means queue wait. A start that retook
an expired lease (the attempt before it was lost: crash, kill -9) adds no wait, since the
lost attempt's lease is not waiting; a ``lost`` entry marks the gap.

History entries (short keys keep the item small) -- ``n`` attempt number (``starts``, unique
over the task's life), ``s`` started, ``f`` finished, ``w`` wait before it (ms), ``o``
outcome kind (ok | retryable | throttled | fatal | malformed | cancelled | released | lost),
``r`` state it left the task in (first letter: Q S F C), ``x`` executor, ``e`` error class.

Byte budget: only the last ``HISTORY_KEEP`` entries are kept (``starts`` says how many
attempts there were); ``e`` is cut to ``ERROR_CHARS`` and ``x`` to ``EXECUTOR_CHARS``, so one
entry is at most ``ENTRY_MAX_BYTES`` of DynamoDB item size and the whole history at most
``HISTORY_MAX_BYTES`` (``tests/unit/test_clocks.py`` measures both with the codec). A
one-attempt task adds about 60 bytes. An UpdateItem is billed on the larger of the old and
new item, 1 WRU per started KB: an ordinary task (record ~450 B + one entry) stays at 1 WRU
per transition; a task with a full history and a long error message may cost 2.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .model import TaskRecord, TaskState

#: Attempts kept in the record's history (the most recent ones).
HISTORY_KEEP = 6
#: Characters kept of an error class name / an executor name.
ERROR_CHARS = 32
EXECUTOR_CHARS = 16
#: Upper bounds of the DynamoDB size of one entry and of the whole history (bytes).
ENTRY_MAX_BYTES = 110
HISTORY_MAX_BYTES = 3 + HISTORY_KEEP * (ENTRY_MAX_BYTES + 1)

Entry = Mapping[str, Any]


def due_at(record: TaskRecord) -> int:
    """When the record's current wait began: queued (or created), or due if scheduled."""
    return max(record.queued_at or record.created_at, record.not_before or 0)


def waits_for_retry(history: tuple[Entry, ...], record: TaskRecord) -> bool:
    if history:
        return history[-1].get("r") == "Q"
    return record.starts > 1  # a record written before histories existed


def _retaken(history: tuple[Entry, ...], record: TaskRecord) -> bool:
    """The start before this one wrote no outcome (crash, kill -9, superseded)."""
    last = int(history[-1].get("n", 0)) if history else 0
    return last < record.starts - 1


def entry(
    number: int,
    *,
    started: int | None,
    finished: int | None,
    outcome: str,
    target: TaskState | None,
    executor: str | None = None,
    error: str | None = None,
    wait: int | None = None,
) -> dict[str, Any]:
    """One history entry; absent values are left out (they cost bytes)."""
    out: dict[str, Any] = {"n": number, "o": outcome[:16]}
    if started is not None:
        out["s"] = started
    if finished is not None:
        out["f"] = finished
    if wait is not None:
        out["w"] = wait
    if target is not None:
        out["r"] = target.value[0]
    if executor:
        out["x"] = executor[:EXECUTOR_CHARS]
    if error:
        out["e"] = error[:ERROR_CHARS]
    return out


def keep(history: tuple[Entry, ...], *added: Entry) -> tuple[Entry, ...]:
    """``history`` plus ``added``, cut to the last ``HISTORY_KEEP`` entries."""
    return (*history, *added)[-HISTORY_KEEP:]


def outcome_changes(
    record: TaskRecord,
    *,
    target: TaskState,
    outcome: str,
    now: int,
    run_ms: int,
    executor: str | None = None,
    error: str | None = None,
    backoff_ms: int = 0,
) -> dict[str, Any]:
    """The clocks and history an attempt's outcome write sets. ``record`` is the attempt's
    RUNNING record (``started_at`` and ``starts`` are this attempt's); ``run_ms`` is the
    handler's run time; ``backoff_ms`` the planned wait of a retry this write schedules
    (added to ``retry_wait_ms`` now). The result is merged into the write's changes."""
    history = tuple(record.history)
    started = record.started_at
    changes: dict[str, Any] = {"run_ms": record.run_ms + max(0, run_ms)}
    added: list[Entry] = []
    wait: int | None = None
    if _retaken(history, record):
        lost = entry(record.starts - 1, started=None, finished=None, outcome="lost", target=None)
        added.append(lost)
    elif started is not None:
        wait = max(0, started - due_at(record))
        clock = "retry_wait_ms" if waits_for_retry(history, record) else "queue_wait_ms"
        changes[clock] = getattr(record, clock) + wait
    if backoff_ms:
        changes["retry_wait_ms"] = changes.get("retry_wait_ms", record.retry_wait_ms) + backoff_ms
    added.append(
        entry(
            record.starts,
            started=started,
            finished=now,
            outcome=outcome,
            target=target,
            executor=executor,
            error=error,
            wait=wait,
        )
    )
    changes["history"] = keep(history, *added)
    return changes


def released_changes(
    record: TaskRecord, *, now: int, executor: str | None = None
) -> dict[str, Any]:
    """History for an attempt given back unfinished (SIGTERM): the next wait is a retry wait."""
    return outcome_changes(
        record,
        target=TaskState.QUEUED,
        outcome="released",
        now=now,
        run_ms=max(0, now - (record.started_at or now)),
        executor=executor,
    )

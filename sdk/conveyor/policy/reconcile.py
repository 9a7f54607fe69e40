"""What the reconciler does about one task record: pure, clock passed in as ``now_ms``.

A crash can strand a task with nothing left that will move it:

* QUEUED (or SCHEDULED) and never picked up: the producer died between the record and
  the send, or the message was deleted by mistake. Due (``max(queued_at, not_before)``)
  ``queued_grace`` ago and still not started -> re-send its lane message.
* RUNNING with a lease that ended ``lease_grace`` ago: a live lane message would have
  been redelivered and retaken the task long since -> re-send.
* FAILED ``failed_grace`` ago with no DLQ entry -> dead-letter it.

A re-send is harmless (starting a task is a conditional write; a second message for a
started or finished task is acked as a duplicate) but it costs, and a healthy task can
look stranded behind a deep backlog. So re-sends are bounded: the n-th re-send of a task
waits ``grace * 2**n`` and at most ``max_resends`` are made; a task still stuck after
that is reported (logged, counted), not re-sent forever. Tasks of a paused type or
tenant are left alone. A task whose inline payload lived only in its lost message
cannot be re-sent (``payload_known=False``): a QUEUED one never started is failed as
lost (``LOST``, dead-lettered with that reason) once ``lost_after`` has passed, when no
message of it can be left; any other is reported. Re-submitting it with the same ID and
payload repairs it at once (``Conveyor.submit``), a lost one too.

A lean type's task (``@task(lean=True)``) stays QUEUED while it runs: nothing in its record
tells a running task from a stranded one. Its QUEUED grace is therefore at least
``lean_grace(timeout)``: the longest a live message can keep it QUEUED without a write --
one run to its timeout plus the write budget, then, if that run's Lambda failed, the
message hidden as long again before it is run once more, plus the lanes' visibility. A
re-send before then would start a second, concurrent run.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from ..model import TaskError, TaskRecord, TaskState

_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_DECODE = {c: i for i, c in enumerate(_CROCKFORD)}


#: The reason a stranded task cannot be re-sent (its verdicts' reasons end with it).
INLINE = "payload only inline"
#: Seconds between looks at a task of a paused type or tenant.
PAUSED_RECHECK = 3600.0


class Action(StrEnum):
    DONE = "done"  # nothing more to watch (finished, or dead-lettered)
    WAIT = "wait"  # look again at ``Verdict.next_ms``
    RESEND = "resend"  # send the lane message again
    DEAD_LETTER = "dead-letter"  # send a DLQ entry
    REPORT = "report"  # stuck, and nothing safe to do: log and count, stop watching
    FAIL_LOST = "fail-lost"  # never started, payload gone with its message: FAILED + DLQ


@dataclass(frozen=True, slots=True)
class Verdict:
    action: Action
    reason: str = ""
    #: When to look again (epoch ms), for WAIT.
    next_ms: int = 0


@dataclass(frozen=True, slots=True)
class ReconcileSettings:
    """Thresholds, in seconds. The defaults keep clear of every healthy wait: SQS delays
    (up to 900 s) ride on ``not_before``; the lanes' 60 s visibility is well inside
    ``lease_grace``."""

    #: A QUEUED/SCHEDULED task due this long ago and not started is suspect.
    queued_grace: float = 600.0
    #: A RUNNING task whose lease ended this long ago is suspect.
    lease_grace: float = 120.0
    #: A FAILED task this long finished and not in the DLQ is dead-lettered.
    failed_grace: float = 300.0
    #: At most this many re-sends per task (each waits twice as long as the one before).
    max_resends: int = 3
    #: A FAILED task finished longer ago than this is not second-guessed (its DLQ entry
    #: may have been handled and deleted on purpose). None: no limit.
    failed_max_age: float | None = None
    #: A QUEUED task never started, whose inline payload travelled only in its message,
    #: due this long ago is failed as lost (``LOST``) and dead-lettered. No lane message
    #: outlives the lanes' retention (SQS's default, 4 days), so by then nothing can run
    #: it; before, it may be a healthy task behind a backlog.
    lost_after: float = 4 * 86400.0


#: Seconds a lean attempt may outlast its timeout (its outcome write's budget), and the
#: lanes' visibility (a released message's wait before it is received again).
LEAN_WRITE_BUDGET = 30.0
LANE_VISIBILITY = 60.0


def lean_grace(timeout: float) -> float:
    """Seconds a lean task of this ``timeout`` may stay QUEUED while its message is live:
    a run and its outcome write, the hold after a failed invocation (as long again),
    and the lanes' visibility."""
    return 2 * (timeout + LEAN_WRITE_BUDGET) + LANE_VISIBILITY


def decide(
    record: TaskRecord,
    now_ms: int,
    *,
    resends: int = 0,
    paused: bool = False,
    payload_known: bool = True,
    in_dlq: bool | None = None,
    settings: ReconcileSettings = ReconcileSettings(),
    lean_timeout: float | None = None,
) -> Verdict:
    """``resends``: re-sends already made for this task; ``in_dlq``: whether the DLQ holds
    an entry for it (None: not looked up yet); ``lean_timeout``: the task's type is lean,
    with this timeout (seconds), so its QUEUED grace is at least ``lean_grace`` of it."""
    state = record.state
    if state is TaskState.FAILED:
        due = (record.finished_at or record.created_at) + int(settings.failed_grace * 1000)
        if now_ms < due:
            return Verdict(Action.WAIT, "failed recently", due)
        oldest = settings.failed_max_age
        finished = record.finished_at or record.created_at
        if oldest is not None and now_ms - finished > oldest * 1000:
            return Verdict(Action.DONE, "failed long ago")
        if in_dlq is None:
            return Verdict(Action.WAIT, "DLQ not looked up", now_ms)
        if in_dlq:
            return Verdict(Action.DONE, "in the DLQ")
        return Verdict(Action.DEAD_LETTER, "FAILED with no DLQ entry")
    if record.terminal:
        return Verdict(Action.DONE, f"{state.value}")
    if state is TaskState.RUNNING:
        since = record.lease_until or record.started_at or record.created_at
        grace = settings.lease_grace
        what = "lease ended"
    else:
        since = max(record.queued_at or record.created_at, record.not_before or 0)
        grace = settings.queued_grace
        if lean_timeout is not None:
            grace = max(grace, lean_grace(lean_timeout))
        what = "due"
    due = since + int(grace * 1000 * 2**resends)
    if now_ms < due:
        return Verdict(Action.WAIT, f"{what} recently", due)
    if paused:  # looked at again hourly: a paused backlog may be large
        return Verdict(Action.WAIT, "paused", now_ms + int(max(grace, PAUSED_RECHECK) * 1000))
    ago = (now_ms - since) // 1000
    if resends >= settings.max_resends:
        return Verdict(Action.REPORT, f"{state.value}, {what} {ago} s ago after {resends} re-sends")
    if not payload_known:
        if state is not TaskState.QUEUED or record.starts:
            return Verdict(Action.REPORT, f"{state.value}, {what} {ago} s ago; {INLINE}")
        lost_at = since + int(max(grace, settings.lost_after) * 1000)
        if now_ms < lost_at:
            return Verdict(Action.WAIT, f"QUEUED, due {ago} s ago; {INLINE}", lost_at)
        return Verdict(Action.FAIL_LOST, f"QUEUED, due {ago} s ago; {INLINE}")
    return Verdict(Action.RESEND, f"{state.value}, {what} {ago} s ago")


def ulid_bounds(lo_ms: int, hi_ms: int) -> tuple[str, str]:
    """The smallest ULID of ``lo_ms`` and the largest of ``hi_ms`` (IDs sort by time)."""
    return _time_part(lo_ms) + "0" * 16, _time_part(hi_ms) + "Z" * 16


def ulid_ms(task_id: str) -> int | None:
    """The creation time (epoch ms) of a ULID task ID; None for any other ID."""
    if len(task_id) != 26 or task_id[0] > "7":
        return None
    value = 0
    for char in task_id[:10]:
        digit = _DECODE.get(char)
        if digit is None:
            return None
        value = value * 32 + digit
    if any(c not in _DECODE for c in task_id[10:]):
        return None
    return value


def _time_part(ms: int) -> str:
    ms = max(0, min(ms, (1 << 48) - 1))
    return "".join(_CROCKFORD[(ms >> shift) & 31] for shift in range(45, -1, -5))


#: Seconds a QUEUED record must have existed before a re-submit re-sends its message
#: (younger, its own producer's send may still be on the way).
RESUBMIT_GRACE = 10.0
#: Seconds after a RUNNING record's lease ended before a re-submit re-sends its message.
RESUBMIT_LEASE_GRACE = 30.0


#: ``TaskError.kind`` of a task the reconciler failed because its inline payload was lost.
LOST = "lost"
LOST_MESSAGE = "lost before it was enqueued; payload not recoverable: submit it again"


def lost_error() -> TaskError:
    return TaskError(LOST, "Lost", LOST_MESSAGE)


def is_lost(record: TaskRecord) -> bool:
    """FAILED by the reconciler as lost before it ever started (a re-submit revives it)."""
    return (
        record.state is TaskState.FAILED
        and record.starts == 0
        and record.error is not None
        and record.error.kind == LOST
    )


def resubmit_repairs(
    record: TaskRecord,
    now_ms: int,
    *,
    after_error: bool = False,
    lean_timeout: float | None = None,
) -> bool:
    """Whether re-submitting this existing task (same ID, same payload) should send its
    message again: it is QUEUED or SCHEDULED, was never started and is older than
    ``RESUBMIT_GRACE`` (its producer may have died between the record and the send) -- at
    once if ``after_error`` (this producer's own submit of it raised, so no send of its
    own is on the way); RUNNING with a lease that ended ``RESUBMIT_LEASE_GRACE`` ago; or
    failed as lost (``is_lost``: the re-submit brings the payload back). Safe either way:
    starting is a conditional write, and a second message for a started task is a
    duplicate. A lean type's task (``lean_timeout``: its timeout) stays QUEUED while it runs,
    so it is re-sent only ``lean_grace`` after it was queued: sooner, the message may be
    running it, and a second one would run it again at the same time."""
    if record.state in (TaskState.QUEUED, TaskState.SCHEDULED):
        since = record.queued_at or record.created_at
        fresh = record.started_at is None and record.attempts == 0
        grace = RESUBMIT_GRACE if lean_timeout is None else lean_grace(lean_timeout)
        return fresh and (after_error or now_ms - since >= grace * 1000)
    if record.state is TaskState.RUNNING and record.lease_until is not None:
        return now_ms - record.lease_until >= RESUBMIT_LEASE_GRACE * 1000
    return is_lost(record)

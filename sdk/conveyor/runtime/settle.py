"""Writing an attempt's outcome: durable before ack, conditional on the attempt, never lost.

An outcome write is one conditional transition out of RUNNING that also pins the attempt's
fencing token (``expect_starts``). Every AWS call can fail, so ``OutcomeWriter.write``

* retries transient failures (any exception other than a refusal) with jittered
  exponential backoff for at most ``budget`` seconds of waiting;
* reads a refusal by the record it carries (DynamoDB returns it with the
  ConditionalCheckFailed): the record already in the target state under this token means
  the write was *applied* (a reply lost after botocore retried it), which counts as
  success; still RUNNING under this token means the refusal was not about this attempt,
  so the write is retried; anything else (another token, another state, no record) means
  the attempt was *superseded*, and the caller decides what the message holder does;
* if the write still cannot be made, keeps the computed outcome in process memory (by
  task ID, with its token) and answers ``hold``/``unsettled``: the message comes back
  after a short delay and ``recall`` gives the outcome back, so the handler does not run
  again; only the write is retried.

Events are published once the write is durable (at most once per process).
"""

from __future__ import annotations

import dataclasses
import random
import threading
from collections import OrderedDict
from collections.abc import Callable, Collection, Iterator, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from aws_lambda_powertools import Logger

from ..errors import InvalidTransition, TaskNotFound
from ..model import TaskRecord, TaskState
from ..ports import Clock, EventPublisher, PayloadStore, TaskStore, now_ms
from .outcome import HOLD, Outcome

logger = Logger(service="conveyor")

EVENT_TYPES = {
    TaskState.SUCCEEDED: "Task Succeeded",
    TaskState.FAILED: "Task Failed",
    TaskState.CANCELLED: "Task Cancelled",
    TaskState.EXPIRED: "Task Expired",
}


def event_detail(record: TaskRecord) -> dict[str, Any]:
    detail: dict[str, Any] = {
        "id": record.task_id,
        "type": record.task_type,
        "tenant": record.tenant,
        "state": record.state.value,
        "attempts": record.attempts,
        "throttles": record.throttles,
        "queue_wait_ms": record.queue_wait_ms,
        "retry_wait_ms": record.retry_wait_ms,
        "run_ms": record.run_ms,
    }
    if record.error is not None:
        detail["error"] = record.error.to_dict()
    return detail


def publish(
    events: EventPublisher | None, record: TaskRecord, enabled: bool | Collection[str] = True
) -> None:
    """Emit the record's lifecycle event if its state is one the type publishes
    (``enabled``: the type's ``events`` states; True = all); a failure is logged only."""
    if events is None or record.state not in EVENT_TYPES:
        return
    if not (enabled is True or (enabled and record.state.value in enabled)):
        return
    try:
        events.publish([(EVENT_TYPES[record.state], event_detail(record))])
    except Exception:
        logger.exception("could not publish the task event", extra={"task_id": record.task_id})


def backoff_delays(
    budget: float, rng: random.Random, first: float = 0.05, cap: float = 2.0
) -> Iterator[float]:
    """Waits (seconds) between tries: full jitter over ``first * 2**n`` capped at ``cap``;
    their sum never exceeds ``budget``, so the generator ends when it is spent."""
    spent, ceiling = 0.0, first
    while True:
        delay = rng.uniform(ceiling / 2, ceiling)
        if spent + delay > budget:
            return
        spent += delay
        yield delay
        ceiling = min(cap, ceiling * 2)


@dataclass(frozen=True, slots=True)
class PendingWrite:
    """An attempt's computed outcome, not yet durable.

    ``token`` is the attempt's ``starts``: the write applies only while the record is
    RUNNING under it. ``outcome`` is what the message holder is told once the write is
    durable (state, attempts and clocks are then taken from the written record).
    ``blob`` is a large result ``(key, bytes)`` put in the payload store first (a put is
    idempotent, so it may be repeated)."""

    task_id: str
    token: int
    target: TaskState
    changes: Mapping[str, Any]
    outcome: Outcome
    #: Terminal states that publish an event (the task type's ``events``); True = all.
    events: bool | Collection[str] = True
    increments: Mapping[str, int] | None = None
    blob: tuple[str, bytes] | None = None
    #: A lean attempt's write (``runtime.lean``): made from the state the attempt read
    #: (``starts`` then ``token - 1``), it adds the start itself (``starts`` and
    #: ``attempts`` + 1) and leaves this random tag in ``owner``, by which a refusal of
    #: the write after a lost reply is told from another delivery's outcome.
    lean_tag: str | None = None

    def lean_call(self) -> tuple[Mapping[str, Any], int, dict[str, int]]:
        """The changes, the expected ``starts`` and the increments of a lean write."""
        added = dict(self.increments or {})
        added["attempts"] = added.get("attempts", 0) + 1
        added["starts"] = added.get("starts", 0) + 1
        changes = {**self.changes, "owner": self.lean_tag}
        return changes, self.token - 1, {k: v for k, v in added.items() if v}


class Verdict(StrEnum):
    APPLIED = "applied"  # the record holds this write: it was made (reply lost)
    OURS = "ours"  # still RUNNING under this token: the refusal was spurious, retry
    SUPERSEDED = "superseded"  # another attempt, a cancel or a release moved on


def judge(current: TaskRecord | None, target: TaskState, token: int) -> Verdict:
    """Read a refused outcome write by the record as it is now."""
    if current is None or current.starts != token:
        return Verdict.SUPERSEDED
    if current.state is target:
        return Verdict.APPLIED
    if current.state is TaskState.RUNNING:
        return Verdict.OURS
    return Verdict.SUPERSEDED


def judge_lean(current: TaskRecord | None, pending: PendingWrite) -> Verdict:
    """Read a refused lean outcome write: applied only if the record carries its tag."""
    if current is None:
        return Verdict.SUPERSEDED
    if current.starts == pending.token and current.owner == pending.lean_tag:
        return Verdict.APPLIED if current.state is pending.target else Verdict.SUPERSEDED
    lean_sources = (TaskState.QUEUED, TaskState.SCHEDULED)
    if current.starts == pending.token - 1 and current.state in lean_sources:
        return Verdict.OURS
    return Verdict.SUPERSEDED


@dataclass(frozen=True, slots=True)
class Superseded:
    """The write was not made because the attempt no longer holds the task."""

    current: TaskRecord | None


class OutcomeWriter:
    """Makes PendingWrites durable; remembers the ones it could not (up to ``capacity``)."""

    def __init__(
        self,
        store: TaskStore,
        payloads: PayloadStore,
        events: EventPublisher | None,
        clock: Clock,
        *,
        rng: random.Random,
        sleep: Callable[[float], None],
        budget: float = 30.0,
        release_delay: float = 5.0,
        capacity: int = 10_000,
    ) -> None:
        self.store = store
        self.payloads = payloads
        self.events = events
        self.clock = clock
        self.rng = rng
        self.sleep = sleep
        #: Seconds of backoff a write may spend before its message is released.
        self.budget = budget
        #: Seconds a released message stays hidden before it comes back for the write.
        self.release_delay = release_delay
        self.capacity = capacity
        self._pending: OrderedDict[str, PendingWrite] = OrderedDict()
        self._lock = threading.Lock()
        #: Writes that needed more than one try, and writes given up for now.
        self.retried = 0
        self.released = 0

    def recall(self, task_id: str) -> PendingWrite | None:
        """The outcome computed for ``task_id`` whose write is still owed, if any."""
        with self._lock:
            return self._pending.get(task_id)

    def owed(self) -> int:
        with self._lock:
            return len(self._pending)

    def forget_all(self) -> int:
        """Drop every owed write (what a process death does); returns how many."""
        with self._lock:
            count = len(self._pending)
            self._pending.clear()
            return count

    def _remember(self, pending: PendingWrite) -> None:
        with self._lock:
            self._pending[pending.task_id] = pending
            self._pending.move_to_end(pending.task_id)
            while len(self._pending) > self.capacity:
                self._pending.popitem(last=False)

    def _forget(self, pending: PendingWrite) -> None:
        with self._lock:
            if self._pending.get(pending.task_id) is pending:
                del self._pending[pending.task_id]

    def _try(self, pending: PendingWrite) -> TaskRecord | Superseded | None:
        """One try: the written record, Superseded, or None (retry)."""
        if pending.blob is not None:
            self.payloads.put(*pending.blob)
        try:
            if pending.lean_tag is not None:
                changes, expect, increments = pending.lean_call()
                return self.store.transition(
                    pending.task_id,
                    pending.target,
                    changes,
                    now_ms(self.clock),
                    expect_starts=expect,
                    increments=increments,
                    lean=True,
                )
            return self.store.transition(
                pending.task_id,
                pending.target,
                pending.changes,
                now_ms(self.clock),
                expect_starts=pending.token,
                increments=pending.increments,
            )
        except TaskNotFound:
            return Superseded(None)
        except InvalidTransition as exc:
            current = exc.current if isinstance(exc.current, TaskRecord) else None
            if pending.lean_tag is not None:
                verdict = judge_lean(current, pending)
            else:
                verdict = judge(current, pending.target, pending.token)
            if verdict is Verdict.APPLIED:
                assert current is not None
                return current
            if verdict is Verdict.SUPERSEDED:
                return Superseded(current)
            return None

    def write(self, pending: PendingWrite, budget: float | None = None) -> Outcome | Superseded:
        delays = backoff_delays(self.budget if budget is None else budget, self.rng)
        tries = 0
        while True:
            tries += 1
            try:
                result = self._try(pending)
            except Exception:
                logger.exception(
                    "outcome write failed; retrying",
                    extra={"task_id": pending.task_id, "tries": tries},
                )
                result = None
            if result is not None:
                break
            delay = next(delays, None)
            if delay is None:
                self._remember(pending)
                self.released += 1
                logger.warning(
                    "outcome not yet durable; the message is released for a later try",
                    extra={"task_id": pending.task_id, "target": pending.target.value},
                )
                return Outcome(
                    HOLD,
                    pending.task_id,
                    "unsettled",
                    delay=self.release_delay,
                    reason=f"the {pending.target.value} write is not durable yet",
                )
            self.sleep(delay)
        self._forget(pending)
        if tries > 1:
            self.retried += 1
        if isinstance(result, Superseded):
            return result
        publish(self.events, result, pending.events)
        return dataclasses.replace(
            pending.outcome,
            state=result.state.value,
            attempts=result.attempts,
            queue_wait_ms=result.queue_wait_ms,
            run_ms=result.run_ms,
        )

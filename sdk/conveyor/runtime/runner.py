"""TaskRunner: one attempt of one task, from the lane message to a durable outcome.

Shared by the Lambda entry, the dev cloud's local executors and the Fargate worker, so
every executor applies the same rules:

* **Succeed once.** Starting is one conditional write (``attempt.start``) that adds 1 to
  ``starts``, the attempt's fencing token, which never goes down. Every outcome write is
  conditional on RUNNING under that token, so a stale attempt can never finish the task,
  and a write retried after a lost reply is recognised as already applied.
* **Durable before ack.** The outcome is written (``settle.OutcomeWriter``: retried with
  backoff, refusals read by the record they carry) before the caller deletes the message.
  If the write cannot be made, the message is released, not acked, and the computed
  outcome is kept in this process: when the message comes back here, only the write is
  retried, the handler does not run again.
* **When a handler can run twice:** only if the process dies (or its outcome write stays
  impossible until it is gone) between the handler's return and the durable write, or an
  attempt outlives its lease (or a worker's SIGTERM grace) and another delivery retakes it.
* **Lean types** (``@task(lean=True)``) skip the start write: one read, the handler, one
  outcome write fenced by the ``starts`` read (``runtime.lean``). With no lease, two
  deliveries of one lean task may run its handler at the same time; the first outcome
  wins.
* **Attempts live in the record.** A throttled attempt gives its attempt back and counts
  a throttle instead; retries are decided by ``failure.plan_failure``.
"""

from __future__ import annotations

import dataclasses
import random
import time
from collections.abc import Callable
from typing import Any

from aws_lambda_powertools import Logger

from ..catalog import Catalog, TaskType
from ..envelope import Envelope, Malformed, parse
from ..errors import Throttled, UnknownTaskType
from ..model import TaskError, TaskRecord, TaskState
from ..payload import decode, digest
from ..ports import Clock, EventPublisher, PayloadStore, SystemClock, TaskStore
from . import attempt, finish, lean, spans
from .context import TaskContext
from .failure import FailurePlan, plan_failure
from .finish import RESULT_INLINE_LIMIT, Attempt
from .outcome import ACK, DLQ, Outcome
from .settle import EVENT_TYPES, OutcomeWriter, PendingWrite, Superseded, event_detail, publish
from .timeout import TaskTimeout, call_with_timeout

logger = Logger(service="conveyor")

#: Longest retry delay carried by SQS visibility (seconds); longer waits are capped here
#: unless a scheduler is configured.
MAX_QUEUE_DELAY = 900.0


class TaskRunner:
    def __init__(
        self,
        catalog: Catalog,
        store: TaskStore,
        payloads: PayloadStore,
        *,
        events: EventPublisher | None = None,
        clock: Clock | None = None,
        rng: random.Random | None = None,
        lease_margin: float = 30.0,
        cancel_poll: float = 5.0,
        enforce_timeout: bool = True,
        scheduler: Any = None,
        write_budget: float = 30.0,
        sleep: Callable[[float], None] = time.sleep,
        executor: str | None = None,
        children: Callable[[], Any] | None = None,
    ) -> None:
        #: Builds the SDK client that submits child tasks (``ctx.submit``), on first use.
        self.children = children
        self._child_client: Any = None
        #: Executor name written in each attempt's history (default: the type's executor).
        self.executor = executor
        #: Optional EventBridgeScheduler: retries waiting over 15 minutes go through it.
        self.scheduler = scheduler
        self.catalog = catalog
        self.store = store
        self.payloads = payloads
        self.events = events
        self.clock = clock or SystemClock()
        self.rng = rng or random.Random()
        self.lease_margin = lease_margin
        self.cancel_poll = cancel_poll
        self.enforce_timeout = enforce_timeout
        #: Seconds of backoff a start or an outcome write may spend on transient errors.
        self.write_budget = write_budget
        self.sleep = sleep
        self.writer = OutcomeWriter(
            store, payloads, events, self.clock, rng=self.rng, sleep=sleep, budget=write_budget
        )

    def _now(self) -> int:
        return int(self.clock.now() * 1000)

    # -- entry points ---------------------------------------------------------------------

    def run_body(self, body: str, *, trace: str | None = None, **kwargs: Any) -> Outcome:
        """Parse a raw lane message and run it; a malformed one comes back as ``dlq``.
        ``trace`` (a header handed on by the dispatcher) replaces the message's own."""
        try:
            envelope = parse(body)
        except Malformed as exc:
            return Outcome(DLQ, "", "malformed", reason=f"malformed message: {exc}")
        if trace is not None:
            envelope = dataclasses.replace(envelope, trace=trace)
        return self.run(envelope, **kwargs)

    def run(
        self,
        env: Envelope,
        *,
        lease_seconds: float | None = None,
        on_heartbeat: Callable[[], None] | None = None,
        write_budget: float | None = None,
        on_start: Callable[[TaskRecord], None] | None = None,
    ) -> Outcome:
        """Run one delivery of ``env``. ``write_budget`` (seconds) bounds the backoff on
        transient store errors, e.g. to what is left of a Lambda invocation;
        ``on_start`` receives the RUNNING record (its ``starts`` is the attempt's token)."""
        try:
            task_type = self.catalog.get(env.task_type)
        except UnknownTaskType as exc:
            return Outcome(DLQ, env.task_id, "unknown-type", reason=str(exc))
        budget = self.write_budget if write_budget is None else write_budget
        owed = self.writer.recall(env.task_id)
        if owed is not None:
            replayed = self.writer.write(owed, budget)
            if isinstance(replayed, Outcome):
                return replayed  # the handler ran already; only its write was owed
        now = self._now()
        if env.expires_at is not None and now >= env.expires_at:
            return self.expire(env.task_id, task_type, now)
        if task_type.lean:
            read = lean.read(
                self.store, env, clock=self.clock, rng=self.rng, sleep=self.sleep, budget=budget
            )
            if isinstance(read, Outcome):
                return read
            if read.state is not TaskState.RUNNING:  # else: the ordinary start retakes it
                return self._run_lean(read, task_type, env, now, budget)
        lease = (
            lease_seconds if lease_seconds is not None else task_type.timeout + self.lease_margin
        )
        started = attempt.start(
            self.store,
            env,
            lease_seconds=lease,
            clock=self.clock,
            rng=self.rng,
            sleep=self.sleep,
            budget=budget,
        )
        if isinstance(started, Outcome):
            return started
        record = started
        if on_start is not None:
            on_start(record)
        spans.waited(env, record)
        outcome = self._attempt_started(record, task_type, env, now, on_heartbeat, budget)
        spans.ran(env, record, outcome, self.executor or task_type.executor, self._now())
        return outcome

    def _run_lean(
        self, read: TaskRecord, task_type: TaskType, env: Envelope, now: int, budget: float
    ) -> Outcome:
        """A lean attempt (``runtime.lean``): no start write; the outcome write adds it."""
        record = lean.as_started(read, self._now())
        spans.waited(env, record)
        outcome = self._attempt_started(record, task_type, env, now, None, budget, lean.new_tag())
        spans.ran(env, record, outcome, self.executor or task_type.executor, self._now())
        return outcome

    def lost_run(self, body: str, reason: str, *, budget: float = 5.0) -> Outcome | None:
        """Record a lean attempt whose invocation failed (``runtime.lean``): an attempt
        spent (``AttemptLost``), so a retry or, with none left, FAILED, in one fenced
        write. None when the message is not a lean task's (an ordinary attempt's lease
        covers it) or the task was not left QUEUED."""
        try:
            env = parse(body)
            task_type = self.catalog.get(env.task_type)
        except (Malformed, UnknownTaskType):
            return None
        if not task_type.lean:
            return None
        read = lean.read(
            self.store, env, clock=self.clock, rng=self.rng, sleep=self.sleep, budget=budget
        )
        if isinstance(read, Outcome):
            return read
        if read.state is TaskState.RUNNING:
            return None
        record = lean.as_started(read, self._now())
        plan = plan_failure(
            lean.AttemptLost(reason), record, task_type, cancelled=False, rng=self.rng
        )
        pending = self._after_failure(self._attempt(record, task_type), plan, env, budget)
        return self._settle(record, pending, budget, lean.new_tag())

    def _attempt_started(
        self,
        record: TaskRecord,
        task_type: TaskType,
        env: Envelope,
        now: int,
        on_heartbeat: Callable[[], None] | None,
        budget: float,
        lean_tag: str | None = None,
    ) -> Outcome:
        if record.payload_sha256 != env.sha256:
            error = TaskError("malformed", "PayloadMismatch", "message payload does not match")
            pending = finish.failed(self._attempt(record, task_type), error, now)
            return self._settle(record, pending, budget, lean_tag)
        if record.attempts > task_type.retry.max_attempts:
            lost = f"attempt {record.attempts - 1} crashed or timed out; no attempts left"
            error = TaskError("retryable", "AttemptLost", lost)
            pending = finish.failed(self._attempt(record, task_type), error, now)
            return self._settle(record, pending, budget, lean_tag)
        return self._execute(record, task_type, env, now, on_heartbeat, budget, lean_tag)

    def expire(self, task_id: str, task_type: TaskType, now: int) -> Outcome:
        """Drop a task whose TTL has passed: EXPIRED, never run."""
        changes: dict[str, object] = {
            "finished_at": now,
            "error": TaskError("expired", "Expired", "TTL passed"),
            "purge_at": finish.purge_at(task_type, None, now),
        }
        record = attempt.expire(self.store, task_id, changes, now)
        if isinstance(record, Outcome):
            return record
        publish(self.events, record, task_type.events)
        return Outcome(ACK, task_id, "expired", state=record.state.value, reason="TTL passed")

    # -- the attempt ----------------------------------------------------------------------

    def _submit_child(self, *args: Any, **kwargs: Any) -> Any:
        """``ctx.submit`` of a ``submits=True`` type: the SDK client's submit, with the
        client built once, on the first child (an attempt that submits nothing never
        imports the client module)."""
        if self._child_client is None:
            assert self.children is not None
            self._child_client = self.children()
        return self._child_client.submit(*args, **kwargs)

    def _load_payload(self, record: TaskRecord, env: Envelope) -> Any:
        if env.payload_ref is None:
            return env.payload
        data = self.payloads.get(env.payload_ref)
        if digest(data) != record.payload_sha256:
            raise ValueError("offloaded payload does not match its hash")
        return decode(data)

    def _execute(
        self,
        record: TaskRecord,
        task_type: TaskType,
        env: Envelope,
        now: int,
        on_heartbeat: Callable[[], None] | None,
        budget: float,
        lean_tag: str | None = None,
    ) -> Outcome:
        assert task_type.handler is not None
        ctx = TaskContext(
            task_id=record.task_id,
            task_type=record.task_type,
            tenant=record.tenant,
            priority=record.priority,
            attempt=record.attempts,
            throttles=record.throttles,
            deadline=self.clock.now() + task_type.timeout,
            store=self.store,
            clock=self.clock,
            logger=logger,
            poll=self.cancel_poll,
            on_heartbeat=on_heartbeat,
            submitter=self._submit_child if task_type.submits and self.children else None,
        )
        logger.thread_safe_append_keys(
            task_id=record.task_id,
            task_type=record.task_type,
            tenant=record.tenant,
            attempt=record.attempts,
        )
        started = self.clock.now()
        try:
            try:
                payload = self._load_payload(record, env)
            except (KeyError, ValueError) as exc:
                error = TaskError("malformed", type(exc).__name__, str(exc))
                pending = finish.failed(self._attempt(record, task_type), error, now)
                return self._settle(record, pending, budget, lean_tag)

            def call() -> Any:
                assert task_type.handler is not None
                return task_type.handler(payload, ctx)

            result = call_with_timeout(call, task_type.timeout) if self.enforce_timeout else call()
        except BaseException as exc:
            if isinstance(exc, (KeyboardInterrupt, SystemExit)):
                raise
            ran = self._attempt(record, task_type, started)
            cancelled = ctx._cancelled or record.cancel_requested
            plan = plan_failure(exc, record, task_type, cancelled=cancelled, rng=self.rng)
            pending = self._after_failure(ran, plan, env, budget)
            return self._settle(record, pending, budget, lean_tag)
        finally:
            logger.thread_safe_remove_keys(["task_id", "task_type", "tenant", "attempt"])
        ran = self._attempt(record, task_type, started)
        pending = finish.succeeded(ran, result, self._now())
        return self._settle(record, pending, budget, lean_tag)

    def _attempt(
        self, record: TaskRecord, task_type: TaskType, started: float | None = None
    ) -> Attempt:
        """The attempt to finish; it ran since ``started`` (clock seconds), if it ran."""
        ran = 0 if started is None else int((self.clock.now() - started) * 1000)
        return Attempt(record, task_type, ran, self.executor)

    # -- settling ---------------------------------------------------------------------------

    def _settle(
        self, record: TaskRecord, pending: PendingWrite, budget: float, lean_tag: str | None
    ) -> Outcome:
        """Make ``pending`` durable; ``lean_tag``: as a lean attempt's write (it also
        records the run's ``started_at``, which no start write did)."""
        if lean_tag is not None:
            changes = {**pending.changes, "started_at": record.started_at}
            pending = dataclasses.replace(pending, changes=changes, lean_tag=lean_tag)
        written = self.writer.write(pending, budget)
        if isinstance(written, Superseded):
            logger.info("attempt superseded", extra={"task_id": record.task_id})
            current = written.current
            if lean_tag is not None and current is not None and not current.terminal:
                # Another delivery's outcome came first and sent the task back to wait
                # (a retry): its message carries the task on; this one is a duplicate.
                return Outcome(
                    ACK,
                    record.task_id,
                    "duplicate",
                    state=current.state.value,
                    reason="another delivery recorded this attempt",
                )
            return attempt.not_started(record.task_id, current, self._now())
        return written

    def _after_failure(
        self, a: Attempt, plan: FailurePlan, env: Envelope, budget: float
    ) -> PendingWrite:
        now = self._now()
        if plan.target is TaskState.FAILED:
            return finish.failed(a, plan.error, now)
        if plan.target is TaskState.CANCELLED:
            return finish.cancelled(a, plan.error, now)
        scheduled, delay = self._retry_delay(a.record, plan, env, now)
        logger.info(
            "retrying",
            extra={"task_id": a.record.task_id, "kind": plan.kind, "delay": round(delay, 3)},
        )
        return finish.retried(a, plan, now, delay, scheduled=scheduled)

    def _retry_delay(
        self, record: TaskRecord, plan: FailurePlan, env: Envelope, now: int
    ) -> tuple[bool, float]:
        """``(long_wait, delay)``: up to 15 minutes the message itself waits (visibility);
        longer, a one-time schedule re-enqueues it and the message is acked (capped at 15
        minutes if there is no scheduler or the schedule cannot be created)."""
        if plan.delay <= MAX_QUEUE_DELAY or self.scheduler is None:
            return False, min(plan.delay, MAX_QUEUE_DELAY)
        # The schedule first: if the state write then fails, a second firing is harmless
        # (starting is conditional); the other order could lose the task.
        try:
            self.scheduler.create_at(
                f"{record.task_id}.r{record.starts}.{record.throttles}",
                now + int(plan.delay * 1000),
                record.lane,
                env.to_json(),
            )
        except Exception:
            logger.exception("could not schedule a long retry; capping it at 15 minutes")
            return False, MAX_QUEUE_DELAY
        return True, plan.delay


__all__ = [
    "EVENT_TYPES",
    "RESULT_INLINE_LIMIT",
    "TaskRunner",
    "TaskTimeout",
    "Throttled",
    "call_with_timeout",
    "event_detail",
]

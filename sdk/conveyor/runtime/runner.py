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
* **Attempts live in the record.** A throttled attempt gives its attempt back and counts
  a throttle instead; retries are decided by ``failure.plan_failure``.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import Any

from aws_lambda_powertools import Logger

from ..catalog import Catalog, TaskType
from ..envelope import Envelope, Malformed, parse
from ..errors import Throttled, UnknownTaskType
from ..model import TaskError, TaskRecord, TaskState
from ..payload import MAX_PAYLOAD, decode, digest, encode
from ..ports import Clock, EventPublisher, PayloadStore, SystemClock, TaskStore
from . import attempt
from .context import TaskContext
from .failure import FailurePlan, plan_failure
from .outcome import ACK, DLQ, RETRY, Outcome
from .settle import EVENT_TYPES, OutcomeWriter, PendingWrite, Superseded, event_detail, publish
from .timeout import TaskTimeout, call_with_timeout

logger = Logger(service="conveyor")

#: Results up to this many bytes are kept in the task record; larger ones go to S3.
RESULT_INLINE_LIMIT = 8 * 1024
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
    ) -> None:
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

    def run_body(self, body: str, **kwargs: Any) -> Outcome:
        """Parse a raw lane message and run it; a malformed one comes back as ``dlq``."""
        try:
            envelope = parse(body)
        except Malformed as exc:
            return Outcome(DLQ, "", "malformed", reason=f"malformed message: {exc}")
        return self.run(envelope, **kwargs)

    def run(
        self,
        env: Envelope,
        *,
        lease_seconds: float | None = None,
        on_heartbeat: Callable[[], None] | None = None,
        write_budget: float | None = None,
    ) -> Outcome:
        """Run one delivery of ``env``. ``write_budget`` (seconds) bounds the backoff on
        transient store errors, e.g. to what is left of a Lambda invocation."""
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
        if record.payload_sha256 != env.sha256:
            error = TaskError("malformed", "PayloadMismatch", "message payload does not match")
            return self._fail(record, task_type, now, 0, error, budget=budget)
        if record.attempts > task_type.retry.max_attempts:
            lost = f"attempt {record.attempts - 1} crashed or timed out; no attempts left"
            error = TaskError("retryable", "AttemptLost", lost)
            return self._fail(record, task_type, now, 0, error, budget=budget)
        return self._execute(record, task_type, env, now, on_heartbeat, budget)

    def expire(self, task_id: str, task_type: TaskType, now: int) -> Outcome:
        """Drop a task whose TTL has passed: EXPIRED, never run."""
        changes: dict[str, object] = {
            "finished_at": now,
            "error": TaskError("expired", "Expired", "TTL passed"),
            "purge_at": self._purge_at(task_type, None, now),
        }
        record = attempt.expire(self.store, task_id, changes, now)
        if isinstance(record, Outcome):
            return record
        publish(self.events, record, task_type.events)
        return Outcome(ACK, task_id, "expired", state=record.state.value, reason="TTL passed")

    # -- the attempt ----------------------------------------------------------------------

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
        )
        wait = max(0, now - (record.queued_at or record.created_at))
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
                return self._fail(record, task_type, now, wait, error, budget=budget)

            def call() -> Any:
                assert task_type.handler is not None
                return task_type.handler(payload, ctx)

            result = call_with_timeout(call, task_type.timeout) if self.enforce_timeout else call()
        except BaseException as exc:
            if isinstance(exc, (KeyboardInterrupt, SystemExit)):
                raise
            run_ms = int((self.clock.now() - started) * 1000)
            cancelled = ctx._cancelled or record.cancel_requested
            plan = plan_failure(exc, record, task_type, cancelled=cancelled, rng=self.rng)
            return self._after_failure(record, task_type, plan, wait, run_ms, env, budget)
        finally:
            logger.thread_safe_remove_keys(["task_id", "task_type", "tenant", "attempt"])
        run_ms = int((self.clock.now() - started) * 1000)
        return self._succeed(record, task_type, result, wait, run_ms, budget)

    # -- building the outcome write -------------------------------------------------------

    def _common(self, record: TaskRecord, wait: int, run_ms: int) -> dict[str, Any]:
        return {
            "lease_until": None,
            "owner": None,
            "queue_wait_ms": record.queue_wait_ms + wait,
            "run_ms": record.run_ms + run_ms,
        }

    def _finished(
        self, record: TaskRecord, task_type: TaskType, wait: int, run_ms: int, now: int
    ) -> dict[str, Any]:
        return {
            **self._common(record, wait, run_ms),
            "finished_at": now,
            "purge_at": self._purge_at(task_type, record, now),
        }

    def _purge_at(self, task_type: TaskType, record: TaskRecord | None, now: int) -> int | None:
        if task_type.dedup_window is None:
            return None
        purge = now + int(task_type.result_retention * 1000)
        if record is not None and record.dedup_until is not None:
            purge = max(purge, record.dedup_until)
        return purge

    def _settle(self, record: TaskRecord, pending: PendingWrite, budget: float) -> Outcome:
        written = self.writer.write(pending, budget)
        if isinstance(written, Superseded):
            logger.info("attempt superseded", extra={"task_id": record.task_id})
            return attempt.not_started(record.task_id, written.current, self._now())
        return written

    def _pending(
        self,
        record: TaskRecord,
        task_type: TaskType,
        target: TaskState,
        changes: dict[str, Any],
        outcome: Outcome,
        **extra: Any,
    ) -> PendingWrite:
        return PendingWrite(
            record.task_id, record.starts, target, changes, outcome, task_type.events, **extra
        )

    def _succeed(
        self,
        record: TaskRecord,
        task_type: TaskType,
        result: Any,
        wait: int,
        run_ms: int,
        budget: float,
    ) -> Outcome:
        now = self._now()
        try:
            data = encode(result)
        except Exception as exc:
            error = TaskError("fatal", type(exc).__name__, f"result is not JSON-native: {exc}")
            return self._fail(record, task_type, now, wait, error, run_ms, budget)
        changes = {**self._finished(record, task_type, wait, run_ms, now), "error": None}
        blob = None
        if len(data) > RESULT_INLINE_LIMIT:
            if len(data) > MAX_PAYLOAD:
                error = TaskError("fatal", "ResultTooLarge", f"result is {len(data)} bytes")
                return self._fail(record, task_type, now, wait, error, run_ms, budget)
            key = f"results/{record.task_id}/{record.attempts}.json"
            blob = (key, data)
            changes["result_ref"] = key
        else:
            changes["result"] = result
        ok = Outcome(ACK, record.task_id, "ok")
        pending = self._pending(record, task_type, TaskState.SUCCEEDED, changes, ok, blob=blob)
        return self._settle(record, pending, budget)

    def _fail(
        self,
        record: TaskRecord,
        task_type: TaskType,
        now: int,
        wait: int,
        error: TaskError,
        run_ms: int = 0,
        budget: float | None = None,
    ) -> Outcome:
        """FAILED for good: the message goes to the DLQ once the record says so."""
        changes = {**self._finished(record, task_type, wait, run_ms, now), "error": error}
        dlq = Outcome(DLQ, record.task_id, error.kind, reason=error.message)
        pending = self._pending(record, task_type, TaskState.FAILED, changes, dlq)
        return self._settle(record, pending, self.write_budget if budget is None else budget)

    def _after_failure(
        self,
        record: TaskRecord,
        task_type: TaskType,
        plan: FailurePlan,
        wait: int,
        run_ms: int,
        env: Envelope,
        budget: float,
    ) -> Outcome:
        now = self._now()
        if plan.target is TaskState.FAILED:
            return self._fail(record, task_type, now, wait, plan.error, run_ms, budget)
        if plan.target is TaskState.CANCELLED:
            changes = {**self._finished(record, task_type, wait, run_ms, now), "error": plan.error}
            cancelled = Outcome(ACK, record.task_id, "cancelled")
            pending = self._pending(record, task_type, TaskState.CANCELLED, changes, cancelled)
            return self._settle(record, pending, budget)
        long_wait, delay = self._retry_delay(record, plan, env, now)
        changes = {
            **self._common(record, wait, run_ms),
            "error": plan.error,
            "queued_at": now + int(delay * 1000),
            "retry_wait_ms": record.retry_wait_ms + int(delay * 1000),
        }
        increments = {"attempts": -1, "throttles": 1} if plan.throttled else None
        retry = Outcome(
            ACK if long_wait else RETRY,
            record.task_id,
            plan.kind,
            delay=delay,
            reason=plan.error.message,
        )
        pending = self._pending(
            record, task_type, TaskState.QUEUED, changes, retry, increments=increments
        )
        logger.info(
            "retrying",
            extra={"task_id": record.task_id, "kind": plan.kind, "delay": round(delay, 3)},
        )
        return self._settle(record, pending, budget)

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
    "TaskRunner",
    "TaskTimeout",
    "Throttled",
    "call_with_timeout",
    "event_detail",
]

"""TaskRunner: one attempt of one task, from the lane message to a durable outcome.

Shared by the Lambda entry, the dev cloud's local executors and the Fargate worker, so
every executor applies the same rules:

* **Succeed once.** Starting is one conditional write (QUEUED/SCHEDULED -> RUNNING, or
  RUNNING -> RUNNING once the previous lease expired) that also adds 1 to ``attempts``.
  A duplicate delivery of a finished task is acked without running; one that finds a live
  lease is held until the lease ends.
* **Durable before ack.** The outcome is written (with ``expect_attempts``, so a stale
  attempt cannot overwrite a newer one) before the caller deletes the message. A crash
  anywhere at worst re-runs an unfinished attempt.
* **Attempts live in the record.** A throttled attempt gives its attempt back and counts
  a throttle instead; retries are decided by ``policy.retry``.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Callable
from typing import Any

from aws_lambda_powertools import Logger

from ..catalog import Catalog, TaskType
from ..envelope import Envelope, Malformed, parse
from ..errors import InvalidTransition, TaskNotFound, Throttled, UnknownTaskType
from ..model import TaskError, TaskRecord, TaskState
from ..payload import MAX_PAYLOAD, decode, digest, encode
from ..policy.retry import FATAL, THROTTLED, Action, classify, decide
from ..ports import Clock, EventPublisher, PayloadStore, SystemClock, TaskStore
from .context import TaskContext
from .outcome import ACK, DLQ, HOLD, RETRY, Outcome

logger = Logger(service="conveyor")

#: Results up to this many bytes are kept in the task record; larger ones go to S3.
RESULT_INLINE_LIMIT = 8 * 1024
#: Longest retry delay carried by SQS visibility (seconds); longer waits are capped here
#: unless a scheduler is configured.
MAX_QUEUE_DELAY = 900.0

EVENT_TYPES = {
    TaskState.SUCCEEDED: "Task Succeeded",
    TaskState.FAILED: "Task Failed",
    TaskState.CANCELLED: "Task Cancelled",
    TaskState.EXPIRED: "Task Expired",
}


class TaskTimeout(Exception):
    """The handler ran past the type's timeout (retryable)."""


def call_with_timeout(fn: Callable[[], Any], timeout: float) -> Any:
    """Run ``fn`` in a daemon thread; TaskTimeout after ``timeout`` seconds. A Python
    thread cannot be killed, so an overrunning handler is abandoned, not stopped."""
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["value"] = fn()
        except BaseException as exc:
            box["error"] = exc

    thread = threading.Thread(target=target, daemon=True, name="conveyor-handler")
    thread.start()
    thread.join(timeout)
    if thread.is_alive():
        raise TaskTimeout(f"handler ran past its timeout of {timeout:g}s")
    if "error" in box:
        raise box["error"]
    return box.get("value")


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
    ) -> Outcome:
        try:
            task_type = self.catalog.get(env.task_type)
        except UnknownTaskType as exc:
            return Outcome(DLQ, env.task_id, "unknown-type", reason=str(exc))
        now = self._now()
        if env.expires_at is not None and now >= env.expires_at:
            return self.expire(env.task_id, task_type, now)
        lease = (
            lease_seconds if lease_seconds is not None else task_type.timeout + self.lease_margin
        )
        try:
            record = self.store.transition(
                env.task_id,
                TaskState.RUNNING,
                {"started_at": now, "lease_until": now + int(lease * 1000)},
                now,
                increments={"attempts": 1},
            )
        except TaskNotFound:
            return Outcome(DLQ, env.task_id, "missing", reason="the task record no longer exists")
        except InvalidTransition as exc:
            return self._not_started(env.task_id, exc.current, now)
        if record.payload_sha256 != env.sha256:
            return self._finish_failed(
                record,
                task_type,
                now,
                0,
                TaskError(
                    "malformed", "PayloadMismatch", "message payload does not match the task"
                ),
            )
        if record.attempts > task_type.retry.max_attempts:
            return self._finish_failed(
                record,
                task_type,
                now,
                0,
                TaskError(
                    "retryable",
                    "AttemptLost",
                    f"attempt {record.attempts - 1} crashed or timed out; no attempts left",
                ),
            )
        return self._execute(record, task_type, env, now, on_heartbeat)

    def expire(self, task_id: str, task_type: TaskType, now: int) -> Outcome:
        """Drop a task whose TTL has passed: EXPIRED, never run."""
        try:
            record = self.store.transition(
                task_id,
                TaskState.EXPIRED,
                {
                    "finished_at": now,
                    "error": TaskError("expired", "Expired", "TTL passed"),
                    "purge_at": self._purge_at(task_type, None, now),
                },
                now,
            )
        except (InvalidTransition, TaskNotFound):
            return Outcome(ACK, task_id, "expired", reason="expired (already settled)")
        self._publish(record, task_type)
        return Outcome(ACK, task_id, "expired", state=record.state.value, reason="TTL passed")

    # -- internals ------------------------------------------------------------------------

    def _not_started(self, task_id: str, current: object, now: int) -> Outcome:
        if not isinstance(current, TaskRecord):
            return Outcome(HOLD, task_id, "busy", delay=5.0, reason="state unknown")
        if current.terminal:
            return Outcome(
                ACK,
                task_id,
                "duplicate",
                state=current.state.value,
                reason=f"already {current.state}",
            )
        if current.state is TaskState.RUNNING and current.lease_until is not None:
            wait = max(1.0, (current.lease_until - now) / 1000 + 1)
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
            delay=5.0,
            reason=f"cannot start from {current.state}",
        )

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
                return self._finish_failed(
                    record,
                    task_type,
                    now,
                    wait,
                    TaskError("malformed", type(exc).__name__, str(exc)),
                )

            def call() -> Any:
                assert task_type.handler is not None
                return task_type.handler(payload, ctx)

            result = call_with_timeout(call, task_type.timeout) if self.enforce_timeout else call()
        except BaseException as exc:
            if isinstance(exc, (KeyboardInterrupt, SystemExit)):
                raise
            run_ms = int((self.clock.now() - started) * 1000)
            return self._after_failure(record, task_type, exc, ctx, wait, run_ms, env)
        finally:
            logger.thread_safe_remove_keys(["task_id", "task_type", "tenant", "attempt"])
        run_ms = int((self.clock.now() - started) * 1000)
        return self._finish_ok(record, task_type, result, wait, run_ms)

    def _common(self, record: TaskRecord, wait: int, run_ms: int) -> dict[str, Any]:
        return {
            "lease_until": None,
            "queue_wait_ms": record.queue_wait_ms + wait,
            "run_ms": record.run_ms + run_ms,
        }

    def _purge_at(self, task_type: TaskType, record: TaskRecord | None, now: int) -> int | None:
        if task_type.dedup_window is None:
            return None
        purge = now + int(task_type.result_retention * 1000)
        if record is not None and record.dedup_until is not None:
            purge = max(purge, record.dedup_until)
        return purge

    def _finish_ok(
        self, record: TaskRecord, task_type: TaskType, result: Any, wait: int, run_ms: int
    ) -> Outcome:
        now = self._now()
        try:
            data = encode(result)
        except Exception as exc:
            return self._finish_failed(
                record,
                task_type,
                now,
                wait,
                TaskError("fatal", type(exc).__name__, f"result is not JSON-native: {exc}"),
                run_ms,
            )
        changes = {
            **self._common(record, wait, run_ms),
            "finished_at": now,
            "error": None,
            "purge_at": self._purge_at(task_type, record, now),
        }
        if len(data) > RESULT_INLINE_LIMIT:
            if len(data) > MAX_PAYLOAD:
                return self._finish_failed(
                    record,
                    task_type,
                    now,
                    wait,
                    TaskError("fatal", "ResultTooLarge", f"result is {len(data)} bytes"),
                    run_ms,
                )
            key = f"results/{record.task_id}/{record.attempts}.json"
            self.payloads.put(key, data)
            changes["result_ref"] = key
        else:
            changes["result"] = result
        return self._settle(record, task_type, TaskState.SUCCEEDED, changes, "ok")

    def _after_failure(
        self,
        record: TaskRecord,
        task_type: TaskType,
        exc: BaseException,
        ctx: TaskContext,
        wait: int,
        run_ms: int,
        env: Envelope,
    ) -> Outcome:
        now = self._now()
        kind = "retryable" if isinstance(exc, TaskTimeout) else classify(exc, task_type.retry)
        error = TaskError(kind, type(exc).__name__, str(exc) or type(exc).__name__)
        if ctx._cancelled or record.cancel_requested:
            changes = {
                **self._common(record, wait, run_ms),
                "finished_at": now,
                "error": TaskError("cancelled", error.type, error.message),
                "purge_at": self._purge_at(task_type, record, now),
            }
            return self._settle(record, task_type, TaskState.CANCELLED, changes, "cancelled")
        throttles = record.throttles + (1 if kind == THROTTLED else 0)
        decision = decide(
            kind,
            attempts=record.attempts,
            throttles=throttles,
            policy=task_type.retry,
            rng=self.rng,
            hint=getattr(exc, "delay", None),
        )
        if decision.action is Action.FAIL:
            reason = decision.reason if kind != FATAL else f"fatal: {error.message}"
            return self._finish_failed(
                record,
                task_type,
                now,
                wait,
                TaskError(
                    kind,
                    error.type,
                    f"{reason}: {error.message}" if kind != FATAL else error.message,
                ),
                run_ms,
            )
        # Up to 15 minutes the message itself waits (visibility); longer, a one-time
        # schedule re-enqueues it and the message is acked (capped if no scheduler).
        long_wait = decision.delay > MAX_QUEUE_DELAY and self.scheduler is not None
        delay = decision.delay if long_wait else min(decision.delay, MAX_QUEUE_DELAY)
        if long_wait:
            # The schedule first: if the state write then fails, a second firing is harmless
            # (starting is conditional); the other order could lose the task.
            assert self.scheduler is not None
            try:
                self.scheduler.create_at(
                    f"{record.task_id}.r{record.attempts}.{record.throttles}",
                    now + int(delay * 1000),
                    record.lane,
                    env.to_json(),
                )
            except Exception:
                logger.exception("could not schedule a long retry; capping it at 15 minutes")
                long_wait, delay = False, MAX_QUEUE_DELAY
        increments = {"attempts": -1, "throttles": 1} if kind == THROTTLED else None
        changes = {
            **self._common(record, wait, run_ms),
            "error": error,
            "queued_at": now + int(delay * 1000),
            "retry_wait_ms": record.retry_wait_ms + int(delay * 1000),
        }
        try:
            updated = self.store.transition(
                record.task_id,
                TaskState.QUEUED,
                changes,
                now,
                expect_attempts=record.attempts,
                increments=increments,
            )
        except (InvalidTransition, TaskNotFound):
            return Outcome(ACK, record.task_id, "lost-lease", reason="attempt was superseded")
        logger.info(
            "retrying", extra={"task_id": record.task_id, "kind": kind, "delay": round(delay, 3)}
        )
        return Outcome(
            ACK if long_wait else RETRY,
            record.task_id,
            kind,
            state=updated.state.value,
            delay=delay,
            reason=error.message,
            attempts=updated.attempts,
            queue_wait_ms=updated.queue_wait_ms,
            run_ms=updated.run_ms,
        )

    def _finish_failed(
        self,
        record: TaskRecord,
        task_type: TaskType,
        now: int,
        wait: int,
        error: TaskError,
        run_ms: int = 0,
    ) -> Outcome:
        changes = {
            **self._common(record, wait, run_ms),
            "finished_at": now,
            "error": error,
            "purge_at": self._purge_at(task_type, record, now),
        }
        outcome = self._settle(record, task_type, TaskState.FAILED, changes, error.kind)
        if outcome.action == ACK and outcome.state == TaskState.FAILED.value:
            return Outcome(
                DLQ,
                outcome.task_id,
                error.kind,
                state=outcome.state,
                reason=error.message,
                attempts=outcome.attempts,
                queue_wait_ms=outcome.queue_wait_ms,
                run_ms=outcome.run_ms,
            )
        return outcome

    def _settle(
        self,
        record: TaskRecord,
        task_type: TaskType,
        target: TaskState,
        changes: dict[str, Any],
        kind: str,
    ) -> Outcome:
        now = self._now()
        try:
            final = self.store.transition(
                record.task_id, target, changes, now, expect_attempts=record.attempts
            )
        except (InvalidTransition, TaskNotFound):
            return Outcome(ACK, record.task_id, "lost-lease", reason="attempt was superseded")
        self._publish(final, task_type)
        return Outcome(
            ACK,
            final.task_id,
            kind,
            state=final.state.value,
            attempts=final.attempts,
            queue_wait_ms=final.queue_wait_ms,
            run_ms=final.run_ms,
        )

    def _publish(self, record: TaskRecord, task_type: TaskType) -> None:
        if self.events is None or record.state.value not in task_type.events:
            return
        try:
            self.events.publish([(EVENT_TYPES[record.state], event_detail(record))])
        except Exception:
            logger.exception("could not publish the task event", extra={"task_id": record.task_id})


__all__ = ["TaskRunner", "TaskTimeout", "Throttled", "call_with_timeout", "event_detail"]

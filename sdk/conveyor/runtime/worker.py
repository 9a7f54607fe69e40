"""The Fargate worker: drains one task type's work queue, one task at a time.

* Long-polls the work queue; the received message is hidden for ``lease`` seconds.
* While the task runs, a heartbeat every ``heartbeat`` seconds extends both the message's
  visibility and the record's lease, so a task may run for hours; the handler can also
  call ``ctx.heartbeat()``.
* If the worker dies (kill -9), the heartbeats stop: within ``lease`` seconds the message
  reappears and the lease has expired, so another worker retakes the task. The record's
  fencing token (``starts``) means the dead attempt can never also finish it.
* On SIGTERM it stops pulling, lets the running task finish within ``stop_timeout``, or
  else releases it (the attempt is given back, the message made visible at once) so
  another worker takes it -- nothing is lost.
* While busy it turns on ECS task scale-in protection, off again when idle.
* No AWS error stops it: a failed receive, heartbeat, outcome write, ack or dead letter
  is logged and retried later (with backoff), and the running handler never sees it. A
  message is deleted only after what replaces it (outcome, dead letter, fresh copy) is
  durable; otherwise it reappears when its visibility ends.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from aws_lambda_powertools import Logger

from ..clocks import released_changes
from ..envelope import Malformed, parse
from ..errors import InvalidTransition, TaskNotFound
from ..model import TaskRecord, TaskState
from ..ports import InMessage, OutMessage
from .deadletter import dead_letter
from .metrics import MetricsSink, TopTenants
from .outcome import ACK, DLQ, HOLD, RETRY, Outcome
from .protection import TaskProtection

logger = Logger(service="conveyor-worker")
RECYCLE_AT = 50
#: Longest pause (seconds) after repeated receive failures.
MAX_IDLE_BACKOFF = 30.0


class Worker:
    def __init__(
        self,
        runtime: Any,
        task_type: str,
        *,
        heartbeat: float = 30.0,
        lease: float | None = None,
        stop_timeout: float = 110.0,
        wait_seconds: int = 20,
        hold_seconds: float = 20.0,
        protection: TaskProtection | None = None,
        metrics: MetricsSink | None = None,
    ) -> None:
        #: EMF metrics: outcomes per kind, run time, executor-seconds of the top tenants.
        self.metrics = metrics or MetricsSink("conveyor-worker")
        self.tenant_seconds = TopTenants()
        self.runtime = runtime
        self.task_type = runtime.catalog.get(task_type)
        self.queue = runtime.topology.work_queue(task_type)
        self.heartbeat = heartbeat
        self.lease = lease if lease is not None else max(3 * heartbeat, 30.0)
        self.stop_timeout = stop_timeout
        self.wait_seconds = wait_seconds
        self.hold_seconds = hold_seconds
        self.protection = protection or TaskProtection()
        self.runner = runtime.runner()
        self.completed = 0
        self.released = 0
        self._paused: frozenset[tuple[str, str]] = frozenset()
        self._paused_at = -1e18

    def paused(self, refresh: float = 2.0) -> frozenset[tuple[str, str]]:
        """The pause set, read at most every ``refresh`` seconds (not once per task); if
        the read fails, the last one read."""
        now = time.monotonic()
        if now - self._paused_at >= refresh:
            try:
                self._paused = self.runtime.store.paused()
            except Exception:
                logger.exception("could not read the pause set; using the last one")
            self._paused_at = now
        return self._paused

    def run(self, stop: threading.Event) -> None:
        logger.info("worker started", extra={"queue": self.queue})
        backoff = 1.0
        while not stop.is_set():
            try:
                messages = self.runtime.lanes.receive(
                    self.queue,
                    max_messages=1,
                    wait_seconds=self.wait_seconds,
                    visibility=int(self.lease),
                )
            except Exception:
                logger.exception("receive failed", extra={"retry_in": backoff})
                stop.wait(backoff)
                backoff = min(MAX_IDLE_BACKOFF, backoff * 2)
                continue
            backoff = 1.0
            for message in messages:
                try:
                    self.handle(message, stop)
                except Exception:
                    # The message reappears when its visibility ends; the loop goes on.
                    logger.exception("could not handle a message", extra={"id": message.message_id})
            if not messages:
                self._protect(False)
            if self.metrics.due():
                self.flush_metrics()
        self._protect(False)
        self.flush_metrics()
        logger.info(
            "worker stopped", extra={"completed": self.completed, "released": self.released}
        )

    def flush_metrics(self) -> int:
        """Write the interval's metrics as EMF (the top tenants' executor-seconds first)."""
        for tenant, seconds in self.tenant_seconds.report().items():
            self.metrics.count("tenant_executor_seconds", seconds, "Seconds", tenant=tenant)
        return self.metrics.flush()

    def _protect(self, enabled: bool) -> None:
        try:
            self.protection.set(enabled)
        except Exception:
            logger.exception("could not set task scale-in protection")

    def handle(self, message: InMessage, stop: threading.Event) -> None:
        try:
            env = parse(message.body)
        except Malformed as exc:
            self._settle(message, Outcome(DLQ, "", "malformed", reason=str(exc)))
            return
        paused = self.paused()
        if ("type", env.task_type) in paused or ("tenant", env.tenant) in paused:
            self._settle(
                message,
                Outcome(HOLD, env.task_id, "paused", delay=self.hold_seconds, reason="paused"),
            )
            return
        self._protect(True)
        beat = Heartbeat(self, message, env.task_id)

        def ctx_beat() -> None:
            if beat.since() >= min(5.0, self.heartbeat):
                beat()

        box: dict[str, Outcome] = {}
        done = threading.Event()

        def work() -> None:
            try:
                box["outcome"] = self.runner.run(
                    env, lease_seconds=self.lease, on_heartbeat=ctx_beat, on_start=beat.on_start
                )
            except Exception:
                logger.exception("the attempt raised; the message comes back")
            finally:
                done.set()

        thread = threading.Thread(target=work, daemon=True, name=f"task-{env.task_id}")
        began = time.monotonic()
        thread.start()
        stop_deadline: float | None = None
        while not done.wait(0.1):
            if beat.since() >= self.heartbeat:
                beat()
            if stop.is_set() and stop_deadline is None:
                stop_deadline = time.monotonic() + self.stop_timeout
                logger.info(
                    "stopping: waiting for the running task",
                    extra={"task_id": env.task_id, "seconds": self.stop_timeout},
                )
            if stop_deadline is not None and time.monotonic() >= stop_deadline:
                self._release(env.task_id, message, beat.token, beat.record)
                return
        outcome = box.get("outcome") or Outcome(RETRY, env.task_id, "retryable", delay=5.0)
        self.tenant_seconds.add(env.tenant, time.monotonic() - began)
        self._settle(message, outcome)
        self.completed += 1

    def _release(
        self,
        task_id: str,
        message: InMessage,
        token: int | None,
        record: TaskRecord | None = None,
    ) -> None:
        """Give the attempt back and make the message visible now (SIGTERM timeout).
        Conditional on this attempt's token: a task finished or retaken meanwhile stays as
        it is. If the store cannot be reached, the lease simply runs out."""
        if token is not None:
            now = int(self.runtime.clock.now() * 1000)
            history = {} if record is None else released_changes(record, now=now)
            try:
                self.runtime.store.transition(
                    task_id,
                    TaskState.QUEUED,
                    {"lease_until": None, "owner": None, "queued_at": now, **history},
                    now,
                    expect_starts=token,
                    increments={"attempts": -1},
                )
            except (InvalidTransition, TaskNotFound):
                pass
            except Exception:
                logger.exception("could not give the attempt back", extra={"task_id": task_id})
        self._lane_call("release the message", self.runtime.lanes.change_visibility, message, 0)
        self.released += 1
        self.metrics.count("released", type=self.task_type.name)
        logger.info("released the running task", extra={"task_id": task_id})

    def _lane_call(self, what: str, call: Any, message: InMessage, *args: Any) -> bool:
        try:
            call(self.queue, message.receipt, *args)
        except Exception:
            logger.exception(f"could not {what}", extra={"id": message.message_id})
            return False
        return True

    def _send(self, queue: str, out: OutMessage) -> bool:
        """Send one message; True when SQS accepted it."""
        try:
            return not self.runtime.lanes.send(queue, [out])
        except Exception:
            logger.exception("send failed", extra={"queue": queue})
            return False

    def _delete(self, message: InMessage) -> None:
        try:
            self.runtime.lanes.delete(self.queue, [message.receipt])
        except Exception:
            logger.exception("could not delete the message", extra={"id": message.message_id})

    def _settle(self, message: InMessage, outcome: Outcome) -> None:
        """Act on the outcome. The message is deleted only once what replaces it is sent;
        if anything fails, it reappears when its visibility ends and is decided again."""
        self.metrics.count("settled", kind=outcome.kind, type=self.task_type.name)
        if outcome.action == ACK:
            self._delete(message)
        elif outcome.action in (RETRY, HOLD):
            delay = int(min(43_200, max(0, round(outcome.delay))))
            if message.receive_count >= RECYCLE_AT:
                env = parse(message.body)
                copy = OutMessage(
                    body=message.body, group=env.tenant, delay=min(delay, 900), id=env.task_id
                )
                if self._send(self.queue, copy):
                    self._delete(message)
            else:
                self._lane_call(
                    "hide the message", self.runtime.lanes.change_visibility, message, delay
                )
        elif outcome.action == DLQ:
            now = int(self.runtime.clock.now() * 1000)
            letter = dead_letter(message.body, outcome, self.queue, now)
            if self._send(self.runtime.topology.dlq, letter):
                self._delete(message)


class Heartbeat:
    """Keeps one running task alive: each call pushes its message's visibility and its
    record's lease ``worker.lease`` seconds out. The lease extension is conditional on
    the attempt's token (known once the runner started it), so a stale worker never
    extends a newer attempt. Never raises: a failure is logged and the next beat tries
    again."""

    def __init__(self, worker: Worker, message: InMessage, task_id: str) -> None:
        self.worker = worker
        self.message = message
        self.task_id = task_id
        self.token: int | None = None
        #: The attempt's RUNNING record, once started.
        self.record: TaskRecord | None = None
        self._last = time.monotonic()
        self._lock = threading.Lock()

    def on_start(self, record: TaskRecord) -> None:
        self.token = record.starts
        self.record = record

    def since(self) -> float:
        """Seconds since the last beat (or the start)."""
        return time.monotonic() - self._last

    def __call__(self) -> None:
        worker, runtime = self.worker, self.worker.runtime
        with self._lock:
            self._last = time.monotonic()
            try:
                runtime.lanes.change_visibility(
                    worker.queue, self.message.receipt, int(worker.lease)
                )
            except Exception:
                logger.exception("heartbeat: could not extend the message")
            if self.token is None:
                return
            now = int(runtime.clock.now() * 1000)
            try:
                runtime.store.update(
                    self.task_id,
                    {"lease_until": now + int(worker.lease * 1000)},
                    states=[TaskState.RUNNING],
                    expect_starts=self.token,
                )
            except (InvalidTransition, TaskNotFound):
                pass  # finished, cancelled or retaken meanwhile
            except Exception:
                logger.exception("heartbeat: could not extend the lease")

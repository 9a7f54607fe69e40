"""The context a handler receives: who it is running for, and three ways to cooperate.

``ctx.submit(...)`` submits a follow-up task for the same tenant (types declared
``submits=True``). The child's ID is the parent's ID, a dot and a key (by default the
call's sequence number in the attempt: ``1``, ``2``, ...), so a parent that runs again
(a retry, a duplicate delivery) submits the same IDs, and dedup by task ID turns the
repeats into ``duplicate`` submissions: each child is created once however often the
parent runs, as long as the handler submits in the same order (or passes ``key=``).
``ctx.cancelled`` becomes true once someone cancels the running task (checked against the
store at most every ``poll`` seconds, so a tight loop costs little); ``ctx.heartbeat()``
tells the worker the task is alive (it extends the message visibility and the lease).
Neither ever raises into the handler: a failed read keeps the last answer, a failed
heartbeat is logged (the worker's own heartbeat tries again).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..errors import SubmitNotDeclared
from ..ports import Clock, TaskStore

#: Submits one child task: ``submitter(task_type, payload, task_id=..., tenant=..., **opts)``
#: returns a ``Submission`` (the SDK client's ``submit``).
Submitter = Callable[..., Any]


@dataclass
class TaskContext:
    task_id: str
    task_type: str
    tenant: str
    priority: str
    attempt: int
    throttles: int
    #: Epoch seconds by which the attempt must end.
    deadline: float
    store: TaskStore
    clock: Clock
    logger: Any = None
    poll: float = 5.0
    on_heartbeat: Callable[[], None] | None = None
    #: Set by the runner for types declared ``submits=True``; None otherwise.
    submitter: Submitter | None = None
    _children: int = field(default=0, repr=False)
    _checked_at: float = field(default=-1e18, repr=False)
    _cancelled: bool = field(default=False, repr=False)

    @property
    def cancelled(self) -> bool:
        if self._cancelled:
            return True
        now = self.clock.now()
        if now - self._checked_at >= self.poll:
            self._checked_at = now
            try:
                record = self.store.get(self.task_id)
            except Exception:
                self._log_failure("could not read the task to check for a cancel")
                return False
            self._cancelled = record is None or record.cancel_requested or record.terminal
        return self._cancelled

    @property
    def remaining(self) -> float:
        """Seconds left before the attempt's deadline (never negative)."""
        return max(0.0, self.deadline - self.clock.now())

    def submit(
        self,
        task_type: str,
        payload: Any = None,
        *,
        key: str | None = None,
        priority: str | None = None,
        delay: float | None = None,
        tags: tuple[str, ...] | list[str] = (),
    ) -> str:
        """Submit a follow-up task for this task's tenant; returns the child's task ID
        (``<parent id>.<key>``). Raises ``SubmitNotDeclared`` (fatal) when the type was
        not declared ``submits=True``; the SDK's own errors (``InvalidTaskId`` for an ID
        over 128 characters, ``TaskConflict`` for a key reused with another payload, a
        validation error for bad input) reach the handler as they are."""
        if self.submitter is None:
            raise SubmitNotDeclared(
                f"task type {self.task_type!r} submits a task but is not declared submits=True"
            )
        self._children += 1
        child_key = str(self._children) if key is None else key
        submission = self.submitter(
            task_type,
            payload,
            task_id=f"{self.task_id}.{child_key}",
            tenant=self.tenant,
            priority=priority,
            delay=delay,
            tags=tags,
        )
        child_id: str = submission.task_id
        return child_id

    def heartbeat(self) -> None:
        if self.on_heartbeat is None:
            return
        try:
            self.on_heartbeat()
        except Exception:
            self._log_failure("heartbeat failed")

    def _log_failure(self, message: str) -> None:
        if self.logger is not None:
            self.logger.exception(message, extra={"task_id": self.task_id})

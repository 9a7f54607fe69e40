"""The context a handler receives: who it is running for, and two ways to cooperate.

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

from ..ports import Clock, TaskStore


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

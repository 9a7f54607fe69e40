"""Reading tasks: get, list, wait, result."""

from __future__ import annotations

from typing import Any

from ..errors import InvalidOption, TaskFailed, TaskNotFound, WaitTimeout
from ..ids import validate_task_id
from ..model import TERMINAL, TaskRecord, TaskState
from ..payload import decode
from ..ports import Page
from .base import ClientBase


class QueryPart(ClientBase):
    def get(self, task_id: str) -> TaskRecord:
        record = self.store.get(validate_task_id(task_id))
        if record is None:
            raise TaskNotFound(f"no task {task_id!r} (unknown, or aged out of the store)")
        return record

    def list(
        self,
        *,
        task_type: str | None = None,
        state: str | TaskState | None = None,
        tenant: str | None = None,
        limit: int = 50,
        cursor: str | None = None,
    ) -> Page:
        if task_type is not None:
            self.catalog.get(task_type)
        try:
            parsed = (
                TaskState(state.upper() if isinstance(state, str) else state) if state else None
            )
        except ValueError:
            raise InvalidOption(
                f"state {state!r} is not one of {', '.join(s.value for s in TaskState)}"
            ) from None
        if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= 1000:
            raise InvalidOption(f"limit must be a whole number from 1 to 1000, got {limit!r}")
        return self.store.list(
            task_type=task_type, state=parsed, tenant=tenant, limit=limit, cursor=cursor
        )

    def wait(self, task_id: str, timeout: float = 60.0, *, poll: float = 0.2) -> TaskRecord:
        """Poll until the task is terminal; WaitTimeout after ``timeout`` seconds."""
        deadline = self.clock.now() + timeout
        delay = poll
        while True:
            record = self.get(task_id)
            if record.state in TERMINAL:
                return record
            if self.clock.now() >= deadline:
                raise WaitTimeout(f"task {task_id!r} is still {record.state} after {timeout:g}s")
            self.sleep(delay)
            delay = min(delay * 1.5, 2.0)

    def result(self, task_id: str, timeout: float = 60.0) -> Any:
        """The task's result once SUCCEEDED; TaskFailed if it ended any other way."""
        record = self.wait(task_id, timeout)
        if record.state is not TaskState.SUCCEEDED:
            error = record.error.to_dict() if record.error else None
            raise TaskFailed(
                f"task {task_id!r} ended {record.state}: "
                f"{error['message'] if error else 'no error recorded'}",
                record.state.value,
                error,
            )
        if record.result_ref:
            return decode(self.payloads.get(record.result_ref))
        return record.result

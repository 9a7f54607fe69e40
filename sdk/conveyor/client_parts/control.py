"""Changing what runs: cancel (one or in bulk), pause and resume."""

from __future__ import annotations

import builtins

from ..errors import InvalidOption, InvalidTransition
from ..ids import validate_tenant
from ..model import TaskRecord, TaskState
from ..ports import now_ms
from .query import QueryPart


class ControlPart(QueryPart):
    def cancel(self, task_id: str) -> TaskRecord:
        """Cancel a task: queued or scheduled ones never run; a running one is asked to
        stop (``ctx.cancelled``). Cancelling a finished task changes nothing."""
        return self._cancel(self.get(task_id))

    def _cancel(self, record: TaskRecord) -> TaskRecord:
        """Cancel from a record already read (possibly stale: every write is conditional,
        and a refused one hands back the current record)."""
        task_id = record.task_id
        now = now_ms(self.clock)
        for _ in range(3):
            if record.terminal:
                return record
            try:
                if record.state is TaskState.RUNNING:
                    return self.store.update(
                        task_id, {"cancel_requested": True}, states=[TaskState.RUNNING]
                    )
                cancelled = self.store.transition(
                    task_id, TaskState.CANCELLED, {"finished_at": now}, now
                )
                if record.state is TaskState.SCHEDULED and self.scheduler is not None:
                    self.scheduler.delete(task_id)
                self._publish_cancelled(cancelled)
                return cancelled
            except InvalidTransition as exc:
                record = exc.current if isinstance(exc.current, TaskRecord) else self.get(task_id)
        return record

    def _publish_cancelled(self, record: TaskRecord) -> None:
        task_type = self.catalog.get(record.task_type) if record.task_type in self.catalog else None
        if self.events is not None and task_type is not None and "CANCELLED" in task_type.events:
            from ..runtime.runner import event_detail

            self.events.publish([("Task Cancelled", event_detail(record))])

    def cancel_many(
        self, *, task_type: str | None = None, tenant: str | None = None, tag: str | None = None
    ) -> builtins.list[str]:
        """Cancel every unfinished task matching all the given filters (at least one).
        Returns the IDs whose cancellation took effect (or was requested, if running)."""
        if task_type is None and tenant is None and tag is None:
            raise InvalidOption("cancel_many needs task_type=, tenant= or tag=")
        done: builtins.list[str] = []
        cursor = None
        while True:  # one pass over the matching tasks, whatever their state
            page = self.list(task_type=task_type, tenant=tenant, limit=500, cursor=cursor)
            for record in page.records:
                if record.terminal or (tag is not None and tag not in record.tags):
                    continue
                after = self._cancel(record)
                if after.state is TaskState.CANCELLED or after.cancel_requested:
                    done.append(record.task_id)
            cursor = page.cursor
            if not cursor:
                return done

    def pause(self, *, task_type: str | None = None, tenant: str | None = None) -> None:
        """Stop starting tasks of a type and/or a tenant (running ones finish)."""
        for kind, name in self._pause_targets(task_type, tenant):
            self.store.set_paused(kind, name, True)

    def resume(self, *, task_type: str | None = None, tenant: str | None = None) -> None:
        """Start again; held tasks come back spread over the dispatcher's hold window."""
        for kind, name in self._pause_targets(task_type, tenant):
            self.store.set_paused(kind, name, False)

    def paused(self) -> frozenset[tuple[str, str]]:
        return self.store.paused()

    def _pause_targets(
        self, task_type: str | None, tenant: str | None
    ) -> builtins.list[tuple[str, str]]:
        if task_type is None and tenant is None:
            raise InvalidOption("give task_type= and/or tenant=")
        targets = []
        if task_type is not None:
            self.catalog.get(task_type)
            targets.append(("type", task_type))
        if tenant is not None:
            targets.append(("tenant", validate_tenant(tenant)))
        return targets

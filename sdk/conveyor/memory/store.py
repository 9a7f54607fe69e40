"""In-memory TaskStore with the same conditional semantics as the DynamoDB one."""

from __future__ import annotations

import builtins
import threading
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from ..errors import InvalidTransition, TaskNotFound
from ..model import TaskRecord, TaskState, allowed_sources
from ..ports import Page

#: What ``scan_unfinished`` returns: tasks not finished, and FAILED ones.
UNFINISHED = frozenset({TaskState.QUEUED, TaskState.SCHEDULED, TaskState.RUNNING, TaskState.FAILED})


def _replaceable(existing: TaskRecord, now_ms: int) -> bool:
    return existing.terminal and existing.dedup_until is not None and existing.dedup_until < now_ms


class MemoryTaskStore:
    def __init__(self) -> None:
        self.records: dict[str, TaskRecord] = {}
        self.pauses: set[tuple[str, str]] = set()
        self.markers: dict[str, str] = {}
        self.writes = 0
        self._lock = threading.Lock()

    def create(self, record: TaskRecord, now_ms: int) -> tuple[TaskRecord, bool]:
        with self._lock:
            existing = self.records.get(record.task_id)
            if existing is not None and not _replaceable(existing, now_ms):
                return existing, existing.inserted_by(record)
            self.records[record.task_id] = record
            self.writes += 1
            return record, True

    def get(self, task_id: str) -> TaskRecord | None:
        with self._lock:
            return self.records.get(task_id)

    def get_many(self, task_ids: Sequence[str]) -> dict[str, TaskRecord]:
        with self._lock:
            return {t: self.records[t] for t in task_ids if t in self.records}

    def transition(
        self,
        task_id: str,
        target: TaskState,
        changes: Mapping[str, Any],
        now_ms: int,
        *,
        expect_attempts: int | None = None,
        expect_starts: int | None = None,
        increments: Mapping[str, int] | None = None,
        lean: bool = False,
    ) -> TaskRecord:
        with self._lock:
            current = self.records.get(task_id)
            if current is None:
                raise TaskNotFound(f"no task {task_id!r}")
            ok = current.state in allowed_sources(target, lean=lean)
            if ok and current.state is TaskState.RUNNING and target is TaskState.RUNNING:
                ok = current.lease_until is not None and current.lease_until < now_ms
            if ok and expect_attempts is not None:
                ok = current.attempts == expect_attempts
            if ok and expect_starts is not None:
                ok = current.starts == expect_starts
            if not ok:
                raise InvalidTransition(
                    f"task {task_id!r} cannot go {current.state} -> {target}", current
                )
            added = {k: getattr(current, k) + v for k, v in (increments or {}).items()}
            updated = current.replace(state=target, version=current.version + 1, **changes, **added)
            self.records[task_id] = updated
            self.writes += 1
            return updated

    def update(
        self,
        task_id: str,
        changes: Mapping[str, Any],
        *,
        states: Iterable[TaskState],
        expect_starts: int | None = None,
    ) -> TaskRecord:
        allowed = set(states)
        with self._lock:
            current = self.records.get(task_id)
            if current is None:
                raise TaskNotFound(f"no task {task_id!r}")
            if current.state not in allowed or (
                expect_starts is not None and current.starts != expect_starts
            ):
                raise InvalidTransition(
                    f"task {task_id!r} is {current.state}, not one of {sorted(allowed)}", current
                )
            updated = current.replace(version=current.version + 1, **changes)
            self.records[task_id] = updated
            self.writes += 1
            return updated

    def delete(self, task_id: str, *, state: TaskState) -> None:
        with self._lock:
            current = self.records.get(task_id)
            if current is not None and current.state is state:
                del self.records[task_id]

    def list(
        self,
        *,
        task_type: str | None = None,
        state: TaskState | None = None,
        tenant: str | None = None,
        limit: int = 50,
        cursor: str | None = None,
    ) -> Page:
        with self._lock:
            rows = sorted(self.records.values(), key=lambda r: r.task_id)
        rows = [
            r
            for r in rows
            if (task_type is None or r.task_type == task_type)
            and (state is None or r.state == state)
            and (tenant is None or r.tenant == tenant)
            and (cursor is None or r.task_id > cursor)
        ]
        page = rows[:limit]
        more = len(rows) > limit
        return Page(page, page[-1].task_id if more and page else None)

    def set_paused(self, kind: str, name: str, paused: bool) -> None:
        with self._lock:
            (self.pauses.add if paused else self.pauses.discard)((kind, name))

    def paused(self) -> frozenset[tuple[str, str]]:
        with self._lock:
            return frozenset(self.pauses)

    # -- for the reconciler (``runtime.reconciler.ReconcileStore``) -----------------------

    def keys_by_type(
        self,
        task_type: str,
        *,
        lo: str | None = None,
        hi: str | None = None,
        cursor: str | None = None,
        limit: int = 1000,
    ) -> tuple[builtins.list[str], str | None]:
        """IDs of ``task_type`` in ``[lo, hi]``, in ID order, a page after ``cursor``."""
        with self._lock:
            ids = sorted(
                t
                for t, r in self.records.items()
                if r.task_type == task_type
                and (lo is None or t >= lo)
                and (hi is None or t <= hi)
                and (cursor is None or t > cursor)
            )
        page = ids[:limit]
        return page, (page[-1] if len(ids) > limit else None)

    def peek_many(self, task_ids: Sequence[str]) -> dict[str, TaskRecord]:
        return self.get_many(task_ids)

    def read_marker(self, name: str) -> str | None:
        with self._lock:
            return self.markers.get(name)

    def write_marker(self, name: str, value: str) -> None:
        with self._lock:
            self.markers[name] = value

    def scan_unfinished(
        self, *, cursor: str | None = None, limit: int = 1000
    ) -> tuple[builtins.list[TaskRecord], str | None]:
        """A page of the records QUEUED, SCHEDULED, RUNNING or FAILED, after ``cursor``
        (``limit`` records looked at per page, matching or not, as a DynamoDB Scan)."""
        with self._lock:
            ids = sorted(t for t in self.records if cursor is None or t > cursor)
            page = ids[:limit]
            found = [self.records[t] for t in page if self.records[t].state in UNFINISHED]
        return found, (page[-1] if len(ids) > limit else None)

"""Fault-injecting wrappers around any TaskStore or Lanes, seeded, for tests and chaos runs.

Each wrapped call draws once from the ``Faults`` it shares (a seeded ``random.Random``, so
a run is repeatable) and, with the configured probability, fails in one of the ways AWS
calls fail in practice:

* ``error``  -- raise ``InjectedFault`` *before* applying (an error after botocore's
  own retries are spent: nothing happened);
* ``lost``   -- apply, *then* raise ``InjectedFault`` (performed, reply lost);
* ``refuse`` -- store writes only: raise ``InvalidTransition`` carrying the record as it is
  now, without applying (a spurious ConditionalCheckFailed).

Only the operations named in ``ops`` are faulted; everything else passes straight through.
``Faults.counts`` counts the faults injected, by ``"op:mode"``.
"""

from __future__ import annotations

import random
import threading
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from ..errors import InvalidTransition
from ..model import TaskRecord, TaskState
from ..ports import Depth, InMessage, Lanes, OutMessage, Page, TaskStore

T = TypeVar("T")

STORE_WRITES = frozenset({"transition", "update"})
LANE_WRITES = frozenset({"send", "delete", "change_visibility"})


class InjectedFault(ConnectionError):
    """A fault put there on purpose (behaves like a connection error)."""


@dataclass
class Faults:
    """Probabilities (0..1) per call; shared by every wrapper built with it."""

    rng: random.Random
    error: float = 0.0
    lost: float = 0.0
    refuse: float = 0.0
    #: Turned off, every call passes through (e.g. to let a scenario settle at the end).
    enabled: bool = True
    #: How many more faults to inject (None: no limit).
    remaining: int | None = None
    counts: Counter[str] = field(default_factory=Counter)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def draw(self, op: str, *, refusable: bool) -> str | None:
        """The fault for this call, or None."""
        with self._lock:
            if not self.enabled or self.remaining == 0:
                return None
            x = self.rng.random()
            for mode, p in (("error", self.error), ("lost", self.lost), ("refuse", self.refuse)):
                if mode == "refuse" and not refusable:
                    continue
                if x < p:
                    self.counts[f"{op}:{mode}"] += 1
                    if self.remaining is not None:
                        self.remaining -= 1
                    return mode
                x -= p
            return None

    def call(
        self,
        op: str,
        apply: Callable[[], T],
        current: Callable[[], TaskRecord | None] | None = None,
    ) -> T:
        mode = self.draw(op, refusable=current is not None)
        if mode == "error":
            raise InjectedFault(f"injected: {op} failed before it was applied")
        if mode == "refuse":
            assert current is not None
            raise InvalidTransition(f"injected: {op} refused", current())
        result = apply()
        if mode == "lost":
            raise InjectedFault(f"injected: {op} was applied but its reply was lost")
        return result


class FaultyTaskStore:
    """A TaskStore whose calls named in ``ops`` fail as ``faults`` says."""

    def __init__(self, inner: TaskStore, faults: Faults, ops: Iterable[str] = STORE_WRITES) -> None:
        self.inner = inner
        self.faults = faults
        self.ops = frozenset(ops)

    def _call(self, op: str, apply: Callable[[], T], task_id: str | None = None) -> T:
        if op not in self.ops:
            return apply()
        current = None if task_id is None else (lambda: self.inner.get(task_id))
        return self.faults.call(op, apply, current)

    def create(self, record: TaskRecord, now_ms: int) -> tuple[TaskRecord, bool]:
        return self._call("create", lambda: self.inner.create(record, now_ms))

    def get(self, task_id: str) -> TaskRecord | None:
        return self._call("get", lambda: self.inner.get(task_id))

    def get_many(self, task_ids: Sequence[str]) -> dict[str, TaskRecord]:
        return self._call("get_many", lambda: self.inner.get_many(task_ids))

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
        def apply() -> TaskRecord:
            return self.inner.transition(
                task_id,
                target,
                changes,
                now_ms,
                expect_attempts=expect_attempts,
                expect_starts=expect_starts,
                increments=increments,
                lean=lean,
            )

        return self._call("transition", apply, task_id)

    def update(
        self,
        task_id: str,
        changes: Mapping[str, Any],
        *,
        states: Iterable[TaskState],
        expect_starts: int | None = None,
    ) -> TaskRecord:
        allowed = list(states)
        return self._call(
            "update",
            lambda: self.inner.update(
                task_id, changes, states=allowed, expect_starts=expect_starts
            ),
            task_id,
        )

    def delete(self, task_id: str, *, state: TaskState) -> None:
        self._call("delete", lambda: self.inner.delete(task_id, state=state))

    def list(
        self,
        *,
        task_type: str | None = None,
        state: TaskState | None = None,
        tenant: str | None = None,
        limit: int = 50,
        cursor: str | None = None,
    ) -> Page:
        return self._call(
            "list",
            lambda: self.inner.list(
                task_type=task_type, state=state, tenant=tenant, limit=limit, cursor=cursor
            ),
        )

    def set_paused(self, kind: str, name: str, paused: bool) -> None:
        self._call("set_paused", lambda: self.inner.set_paused(kind, name, paused))

    def paused(self) -> frozenset[tuple[str, str]]:
        return self._call("paused", self.inner.paused)


class FaultyLanes:
    """Lanes whose calls named in ``ops`` fail as ``faults`` says (never ``refuse``)."""

    def __init__(self, inner: Lanes, faults: Faults, ops: Iterable[str] = LANE_WRITES) -> None:
        self.inner = inner
        self.faults = faults
        self.ops = frozenset(ops)

    def _call(self, op: str, apply: Callable[[], T]) -> T:
        return self.faults.call(op, apply) if op in self.ops else apply()

    def send(self, queue: str, messages: Sequence[OutMessage]) -> list[str]:
        return self._call("send", lambda: self.inner.send(queue, messages))

    def receive(
        self,
        queue: str,
        *,
        max_messages: int = 10,
        wait_seconds: int = 0,
        visibility: int | None = None,
    ) -> list[InMessage]:
        return self._call(
            "receive",
            lambda: self.inner.receive(
                queue, max_messages=max_messages, wait_seconds=wait_seconds, visibility=visibility
            ),
        )

    def delete(self, queue: str, receipts: Sequence[str]) -> None:
        self._call("delete", lambda: self.inner.delete(queue, receipts))

    def change_visibility(self, queue: str, receipt: str, seconds: int) -> None:
        self._call(
            "change_visibility", lambda: self.inner.change_visibility(queue, receipt, seconds)
        )

    def change_visibility_batch(self, queue: str, entries: Sequence[tuple[str, int]]) -> list[str]:
        return self._call(
            "change_visibility", lambda: self.inner.change_visibility_batch(queue, entries)
        )

    def depth(self, queue: str) -> Depth:
        return self._call("depth", lambda: self.inner.depth(queue))

"""The DLQ: what lands there, and redrive.

A DLQ entry is a JSON wrapper around the original message body, so a malformed message
keeps its bytes and a failed task keeps its envelope::

    {"dlq": 1, "reason": "...", "kind": "fatal", "task_id": "...", "task_type": "...",
     "tenant": "...", "attempts": 3, "source": "<queue>", "failed_at": <ms>, "body": "..."}

Redrive (moto has no StartMessageMoveTask, and this is also finer-grained: by type and
age) works in batches of receive -> re-queue -> delete, in an order that loses nothing if
it crashes at any point:

1. the record goes FAILED -> QUEUED with attempts reset (skipped if a crashed earlier
   redrive already did it: the record is QUEUED and the DLQ entry still exists);
2. the original envelope is sent to its lane (a duplicate from a crashed redrive is
   harmless: starting a task is a conditional write);
3. only then is the DLQ entry deleted.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from ..envelope import Malformed, parse
from ..errors import ConveyorError, InvalidTransition, TaskNotFound
from ..model import TaskState
from ..ports import InMessage, Lanes, OutMessage, TaskStore
from ..topology import Topology
from .outcome import Outcome


def dead_letter(body: str, outcome: Outcome, source: str, now_ms: int) -> OutMessage:
    try:
        env = parse(body)
        task_type, tenant = env.task_type, env.tenant
    except Malformed:
        task_type, tenant = "", "unknown"
    wrapper = {
        "dlq": 1,
        "reason": outcome.reason or outcome.kind,
        "kind": outcome.kind,
        "task_id": outcome.task_id,
        "task_type": task_type,
        "tenant": tenant,
        "attempts": outcome.attempts,
        "source": source,
        "failed_at": now_ms,
        "body": body,
    }
    return OutMessage(
        body=json.dumps(wrapper, separators=(",", ":")),
        group=tenant or "unknown",
        id=outcome.task_id or "malformed",
    )


@dataclass(frozen=True, slots=True)
class DeadLetter:
    message_id: str
    receipt: str
    reason: str
    kind: str
    task_id: str
    task_type: str
    tenant: str
    attempts: int
    source: str
    failed_at: int
    body: str

    def to_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__ if k != "receipt"}


def _read(message: InMessage) -> DeadLetter:
    try:
        data = json.loads(message.body)
        if not isinstance(data, dict) or data.get("dlq") != 1:
            raise ValueError
    except ValueError:
        data = {
            "reason": "dead-lettered by SQS (receive count exceeded)",
            "kind": "poison",
            "body": message.body,
        }
    return DeadLetter(
        message_id=message.message_id,
        receipt=message.receipt,
        reason=str(data.get("reason", "")),
        kind=str(data.get("kind", "")),
        task_id=str(data.get("task_id", "")),
        task_type=str(data.get("task_type", "")),
        tenant=str(data.get("tenant", "")),
        attempts=int(data.get("attempts", 0)),
        source=str(data.get("source", "")),
        failed_at=int(data.get("failed_at", 0)),
        body=str(data.get("body", "")),
    )


class DeadLetters:
    """List, show and redrive the deployment's DLQ."""

    def __init__(self, lanes: Lanes, store: TaskStore, topology: Topology) -> None:
        self.lanes = lanes
        self.store = store
        self.topology = topology

    def _scan(self, visibility: int) -> Iterator[DeadLetter]:
        """Every entry once: received with ``visibility`` so a pass does not see repeats."""
        while True:
            batch = self.lanes.receive(self.topology.dlq, max_messages=10, visibility=visibility)
            if not batch:
                return
            for message in batch:
                yield _read(message)

    def entries(
        self, *, task_type: str | None = None, since_ms: int | None = None, limit: int = 100
    ) -> list[DeadLetter]:
        """Entries (newest state of the queue), released again right after reading."""
        out: list[DeadLetter] = []
        seen: list[str] = []
        for entry in self._scan(visibility=30):
            seen.append(entry.receipt)
            if _matches(entry, task_type, since_ms) and len(out) < limit:
                out.append(entry)
        for receipt in seen:
            self.lanes.change_visibility(self.topology.dlq, receipt, 0)
        return out

    def redrive(
        self,
        *,
        task_type: str | None = None,
        since_ms: int | None = None,
        now_ms: int,
        task_id: str | None = None,
    ) -> list[str]:
        """Re-queue matching entries (all, or one ``task_id``'s) with attempts reset;
        returns the task IDs re-queued."""
        redriven: list[str] = []
        skipped: list[str] = []
        for entry in self._scan(visibility=60):
            if not _matches(entry, task_type, since_ms) or task_id not in (None, entry.task_id):
                skipped.append(entry.receipt)
                continue
            if self._redrive_one(entry, now_ms):
                redriven.append(entry.task_id)
            self.lanes.delete(self.topology.dlq, [entry.receipt])
        for receipt in skipped:
            self.lanes.change_visibility(self.topology.dlq, receipt, 0)
        return redriven

    def _redrive_one(self, entry: DeadLetter, now_ms: int) -> bool:
        try:
            env = parse(entry.body)
        except Malformed:
            return False  # nothing to re-run: the entry is dropped on purpose
        record = self.store.get(env.task_id)
        if record is None:
            return False
        if record.state is TaskState.FAILED:
            try:
                record = self.store.transition(
                    env.task_id,
                    TaskState.QUEUED,
                    {
                        "attempts": 0,
                        "throttles": 0,
                        "queued_at": now_ms,
                        "finished_at": None,
                        "error": None,
                        "purge_at": None,
                        "lease_until": None,
                    },
                    now_ms,
                )
            except (InvalidTransition, TaskNotFound):
                return False
        elif record.state is not TaskState.QUEUED:
            return False  # settled some other way since; the entry is stale
        failed = self.lanes.send(
            record.lane, [OutMessage(body=entry.body, group=record.tenant, id=record.task_id)]
        )
        if failed:  # keep the entry: a later redrive sends it (the record is QUEUED now)
            raise ConveyorError(f"could not re-queue task {record.task_id!r}; try again")
        return True


def dead_lettered_ids(lanes: Lanes, dlq: str, limit: int) -> set[str] | None:
    """Task IDs the DLQ holds entries for, read without consuming them (each entry is
    hidden 30 s while read, then released). None when the DLQ holds more than ``limit``
    entries (the answer would be partial); at most ``limit / 10 + 1`` receives."""
    seen: list[str] = []
    ids: set[str] = set()
    try:
        while len(seen) <= limit:
            batch = lanes.receive(dlq, max_messages=10, visibility=30)
            if not batch:
                return ids
            for message in batch:
                seen.append(message.receipt)
                ids.add(_read(message).task_id)
        return None
    finally:
        for receipt in seen:
            with contextlib.suppress(Exception):  # else it comes back after 30 s anyway
                lanes.change_visibility(dlq, receipt, 0)


def _matches(entry: DeadLetter, task_type: str | None, since_ms: int | None) -> bool:
    return (task_type is None or entry.task_type == task_type) and (
        since_ms is None or entry.failed_at >= since_ms
    )

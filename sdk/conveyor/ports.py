"""The small interfaces (ports) between Conveyor's logic and the outside world.

Each has an AWS adapter in ``conveyor.aws`` and an in-memory twin in ``conveyor.memory``;
one contract suite (``tests/integration/test_contracts.py``) runs against both.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from .model import TaskRecord, TaskState
from .policy.backpressure import Signal
from .policy.pool import Route


class Clock(Protocol):
    def now(self) -> float:
        """Seconds since the epoch (UTC)."""
        ...


class SystemClock:
    def now(self) -> float:
        import time

        return time.time()


@dataclass
class FakeClock:
    """A clock tests move by hand (seconds since the epoch)."""

    t: float = 1_800_000_000.0

    def now(self) -> float:
        return self.t

    def advance(self, seconds: float) -> None:
        self.t += seconds


def now_ms(clock: Clock) -> int:
    return int(clock.now() * 1000)


@dataclass(frozen=True, slots=True)
class Page:
    records: list[TaskRecord]
    cursor: str | None


class TaskStore(Protocol):
    """Durable task records. Every state change is one conditional write."""

    def create(self, record: TaskRecord, now_ms: int) -> tuple[TaskRecord, bool]:
        """Insert ``record`` unless a live record with its ID exists.

        Returns ``(record, True)`` when written, or ``(existing, False)`` when a record
        whose dedup window is still open (or which is not finished) already holds the ID.
        A finished record whose ``dedup_until`` has passed is replaced.
        """
        ...

    def get(self, task_id: str) -> TaskRecord | None: ...

    def get_many(self, task_ids: Sequence[str]) -> dict[str, TaskRecord]: ...

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
        """Move to ``target`` iff the current state allows it (model.TRANSITIONS; with
        ``lean``, model.LEAN_TRANSITIONS: a lean attempt's outcome write).

        ``increments`` adds to integer fields atomically (a start adds 1 to ``attempts``
        and to ``starts``).

        Entering RUNNING from RUNNING additionally needs the lease to have expired
        (``lease_until < now_ms``). ``expect_starts`` pins the attempt's fencing token
        (``starts`` never goes down), so a stale attempt cannot finish someone else's;
        ``expect_attempts`` pins the retry budget spent. Raises InvalidTransition carrying
        the record as it is now (DynamoDB: ``ReturnValuesOnConditionCheckFailure``), so
        a caller whose reply was lost can tell its own applied write from a newer one,
        or TaskNotFound. At most one racer wins.
        """
        ...

    def update(
        self,
        task_id: str,
        changes: Mapping[str, Any],
        *,
        states: Iterable[TaskState],
        expect_starts: int | None = None,
    ) -> TaskRecord:
        """Set fields without a state change iff the state is in ``states`` (and the
        fencing token is ``expect_starts``, when given)."""
        ...

    def delete(self, task_id: str, *, state: TaskState) -> None:
        """Remove a record iff it is in ``state`` (used to undo a failed admission)."""
        ...

    def list(
        self,
        *,
        task_type: str | None = None,
        state: TaskState | None = None,
        tenant: str | None = None,
        limit: int = 50,
        cursor: str | None = None,
    ) -> Page: ...

    def set_paused(self, kind: str, name: str, paused: bool) -> None:
        """Pause or resume a task type (``kind="type"``) or a tenant (``kind="tenant"``)."""
        ...

    def paused(self) -> frozenset[tuple[str, str]]:
        """Every ``(kind, name)`` now paused; one read."""
        ...


class EventPublisher(Protocol):
    """Task lifecycle events (EventBridge). ``detail_type`` e.g. "Task Succeeded"."""

    def publish(self, events: Sequence[tuple[str, Mapping[str, Any]]]) -> None: ...


@dataclass(frozen=True, slots=True)
class OutMessage:
    """A message to put on a lane. ``delay`` is whole seconds, 0..900."""

    body: str
    group: str
    delay: int = 0
    attributes: Mapping[str, str] = field(default_factory=dict)
    id: str = ""


@dataclass(frozen=True, slots=True)
class InMessage:
    """A received message. ``receive_count`` is SQS's, informational only."""

    message_id: str
    receipt: str
    body: str
    receive_count: int
    sent_at_ms: int
    attributes: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Depth:
    visible: int
    in_flight: int
    delayed: int


class Lanes(Protocol):
    """Queues addressed by name. Batches are split into SQS's limit of 10."""

    def send(self, queue: str, messages: Sequence[OutMessage]) -> list[str]:
        """Send; returns the ``id``s that failed (empty when all were accepted)."""
        ...

    def receive(
        self,
        queue: str,
        *,
        max_messages: int = 10,
        wait_seconds: int = 0,
        visibility: int | None = None,
    ) -> list[InMessage]: ...

    def delete(self, queue: str, receipts: Sequence[str]) -> None: ...

    def change_visibility(self, queue: str, receipt: str, seconds: int) -> None: ...

    def change_visibility_batch(self, queue: str, entries: Sequence[tuple[str, int]]) -> list[str]:
        """Set each ``(receipt, seconds)``'s visibility, 10 per request; returns the
        receipts that were refused (an invalid or expired receipt). Raises when a
        request fails as a whole (after botocore's retries): its outcome is unknown."""
        ...

    def depth(self, queue: str) -> Depth: ...


class PayloadStore(Protocol):
    def put(self, key: str, data: bytes) -> None: ...

    def get(self, key: str) -> bytes: ...

    def delete(self, key: str) -> None: ...


@dataclass(frozen=True, slots=True)
class RouteTable:
    """The dynamic pool's routes (tenant -> dedicated lane) at one version (0: none)."""

    version: int
    routes: Mapping[str, Route]


@dataclass(frozen=True, slots=True)
class ControlView:
    """What producers read: the combined back-pressure signal and lane depths."""

    signal: Signal | None
    depths: Mapping[str, int]


class ControlStore(Protocol):
    """The multi-tenant control plane: pool routes, dispatcher membership, back-pressure
    signals and lane leases. Times are epoch seconds."""

    def routes(self, consistent: bool = False) -> RouteTable: ...

    def put_routes(self, routes: Mapping[str, Route], expect_version: int) -> bool:
        """Write iff still at ``expect_version``; False when another writer won."""
        ...

    def heartbeat(self, member: str, until: float) -> None: ...

    def leave(self, member: str) -> None: ...

    def members(self) -> dict[str, float]:
        """member -> heartbeat expiry, expired ones included (callers filter)."""
        ...

    def put_signal(
        self, member: str, signal: Signal, depths: Mapping[str, int] | None = None
    ) -> None:
        """Publish this member's signal and the depths of the lanes it serves."""
        ...

    def view(self) -> ControlView:
        """Every member's signal combined (``policy.backpressure.combine``), depths merged."""
        ...

    def signal(self) -> Signal | None: ...

    def acquire(self, lane: str, member: str, now: float, until: float) -> bool: ...

    def release(self, lane: str, member: str) -> None: ...

    def leases(self, lanes: Sequence[str]) -> dict[str, tuple[str, float]]: ...


@dataclass(frozen=True, slots=True)
class Grant:
    """What one principal may do at the HTTP edge: act for ``tenant`` (None: no tenant),
    or for every tenant when ``admin``."""

    tenant: str | None
    admin: bool = False


class PrincipalDirectory(Protocol):
    """Principal (an IAM ARN, normalized by ``runtime.access.principal_key``) -> Grant."""

    def lookup(self, principal: str) -> Grant | None:
        """The principal's grant, or None when it is not mapped."""
        ...

    def grant(self, principal: str, grant: Grant) -> None: ...

    def revoke(self, principal: str) -> None: ...

"""The public SDK: ``Conveyor`` submits, inspects, waits for and cancels tasks.

boto3 conventions: pass a ``session`` or ``profile``/``region``; ``AWS_ENDPOINT_URL``
points every client at the dev cloud. Or pass adapters directly (``Conveyor.in_memory``).

Write path of ``submit`` (requests in brackets):
  admit (pure) -> conditional PutItem [1] -> S3 PutObject if > 192 KiB [0-1]
  -> SendMessage [1] (or a one-time Scheduler ``at()`` schedule if > 15 min ahead).
If the send fails the record is deleted again, so a failed submit leaves nothing behind.
"""

from __future__ import annotations

import builtins
import logging
import os
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from . import catalog as catalog_module
from .admission import Admitted, SubmitRequest, admit, admit_many
from .catalog import Catalog, load_catalog
from .envelope import Envelope
from .errors import (
    ConveyorError,
    InvalidOption,
    InvalidTiming,
    InvalidTransition,
    TaskConflict,
    TaskFailed,
    TaskNotFound,
    WaitTimeout,
)
from .ids import validate_tenant
from .model import TERMINAL, TaskRecord, TaskState
from .payload import decode
from .ports import (
    Clock,
    EventPublisher,
    Lanes,
    OutMessage,
    Page,
    PayloadStore,
    SystemClock,
    TaskStore,
    now_ms,
)
from .topology import Topology

if TYPE_CHECKING:
    from .runtime.deadletter import DeadLetters


_log = logging.getLogger("conveyor")


@dataclass(frozen=True, slots=True)
class Submission:
    """The outcome of one submit. ``status``: created | duplicate | conflict | failed."""

    task_id: str
    status: str
    record: TaskRecord | None = None
    error: str | None = None

    @property
    def created(self) -> bool:
        return self.status == "created"

    @property
    def state(self) -> TaskState | None:
        return self.record.state if self.record else None


class Conveyor:
    """Client for one deployment (``topology``) of one catalog."""

    def __init__(
        self,
        catalog: Catalog | str | None = None,
        *,
        topology: Topology | None = None,
        session: Any = None,
        profile: str | None = None,
        region: str | None = None,
        endpoint_url: str | None = None,
        store: TaskStore | None = None,
        lanes: Lanes | None = None,
        payloads: PayloadStore | None = None,
        scheduler: Any = None,
        events: EventPublisher | None = None,
        clock: Clock | None = None,
        sleep: Callable[[float], None] = time.sleep,
        max_workers: int = 8,
    ) -> None:
        if catalog is None:
            catalog = os.environ.get("CONVEYOR_CATALOG") or catalog_module.default_catalog
        self.catalog = load_catalog(catalog) if isinstance(catalog, str) else catalog
        self.topology = topology or Topology.from_env()
        self.clock = clock or SystemClock()
        self.sleep = sleep
        self.max_workers = max_workers
        if store is None or lanes is None or payloads is None:
            from .aws import AwsClients, DynamoTaskStore, S3PayloadStore, SqsLanes
            from .aws.store import unindexed_types

            self.aws = AwsClients(
                session, profile=profile, region=region, endpoint_url=endpoint_url
            )
            store = store or DynamoTaskStore(
                self.aws.dynamodb, self.topology.table, unindexed=unindexed_types(self.catalog)
            )
            lanes = lanes or SqsLanes(self.aws.sqs)
            payloads = payloads or S3PayloadStore(self.aws.s3, self.topology.bucket)
        self.store = store
        self.lanes = lanes
        self.payloads = payloads
        self.scheduler = scheduler
        self.events = events
        if hasattr(self, "aws"):  # built from AWS settings: complete the set of adapters
            from .aws import EventBridgePublisher, SqsLanes
            from .aws.scheduler import EventBridgeScheduler

            if events is None:
                self.events = EventBridgePublisher(self.aws.events, self.topology.event_bus)
            if scheduler is None and isinstance(self.lanes, SqsLanes):
                self.scheduler = EventBridgeScheduler(self.aws.scheduler, self.lanes, self.topology)

    @classmethod
    def in_memory(
        cls, catalog: Catalog, *, clock: Clock | None = None, topology: Topology | None = None
    ) -> Conveyor:
        from .memory import MemoryLanes, MemoryPayloadStore, MemoryTaskStore

        clock = clock or SystemClock()
        return cls(
            catalog,
            topology=topology or Topology(),
            store=MemoryTaskStore(),
            lanes=MemoryLanes(clock),
            payloads=MemoryPayloadStore(),
            clock=clock,
        )

    # -- submit ---------------------------------------------------------------------------

    def submit(
        self,
        task_type: str,
        payload: Any = None,
        *,
        task_id: str | None = None,
        tenant: str | None = None,
        priority: str | None = None,
        delay: float | timedelta | None = None,
        at: datetime | None = None,
        ttl: float | timedelta | str | None = None,
        tags: Sequence[str] = (),
        window: int | None = None,
    ) -> Submission:
        """Submit one task. Same ID + same payload returns the existing task (``duplicate``)
        and enqueues nothing; same ID + different payload or type raises TaskConflict.

        ``delay``/``at`` up to 15 minutes ahead ride on SQS; further ahead (or with a
        ``window`` of flexible minutes, for off-peak work) the task is SCHEDULED and an
        EventBridge Scheduler one-time schedule enqueues it. ``at`` in the past runs now."""
        request = SubmitRequest(
            task_type, payload, task_id, tenant, priority, delay, at, ttl, tuple(tags), window
        )
        admitted = admit(self.catalog, self.topology, request, now_ms(self.clock))
        result = self._create(admitted)
        if result.status == "conflict":
            raise TaskConflict(result.error or "conflict")
        if result.created:
            self._store_payloads([admitted])
            failed = self._enqueue([admitted])
            if failed:
                raise ConveyorError(
                    f"task {admitted.record.task_id!r} could not be enqueued; nothing was kept"
                )
        return result

    def submit_many(
        self, requests: Iterable[SubmitRequest | Mapping[str, Any]]
    ) -> list[Submission]:
        """Submit many tasks: one conditional write each (in parallel), SQS batches of 10.

        The whole batch is validated first; any bad request raises and writes nothing.
        Results come back in request order, one ``Submission`` each.
        """
        reqs = [r if isinstance(r, SubmitRequest) else SubmitRequest(**r) for r in requests]
        admitted = admit_many(self.catalog, self.topology, reqs, now_ms(self.clock))
        if len(admitted) <= 1:
            results = [self._create(a) for a in admitted]
        else:
            with ThreadPoolExecutor(max_workers=self.max_workers) as pool:
                results = list(pool.map(self._create, admitted))
        fresh = [a for a, r in zip(admitted, results, strict=True) if r.created]
        self._store_payloads(fresh)
        failed = set(self._enqueue(fresh))
        return [
            Submission(r.task_id, "failed", None, "could not be enqueued; nothing was kept")
            if r.task_id in failed
            else r
            for r in results
        ]

    def _create(self, admitted: Admitted) -> Submission:
        record = admitted.record
        stored, created = self.store.create(record, record.created_at)
        if created:
            return Submission(record.task_id, "created", stored)
        if stored.task_type == record.task_type and stored.payload_sha256 == record.payload_sha256:
            return Submission(record.task_id, "duplicate", stored)
        what = "type" if stored.task_type != record.task_type else "payload"
        return Submission(
            record.task_id,
            "conflict",
            stored,
            f"task {record.task_id!r} already exists with a different {what} "
            f"({stored.task_type}, {stored.state}); use a new ID or the same payload",
        )

    def _store_payloads(self, admitted: Sequence[Admitted]) -> None:
        for item in admitted:
            if item.offload_key:
                self.payloads.put(item.offload_key, item.payload_bytes)

    def _enqueue(self, admitted: Sequence[Admitted]) -> list[str]:
        """Send the messages, grouped by lane; undo the records whose send failed."""
        by_lane: dict[str, list[OutMessage]] = defaultdict(list)
        failed: list[str] = []
        for item in admitted:
            if item.scheduled:
                try:
                    self._schedule(item)
                except Exception:
                    _log.exception("could not schedule task %s", item.record.task_id)
                    failed.append(item.record.task_id)
                continue
            by_lane[self.lane_queue(item.record)].append(self._message(item))
        for lane, messages in by_lane.items():
            try:
                failed.extend(self.lanes.send(lane, messages))
            except Exception:
                _log.exception("could not enqueue %d tasks on %s", len(messages), lane)
                failed.extend(m.id for m in messages)
        by_id = {a.record.task_id: a for a in admitted}
        for task_id in failed:
            item = by_id[task_id]
            self.store.delete(task_id, state=item.record.state)
            if item.offload_key:
                self.payloads.delete(item.offload_key)
        return failed

    @staticmethod
    def lane_queue(record: TaskRecord) -> str:
        return record.lane

    def _message(self, item: Admitted) -> OutMessage:
        body = Envelope.for_record(item.record, item.payload, item.record.created_at).to_json()
        return OutMessage(
            body=body, group=item.record.tenant, delay=item.delay_seconds, id=item.record.task_id
        )

    def _schedule(self, item: Admitted) -> None:
        if self.scheduler is None:
            raise ConveyorError("this client has no scheduler for delays over 15 minutes")
        assert item.fire_at_ms is not None
        body = Envelope.for_record(item.record, item.payload, item.fire_at_ms).to_json()
        self.scheduler.create_at(
            item.record.task_id,
            item.fire_at_ms,
            self.lane_queue(item.record),
            body,
            window_minutes=item.window,
        )

    # -- inspect --------------------------------------------------------------------------

    def get(self, task_id: str) -> TaskRecord:
        record = self.store.get(task_id)
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

    # -- cancel ---------------------------------------------------------------------------

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
            from .runtime.runner import event_detail

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

    # -- pause / resume -------------------------------------------------------------------

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

    # -- recurring schedules --------------------------------------------------------------

    def create_schedule(
        self,
        task_type: str,
        expression: str,
        *,
        name: str | None = None,
        timezone: str = "UTC",
        payload: Any = None,
        tenant: str = "default",
        enabled: bool = True,
    ) -> str:
        """Create a cron()/rate() schedule whose every firing runs one task (ID derived
        from the schedule and the scheduled time, so a double firing runs once).
        Everything is checked first; a bad expression, zone or payload creates nothing."""
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        from .catalog import Schedule
        from .payload import encode
        from .policy.expressions import validate_expression
        from .triggers import NAME_RE, fire_body

        task = self.catalog.get(task_type)
        text = validate_expression(expression)
        try:
            ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise InvalidTiming(f"unknown time zone {timezone!r}") from None
        encode(payload)
        validate_tenant(tenant)
        name = name or task_type
        if not 1 <= len(name) <= 64 or NAME_RE.search(name):
            raise InvalidOption(f"schedule name {name!r}: 1-64 characters of [0-9A-Za-z_.-]")
        if self.scheduler is None:
            raise ConveyorError("this client has no scheduler")
        schedule = Schedule(text, name, timezone, payload, tenant, enabled)
        self.scheduler.create_recurring(
            name,
            text,
            timezone,
            self.topology.lane_for(task.priority, tenant),
            fire_body(task_type, schedule, name),
            enabled=enabled,
        )
        return name

    def list_schedules(self) -> builtins.list[dict[str, Any]]:
        if self.scheduler is None:
            raise ConveyorError("this client has no scheduler")
        out: builtins.list[dict[str, Any]] = self.scheduler.list()
        return out

    def pause_schedule(self, name: str) -> None:
        self._require_scheduler().set_enabled(name, False)

    def resume_schedule(self, name: str) -> None:
        self._require_scheduler().set_enabled(name, True)

    def delete_schedule(self, name: str) -> None:
        self._require_scheduler().delete_schedule(name)

    def _require_scheduler(self) -> Any:
        if self.scheduler is None:
            raise ConveyorError("this client has no scheduler")
        return self.scheduler

    # -- dead-letter queue ----------------------------------------------------------------

    def dlq(self) -> DeadLetters:
        from .runtime.deadletter import DeadLetters

        return DeadLetters(self.lanes, self.store, self.topology)

    def dlq_list(
        self, *, task_type: str | None = None, since: datetime | None = None, limit: int = 100
    ) -> builtins.list[Any]:
        return self.dlq().entries(task_type=task_type, since_ms=_ms(since), limit=limit)

    def dlq_redrive(
        self, *, task_type: str | None = None, since: datetime | None = None
    ) -> builtins.list[str]:
        """Re-queue failed tasks from the DLQ with their attempts reset."""
        return self.dlq().redrive(
            task_type=task_type, since_ms=_ms(since), now_ms=now_ms(self.clock)
        )


def _ms(when: datetime | None) -> int | None:
    if when is None:
        return None
    if when.tzinfo is None:
        raise InvalidTiming("since= must be a timezone-aware datetime")
    return int(when.timestamp() * 1000)


def _default_client() -> Callable[..., Any]:
    global _DEFAULT
    if _DEFAULT is None:
        _DEFAULT = Conveyor()
    return _DEFAULT.submit


_DEFAULT: Conveyor | None = None
catalog_module.bind_default_submitter(_default_client)

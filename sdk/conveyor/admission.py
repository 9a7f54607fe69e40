"""Admission: turn a submit request into a validated record and lane message. Pure.

Shared by the SDK, the HTTP submit function and the event-trigger path, so every producer
gets the same checks and the same typed errors. Nothing here writes anything.

Documented choices:
* ``at`` in the past runs the task now (like a delay of zero), it is not an error.
* TTL counts from submission; a TTL not longer than the delay is an error.
* Delays up to 900 s ride on SQS ``DelaySeconds``; longer ones become SCHEDULED tasks fired
  by EventBridge Scheduler.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from .catalog import Catalog
from .durations import DurationError, parse_duration
from .errors import (
    DuplicateTaskId,
    InvalidOption,
    InvalidPriority,
    InvalidTiming,
    PayloadTooLarge,
    ValidationError,
)
from .ids import DEFAULT_TENANT, new_task_id, validate_task_id, validate_tenant
from .model import PRIORITIES, TaskRecord, TaskState
from .payload import INLINE_LIMIT, MAX_PAYLOAD, digest, encode, is_utf8
from .topology import Topology

SQS_MAX_DELAY = 900
#: Seconds: the furthest ahead a task may start, and the longest TTL (10 years). Keeps
#: timestamps inside what datetimes, DynamoDB numbers and the Scheduler can hold.
MAX_HORIZON = 3650 * 86400
MAX_TAGS = 10


@dataclass(frozen=True, slots=True)
class SubmitRequest:
    task_type: str
    payload: Any = None
    task_id: str | None = None
    tenant: str | None = None
    priority: str | None = None
    delay: float | timedelta | None = None
    at: datetime | None = None
    ttl: float | timedelta | str | None = None
    tags: Sequence[str] = ()
    #: Minutes of flexible window (EventBridge Scheduler): "run some time in this window
    #: after the start", for off-peak work. Always takes the Scheduler path.
    window: int | None = None


@dataclass(frozen=True, slots=True)
class Admitted:
    """What to write for one accepted request."""

    record: TaskRecord
    payload_bytes: bytes
    offload_key: str | None
    delay_seconds: int
    fire_at_ms: int | None
    payload: Any = field(default=None)
    window: int | None = None

    @property
    def scheduled(self) -> bool:
        return self.fire_at_ms is not None


def _delay_seconds(request: SubmitRequest, now_ms: int) -> float:
    if request.delay is not None and request.at is not None:
        raise InvalidTiming("give either delay= or at=, not both")
    if request.at is not None:
        if not isinstance(request.at, datetime):
            raise InvalidTiming(f"at= must be a timezone-aware datetime, got {request.at!r}")
        if request.at.tzinfo is None or request.at.utcoffset() is None:
            raise InvalidTiming(
                "at= is a naive datetime; pass an aware one, e.g. "
                "datetime(..., tzinfo=timezone.utc)"
            )
        return max(0.0, request.at.timestamp() - now_ms / 1000)
    if request.delay is None:
        return 0.0
    delay = request.delay
    if isinstance(delay, bool) or not isinstance(delay, (int, float, timedelta)):
        raise InvalidTiming(f"delay= must be seconds or a timedelta, got {delay!r}")
    try:
        seconds = delay.total_seconds() if isinstance(delay, timedelta) else float(delay)
    except OverflowError:
        seconds = math.inf
    if math.isnan(seconds) or math.isinf(seconds):
        raise InvalidTiming(f"delay= must be a finite number of seconds, got {delay!r:.80}")
    if seconds < 0:
        raise InvalidTiming(f"delay= is negative ({seconds:g}s); use 0 to run now")
    return seconds


def _tags(value: object) -> tuple[str, ...]:
    """The tags as a tuple; a list of strings is required (a string is not three tags)."""
    rule = f"tags must be a list of at most {MAX_TAGS} non-empty strings of <= 64 chars"
    if isinstance(value, (str, bytes, Mapping)) or not isinstance(value, Iterable):
        raise InvalidOption(f"{rule}, got {type(value).__name__}")
    tags = tuple(value)
    if len(tags) > MAX_TAGS or any(not isinstance(t, str) or not t or len(t) > 64 for t in tags):
        raise InvalidOption(rule)
    for tag in tags:
        if not is_utf8(tag):
            raise InvalidOption(f"tag {tag!r} is not valid Unicode text (a lone surrogate)")
    return tags


def admit(
    catalog: Catalog,
    topology: Topology,
    request: SubmitRequest,
    now_ms: int,
    *,
    task_id: str | None = None,
) -> Admitted:
    """Validate ``request`` completely; raises a ValidationError subclass on any fault."""
    task_type = catalog.get(request.task_type)
    tid = (
        validate_task_id(request.task_id)
        if request.task_id is not None
        else (task_id or new_task_id(now_ms))
    )
    tenant = DEFAULT_TENANT if request.tenant is None else validate_tenant(request.tenant)
    priority = task_type.priority if request.priority is None else request.priority
    if isinstance(priority, bool) or priority not in PRIORITIES:
        raise InvalidPriority(f"priority {priority!r} is not one of {', '.join(PRIORITIES)}")
    delay = _delay_seconds(request, now_ms)
    if delay > MAX_HORIZON:
        raise InvalidTiming(
            f"the task would start {delay:g}s from now; the maximum is {MAX_HORIZON}s (10 years)"
        )
    if request.ttl is not None:
        try:
            ttl: float | None = parse_duration(request.ttl)
        except (DurationError, OverflowError) as exc:
            raise InvalidTiming(f"ttl=: {exc}") from None
        if ttl is not None and ttl > MAX_HORIZON:
            raise InvalidTiming(f"ttl= is {ttl:g}s; the maximum is {MAX_HORIZON}s (10 years)")
    else:
        ttl = task_type.ttl
    if ttl is not None and delay > 0 and ttl <= delay:
        raise InvalidTiming(
            f"ttl ({ttl:g}s) is not longer than the delay ({delay:g}s): the task would "
            "expire before it could run"
        )
    tags = _tags(request.tags)

    data = encode(request.payload)
    if len(data) > MAX_PAYLOAD:
        raise PayloadTooLarge(
            f"payload is {len(data):,} bytes; the maximum is {MAX_PAYLOAD:,}. Store large "
            "data in your own bucket and pass its key"
        )
    sha = digest(data)
    offload_key = f"payloads/{tid}/{sha}.json" if len(data) > INLINE_LIMIT else None

    window = request.window
    if window is not None and (
        isinstance(window, bool) or not isinstance(window, int) or not 1 <= window <= 1440
    ):
        raise InvalidTiming(f"window= must be whole minutes from 1 to 1440, got {window!r}")
    scheduled = delay > SQS_MAX_DELAY or window is not None
    if scheduled and delay < 60:
        delay = 60.0  # the Scheduler's resolution is a minute: fire no sooner
    not_before = now_ms + int(delay * 1000) if delay > 0 else None
    dedup = None if task_type.dedup_window is None else now_ms + int(task_type.dedup_window * 1000)
    record = TaskRecord(
        task_id=tid,
        task_type=task_type.name,
        tenant=tenant,
        priority=priority,
        state=TaskState.SCHEDULED if scheduled else TaskState.QUEUED,
        lane=(
            topology.work_queue(task_type.name)
            if task_type.direct
            else topology.lane_for(priority, tenant)
        ),
        payload_sha256=sha,
        payload_size=len(data),
        created_at=now_ms,
        payload_ref=offload_key,
        queued_at=None if scheduled else now_ms,
        not_before=not_before,
        expires_at=now_ms + int(ttl * 1000) if ttl is not None else None,
        dedup_until=dedup,
        tags=tags,
    )
    return Admitted(
        record=record,
        payload_bytes=data,
        offload_key=offload_key,
        delay_seconds=0 if scheduled else math.ceil(delay),
        fire_at_ms=not_before if scheduled else None,
        payload=None if offload_key else request.payload,
        window=window,
    )


def admit_many(
    catalog: Catalog, topology: Topology, requests: Sequence[SubmitRequest], now_ms: int
) -> list[Admitted]:
    """Validate a whole batch first: one bad request rejects the batch, nothing written."""
    seen: set[str] = set()
    for request in requests:
        if request.task_id is None:
            continue
        if request.task_id in seen:
            raise DuplicateTaskId(
                f"task ID {request.task_id!r} appears more than once in this submit_many call"
            )
        seen.add(request.task_id)
    out = []
    for index, request in enumerate(requests):
        try:
            out.append(
                admit(
                    catalog,
                    topology,
                    request,
                    now_ms,
                    task_id=new_task_id(now_ms) if request.task_id is None else None,
                )
            )
        except ValidationError as exc:
            raise type(exc)(f"request #{index}: {exc}") from None
    return out

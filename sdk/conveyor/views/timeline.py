"""A task's timeline: the three clocks, its attempts and the segments a chart draws. Pure.

Times are epoch ms (UTC). The three clocks are the record's own totals (``queue_wait_ms``
first-time wait in a lane, ``retry_wait_ms`` between attempts, ``run_ms`` running); the
timeline never recomputes them, so the page, the terminal and the metrics agree.

Per-attempt history comes from the record when it carries one (a sequence of mappings or
objects with ``started``/``finished``/``outcome``/``executor``/``error``, under any of
the names in ``HISTORY_FIELDS``); without it only the latest attempt has exact times and
the earlier ones are summarized by the totals.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..model import TaskRecord, TaskState

#: Attribute names a record's per-attempt history may have (first found wins).
HISTORY_FIELDS = ("attempt_log", "history", "attempt_history")

_KEYS = {
    "number": ("n", "number", "attempt"),
    "started": ("started", "started_at", "s"),
    "finished": ("finished", "finished_at", "f"),
    "outcome": ("outcome", "kind", "o"),
    "executor": ("executor", "x"),
    "error": ("error", "error_type", "e"),
    "wait": ("wait_ms", "waited_ms", "w"),
}


@dataclass(frozen=True, slots=True)
class Attempt:
    """One started attempt. ``outcome`` e.g. succeeded|retryable|throttled|fatal|timeout|
    running; ``waited_ms`` is the wait before it (queue wait for the first, retry wait
    after), when known."""

    number: int
    started_at: int | None
    finished_at: int | None
    outcome: str
    executor: str | None = None
    error: str | None = None
    waited_ms: int | None = None

    @property
    def run_ms(self) -> int | None:
        if self.started_at is None or self.finished_at is None:
            return None
        return max(0, self.finished_at - self.started_at)


@dataclass(frozen=True, slots=True)
class Segment:
    """A bar on the timeline chart: ``kind`` is queue|retry|run|scheduled; ms bounds."""

    kind: str
    start_ms: int
    end_ms: int
    label: str


@dataclass(frozen=True, slots=True)
class Timeline:
    task_id: str
    state: str
    queue_wait_ms: int
    retry_wait_ms: int
    run_ms: int
    attempts: list[Attempt] = field(default_factory=list)
    segments: list[Segment] = field(default_factory=list)
    events: list[tuple[int, str]] = field(default_factory=list)
    exact: bool = False

    @property
    def start_ms(self) -> int | None:
        points = [s.start_ms for s in self.segments] + [t for t, _ in self.events]
        return min(points) if points else None

    @property
    def end_ms(self) -> int | None:
        points = [s.end_ms for s in self.segments] + [t for t, _ in self.events]
        return max(points) if points else None


def _pick(item: Any, name: str) -> Any:
    for key in _KEYS[name]:
        value = item.get(key) if isinstance(item, Mapping) else getattr(item, key, None)
        if value is not None:
            return value
    return None


def _int(value: Any) -> int | None:
    try:
        return None if value is None else int(value)
    except (TypeError, ValueError):
        return None


def history_of(record: TaskRecord) -> list[Attempt]:
    """The record's per-attempt history, normalized; empty when it has none."""
    raw: Any = None
    for name in HISTORY_FIELDS:
        raw = getattr(record, name, None)
        if raw:
            break
    if not raw:
        return []
    out = []
    for index, item in enumerate(raw, start=1):
        error = _pick(item, "error")
        if isinstance(error, Mapping):
            error = error.get("type") or error.get("kind")
        out.append(
            Attempt(
                number=_int(_pick(item, "number")) or index,
                started_at=_int(_pick(item, "started")),
                finished_at=_int(_pick(item, "finished")),
                outcome=str(_pick(item, "outcome") or "unknown"),
                executor=_pick(item, "executor"),
                error=None if error is None else str(error),
                waited_ms=_int(_pick(item, "wait")),
            )
        )
    return out


def _latest_attempt(record: TaskRecord) -> Attempt | None:
    if record.started_at is None or record.attempts == 0:
        return None
    running = record.state is TaskState.RUNNING
    outcome = "running" if running else record.state.value.lower()
    if record.state is TaskState.QUEUED:  # went back for a retry after this attempt
        outcome = record.error.kind if record.error else "retry"
    return Attempt(
        number=record.attempts,
        started_at=record.started_at,
        finished_at=None if running else record.finished_at,
        outcome=outcome,
        error=record.error.type if record.error else None,
    )


def build_timeline(record: TaskRecord, now_ms: int) -> Timeline:
    """Attempts, chart segments and events of ``record`` as of ``now_ms``."""
    history = history_of(record)
    exact = bool(history)
    if exact and record.state is TaskState.RUNNING and history[-1].number < record.starts:
        history.append(Attempt(record.starts, record.started_at, None, "running"))
    attempts = history or [a for a in [_latest_attempt(record)] if a is not None]
    segments: list[Segment] = []
    waiting_since = record.created_at
    if record.not_before and record.not_before > record.created_at and exact:
        segments.append(Segment("scheduled", record.created_at, record.not_before, "scheduled"))
        waiting_since = record.not_before
    for attempt in attempts:
        if attempt.started_at is None:
            continue
        first = attempt.number == 1
        if exact or first:
            wait_start = waiting_since
        else:
            wait_start = max(record.queued_at or attempt.started_at, record.created_at)
            wait_start = min(wait_start, attempt.started_at)
        kind = "queue" if first else "retry"
        if attempt.started_at > wait_start:
            if exact or first:
                label = f"{kind} wait before attempt {attempt.number}"
            else:  # only the time since the retry fell due is known
                label = f"due, waiting for attempt {attempt.number}"
            segments.append(Segment(kind, wait_start, attempt.started_at, label))
        end = attempt.finished_at or (now_ms if attempt.outcome == "running" else None)
        if end is not None:
            segments.append(
                Segment(
                    "run",
                    attempt.started_at,
                    max(end, attempt.started_at),
                    f"attempt {attempt.number}: {attempt.outcome}",
                )
            )
            waiting_since = end
    if exact and record.state is TaskState.QUEUED and now_ms > waiting_since:
        kind = (
            "retry" if attempts[-1].outcome in ("retryable", "throttled", "released") else "queue"
        )
        since = waiting_since if kind == "retry" else max(waiting_since, record.queued_at or 0)
        segments.append(Segment(kind, since, now_ms, f"{kind} wait (so far)"))
    if not attempts and record.state in (TaskState.QUEUED, TaskState.SCHEDULED):
        since = record.queued_at or record.created_at
        if now_ms > since and record.state is TaskState.QUEUED:
            kind = "queue" if record.attempts == 0 else "retry"
            segments.append(Segment(kind, since, now_ms, f"{kind} wait (so far)"))
    events = [(record.created_at, "submitted")]
    if record.not_before:
        events.append((record.not_before, "due"))
    if record.queued_at and record.queued_at != record.created_at:
        events.append((record.queued_at, "queued" if record.attempts == 0 else "re-queued"))
    if record.started_at:
        events.append((record.started_at, f"attempt {record.attempts} started"))
    if record.finished_at:
        events.append((record.finished_at, record.state.value.lower()))
    events.sort()
    return Timeline(
        task_id=record.task_id,
        state=record.state.value,
        queue_wait_ms=record.queue_wait_ms,
        retry_wait_ms=record.retry_wait_ms,
        run_ms=record.run_ms,
        attempts=attempts,
        segments=segments,
        events=events,
        exact=exact,
    )

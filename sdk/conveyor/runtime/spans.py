"""The runner's and the executors' spans of a task's trace (``conveyor.tracing``).

``waited`` records the wait before an attempt (``queue`` or ``retry``, attributed as the
clocks are), ``ran`` the attempt itself (``run``: start to durable outcome), ``invoking``
re-parents a message's trace to an executor's ``invoke`` span. All never raise and cost
nothing when the message carries no trace.
"""

from __future__ import annotations

import dataclasses

from .. import clocks, tracing
from ..envelope import Envelope
from ..model import TaskRecord
from .outcome import Outcome


def waited(env: Envelope, record: TaskRecord) -> None:
    header = tracing.parse_header(env.trace)
    if header is None or record.started_at is None:
        return
    history = tuple(record.history)
    kind = "retry" if clocks.waits_for_retry(history, record) else "queue"
    start = clocks.due_at(record)
    if kind == "retry" and history and isinstance(history[-1].get("f"), int):
        start = int(history[-1]["f"])  # the backoff is part of the wait
    start = min(start, record.started_at)
    under = header.waits_under()  # the admission, not the invoke that ended the wait
    tracing.record(under, kind, record.task_id, start, record.started_at, attempt=record.starts)


def ran(env: Envelope, record: TaskRecord, outcome: Outcome, executor: str, now: int) -> None:
    header = tracing.parse_header(env.trace)
    if header is None or record.started_at is None:
        return
    tracing.record(
        header,
        "run",
        record.task_id,
        record.started_at,
        max(now, record.started_at),
        attempt=record.starts,
        outcome=outcome.kind,
        executor=executor,
    )


def invoking(env: Envelope, trace: str | None = None) -> tuple[Envelope, str | None]:
    """The envelope re-parented to a new ``invoke`` span, and that span's id (None when
    untraced). ``trace`` overrides the envelope's header (a Lambda event's ``trace``)."""
    header = tracing.parse_header(trace or env.trace)
    if header is None:
        return env, None
    sid = tracing.span_id()
    child = header.child(sid, origin=header.origin or header.parent)
    return dataclasses.replace(env, trace=child.to_header()), sid


def invoked(env: Envelope, sid: str | None, start_ms: int, end_ms: int, outcome: str) -> None:
    """Record the ``invoke`` span made by ``invoking`` (under the original parent)."""
    header = tracing.parse_header(env.trace)
    if header is None or sid is None:
        return
    tracing.record(header, "invoke", env.task_id, start_ms, end_ms, span=sid, outcome=outcome)

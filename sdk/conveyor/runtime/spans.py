"""The runner's and the executors' spans of a task's trace (``conveyor.tracing``).

``waited`` records the wait before an attempt (``queue`` or ``retry``, attributed as the
clocks are), ``ran`` the attempt itself (``run``: start to durable outcome; in AWS also
as X-Ray segments, ``xray``), ``invoking``
re-parents a message's trace to an executor's ``invoke`` span. All never raise and cost
nothing when the message carries no trace.
"""

from __future__ import annotations

import dataclasses

from .. import tracing
from ..envelope import Envelope
from ..model import TaskRecord
from . import xray
from .outcome import Outcome


def waited(env: Envelope, record: TaskRecord) -> None:
    header = tracing.parse_header(env.trace)
    wait = xray.wait_of(record)  # the backoff before a retry is part of its wait
    if header is None or wait is None:
        return
    kind, start, end = wait
    under = header.waits_under()  # the admission, not the invoke that ended the wait
    name = "retry" if kind == "retry wait" else kind
    tracing.record(under, name, record.task_id, start, end, attempt=record.starts)


def ran(env: Envelope, record: TaskRecord, outcome: Outcome, executor: str, now: int) -> None:
    """Record the ``run`` span, and in AWS send the attempt's X-Ray segments (``xray``:
    queue or retry wait and run, explicit times, under the task's derived trace)."""
    xray.emit_attempt(record, outcome.kind, executor, now)
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

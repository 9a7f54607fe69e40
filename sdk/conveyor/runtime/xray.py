"""A task's attempts as X-Ray segments, with explicit times taken from its record (AWS).

X-Ray's recorders time what happens *now*; a task's queue wait happened before any of
its code ran, so this module writes the segment documents itself, with start and end
times from the record (epoch ms in the record; X-Ray wants epoch seconds), and hands them
to an emitter (in AWS: the X-Ray daemon's UDP port, through ``aws_xray_sdk``'s emitter).

The tree of one task, in the task's one trace (``tracing.task_trace``: derived from the
task ID and creation time, or the submitter's own trace when it ran inside one):

* segment ``conveyor <type>`` -- ID = the task's admission span, so every lane message's
  ``Parent`` names it; parent = the submitter's span when it was traced; start = creation,
  end = the latest attempt's end. It is sent again after every attempt: X-Ray keeps the
  newest document of an ID, so the segment grows to cover the task's life;
* subsegment ``queue`` -- due (creation, or ``not_before``) until the first start;
* subsegment ``retry wait`` -- the previous attempt's end until this start;
* subsegment ``run`` -- start until the durable outcome (annotated: attempt, outcome,
  executor; ``error``/``fault`` set as X-Ray's console colours them).

Subsegment IDs derive from (task, start count, name): a repeated emission (a retried
outcome write) replaces instead of duplicating. Emitting never raises and costs nothing
without an emitter: the daemon's address (``AWS_XRAY_DAEMON_ADDRESS``, set by Lambda and
by an ECS task with the daemon sidecar) turns it on, ``POWERTOOLS_TRACE_DISABLED=true``
off. Each document is well under X-Ray's 64 KB segment limit (~300 bytes). X-Ray keeps
traces 30 days and dates a trace by its ID: a task that first runs a month or more after
its creation (a far schedule) may find its trace gone or refused.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Mapping
from typing import Any, Protocol

from .. import clocks, tracing
from ..model import TaskRecord

_log = logging.getLogger(__name__)

DAEMON_ENV = "AWS_XRAY_DAEMON_ADDRESS"
DISABLED_ENV = "POWERTOOLS_TRACE_DISABLED"
#: Outcome kinds X-Ray shows as a client error (the task's fault) or a fault (ours).
ERRORS = frozenset({"fatal", "retryable", "malformed", "expired"})
FAULTS = frozenset({"unsettled"})  # computed, but the task store kept failing


class Emitter(Protocol):
    def send(self, document: Mapping[str, Any]) -> None: ...


class MemoryEmitter:
    """The twin: keeps every document sent."""

    def __init__(self) -> None:
        self.documents: list[dict[str, Any]] = []

    def send(self, document: Mapping[str, Any]) -> None:
        self.documents.append(dict(document))


class _Entity:
    """What ``aws_xray_sdk``'s emitter sends: an object that serializes itself."""

    def __init__(self, document: Mapping[str, Any]) -> None:
        self.document = document

    def serialize(self) -> str:
        return json.dumps(self.document, separators=(",", ":"))


class DaemonEmitter:
    """Documents to the X-Ray daemon over UDP (``aws_xray_sdk``'s emitter: the same
    protocol header and non-blocking socket its recorder uses)."""

    def __init__(self, address: str) -> None:
        from aws_xray_sdk.core.emitters.udp_emitter import UDPEmitter

        self._udp = UDPEmitter(address)

    def send(self, document: Mapping[str, Any]) -> None:
        self._udp.send_entity(_Entity(document))


def _seconds(ms: int) -> float:
    return ms / 1000.0


def _sub_id(task_id: str, starts: int, name: str) -> str:
    return hashlib.sha256(f"{task_id}:{starts}:{name}".encode()).hexdigest()[:16]


def wait_of(record: TaskRecord) -> tuple[str, int, int] | None:
    """``(kind, start_ms, end_ms)`` of the wait before the record's running attempt:
    ``queue`` (first start) or ``retry wait`` (from the previous attempt's end, backoff
    included), attributed as ``conveyor.clocks`` does; None before a start."""
    if record.started_at is None:
        return None
    history = tuple(record.history)
    retry = clocks.waits_for_retry(history, record)
    start = clocks.due_at(record)
    if retry and history and isinstance(history[-1].get("f"), int):
        start = int(history[-1]["f"])
    return ("retry wait" if retry else "queue"), min(start, record.started_at), record.started_at


def attempt_documents(
    record: TaskRecord, outcome: str, executor: str, end_ms: int
) -> list[dict[str, Any]]:
    """The task's segment and this attempt's wait and run subsegments. ``record`` is the
    running attempt's (``started_at``, ``starts`` set); ``end_ms`` its durable outcome."""
    if record.started_at is None:
        return []
    under = tracing.task_trace(record.task_id, record.created_at, record.trace_parent)
    segment_id = tracing.admission_span(record.task_id)
    end = max(end_ms, record.started_at)
    annotations = {"conveyor_task": record.task_id, "conveyor_tenant": record.tenant}
    segment: dict[str, Any] = {
        "name": f"conveyor {record.task_type}"[:200],
        "id": segment_id,
        "trace_id": under.root,
        "start_time": _seconds(record.created_at),
        "end_time": _seconds(max(end, record.created_at)),
        "annotations": {**annotations, "conveyor_type": record.task_type},
    }
    if under.parent:
        segment["parent_id"] = under.parent
    out = [segment]
    wait = wait_of(record)
    if wait is not None:
        kind, start, stop = wait
        out.append(_sub(record, segment, kind, start, stop, {"attempt": record.starts}))
    run = _sub(
        record,
        segment,
        "run",
        record.started_at,
        end,
        {"attempt": record.starts, "outcome": outcome, "executor": executor},
    )
    if outcome in ERRORS:
        run["error"] = True
    elif outcome in FAULTS:
        run["fault"] = True
    elif outcome == "throttled":
        run["throttle"] = True
    out.append(run)
    return out


def _sub(
    record: TaskRecord,
    segment: Mapping[str, Any],
    name: str,
    start_ms: int,
    end_ms: int,
    annotations: Mapping[str, Any],
) -> dict[str, Any]:
    return {
        "type": "subsegment",
        "name": name,
        "id": _sub_id(record.task_id, record.starts, name),
        "trace_id": segment["trace_id"],
        "parent_id": segment["id"],
        "start_time": _seconds(start_ms),
        "end_time": _seconds(max(end_ms, start_ms)),
        "annotations": dict(annotations),
    }


_emitter: Emitter | None = None
_chosen = False


def emitter(env: Mapping[str, str] = os.environ) -> Emitter | None:
    """The process's emitter: set by ``use``, else the daemon's when its address is set
    and tracing is not disabled, else None."""
    global _emitter, _chosen
    if not _chosen:
        address = env.get(DAEMON_ENV)
        disabled = env.get(DISABLED_ENV, "").lower() in ("1", "true", "yes")
        try:
            _emitter = DaemonEmitter(address) if address and not disabled else None
        except Exception:  # no aws_xray_sdk, a bad address: no segments, never a failure
            _log.exception("X-Ray segments are off")
            _emitter = None
        _chosen = True
    return _emitter


def use(chosen: Emitter | None) -> None:
    """Set the process's emitter (None: choose from the environment again)."""
    global _emitter, _chosen
    _emitter, _chosen = chosen, chosen is not None


def emit_attempt(record: TaskRecord, outcome: str, executor: str, end_ms: int) -> int:
    """Send the attempt's documents; the number sent (0 without an emitter). Never raises."""
    sink = emitter()
    if sink is None:
        return 0
    sent = 0
    try:
        for document in attempt_documents(record, outcome, executor, end_ms):
            sink.send(document)
            sent += 1
    except Exception:
        _log.exception("could not send X-Ray segments of task %s", record.task_id)
    return sent

"""One trace per task: the X-Ray trace header, spans, and where spans are recorded.

The header (X-Ray format ``Root=1-<8 hex epoch s>-<24 hex>;Parent=<16 hex>;Sampled=1``)
is *derived* from the task: its root from the task ID and creation time (``task_root``),
its Parent the task's admission span (``admission_span``: also derived), so whoever sends
the task's message -- the SDK's submit, a trigger's intake, the reconciler's re-send, a
re-submit's repair, a redrive -- puts it in the same trace without storing anything
(``Envelope.for_record`` does it by default). A submitter that runs inside a trace of its
own (a Lambda's ``_X_AMZN_TRACE_ID``: the HTTP submit function, an EventBridge trigger)
has it kept in the record, compactly (``TaskRecord.trace_parent``, ``<root>/<parent>``, 52
bytes): the task's spans then hang under the caller's span, in the caller's trace. The
header travels in the lane message's envelope (``tr``; ~100 bytes in a body billed per 64
KiB, so it costs nothing), through the dispatcher (whose executors re-parent it to their
``invoke`` span and hand it on: in the Lambda event as ``trace``, in-process as the
envelope) to the runner.

Spans of one task, each a child of the one before:

* ``admission`` -- the SDK's submit: validate, conditional write, send (client);
* ``queue`` / ``retry`` -- waiting in a lane before an attempt (the runner, at its start;
  the same attribution as ``conveyor.clocks``);
* ``invoke`` -- the dispatcher's hand-over to an executor until its outcome came back;
* ``run`` -- the attempt, start to durable outcome (the runner: Lambda, worker, local).

Where spans go: a ``SpanRecorder``. The dev cloud records them locally (``FileSpans``, a
JSON-lines file named by ``CONVEYOR_SPANS``, shared by its processes) so the dashboard's
task page can show them; tests use ``MemorySpans``; elsewhere nothing is recorded here.
In AWS the runner sends the task's segment and each attempt's ``queue`` / ``retry wait`` /
``run`` subsegments to X-Ray with the record's times (``runtime.xray``), and the Lambda
entry annotates its own segment (Powertools Tracer) with the task's trace root, so X-Ray
finds every segment of a task by ``conveyor_trace``.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import threading
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

#: Env var naming the dev cloud's span file.
SPANS_ENV = "CONVEYOR_SPANS"
#: Lambda's (and X-Ray's) ambient trace header.
AMBIENT_ENV = "_X_AMZN_TRACE_ID"
#: Newest spans kept by a memory recorder or read from a file (which is trimmed to half
#: of this once it holds more).
MAX_SPANS = 20_000


@dataclass(frozen=True, slots=True)
class TraceHeader:
    """``parent`` is the span new spans hang under; ``origin`` (ours, not X-Ray's) the span
    a task's waits hang under once an executor re-parented the header: its admission."""

    root: str
    parent: str | None = None
    sampled: bool = True
    origin: str | None = None

    def to_header(self) -> str:
        """The header as Conveyor carries it (envelope, Lambda event)."""
        origin = f";Origin={self.origin}" if self.origin else ""
        return self.xray() + origin

    def xray(self) -> str:
        """The header as X-Ray reads it (``X-Amzn-Trace-Id``)."""
        parts = [f"Root={self.root}"]
        if self.parent:
            parts.append(f"Parent={self.parent}")
        parts.append(f"Sampled={1 if self.sampled else 0}")
        return ";".join(parts)

    def child(self, span_id: str, origin: str | None = None) -> TraceHeader:
        return TraceHeader(self.root, span_id, self.sampled, origin)

    def waits_under(self) -> TraceHeader:
        """The header a wait's span is recorded under (the origin, else the parent)."""
        return TraceHeader(self.root, self.origin or self.parent, self.sampled)


def parse_header(text: str | None) -> TraceHeader | None:
    """A header's parts; None for anything without a well-formed ``Root``."""
    if not text or not isinstance(text, str) or len(text) > 256:
        return None
    fields: dict[str, str] = {}
    for part in text.split(";"):
        key, _, value = part.strip().partition("=")
        fields[key] = value
    root = fields.get("Root", "")
    pieces = root.split("-")
    if len(pieces) != 3 or pieces[0] != "1" or len(pieces[1]) != 8 or len(pieces[2]) != 24:
        return None
    return TraceHeader(
        root,
        fields.get("Parent") or None,
        fields.get("Sampled", "1") != "0",
        fields.get("Origin") or None,
    )


def span_id() -> str:
    return secrets.token_hex(8)


def ambient(env: Mapping[str, str] = os.environ) -> TraceHeader | None:
    """The caller's own trace, when it runs under one (Lambda sets ``_X_AMZN_TRACE_ID``)."""
    return parse_header(env.get(AMBIENT_ENV))


@dataclass(frozen=True, slots=True)
class Span:
    """``start_ms``/``end_ms`` epoch ms; ``attrs`` small strings and numbers."""

    trace: str
    span: str
    parent: str | None
    name: str
    task_id: str
    start_ms: int
    end_ms: int
    attrs: dict[str, Any] = field(default_factory=dict)

    @property
    def duration_ms(self) -> int:
        return max(0, self.end_ms - self.start_ms)


class SpanRecorder(Protocol):
    def record(self, span: Span) -> None: ...

    def of_task(self, task_id: str) -> list[Span]: ...


class NoSpans:
    def record(self, span: Span) -> None:
        return None

    def of_task(self, task_id: str) -> list[Span]:
        return []


class MemorySpans:
    def __init__(self) -> None:
        self.spans: list[Span] = []
        self._lock = threading.Lock()

    def record(self, span: Span) -> None:
        with self._lock:
            self.spans.append(span)
            del self.spans[:-MAX_SPANS]

    def of_task(self, task_id: str) -> list[Span]:
        with self._lock:
            return sorted((s for s in self.spans if s.task_id == task_id), key=_order)


class FileSpans:
    """Spans appended as JSON lines to one file (several processes may append: each line
    is one ``write`` of under 4 KiB on an O_APPEND file). Every ``TRIM_EVERY`` records a
    process trims the file to its newest ``MAX_SPANS // 2`` lines (a span another process
    appends during the trim may be lost: this is the dev cloud's record, not an audit
    log). Never raises on record."""

    TRIM_EVERY = 1000

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        self._written = 0

    def record(self, span: Span) -> None:
        line = json.dumps(asdict(span), separators=(",", ":"), default=str) + "\n"
        try:
            with self._lock:
                with self.path.open("a", encoding="utf-8") as fh:
                    fh.write(line)
                self._written += 1
                if self._written % self.TRIM_EVERY == 0:
                    self._trim()
        except OSError:
            return

    def _trim(self) -> None:
        lines = self.path.read_text(encoding="utf-8").splitlines(keepends=True)
        if len(lines) <= MAX_SPANS:
            return
        spare = self.path.with_name(self.path.name + ".trim")
        spare.write_text("".join(lines[-(MAX_SPANS // 2) :]), encoding="utf-8")
        os.replace(spare, self.path)

    def of_task(self, task_id: str) -> list[Span]:
        try:
            lines = self.path.read_text(encoding="utf-8").splitlines()[-MAX_SPANS:]
        except OSError:
            return []
        out = []
        for line in lines:
            if task_id not in line:
                continue
            try:
                span = Span(**json.loads(line))
            except (ValueError, TypeError):
                continue
            if span.task_id == task_id:
                out.append(span)
        return sorted(out, key=_order)


def _order(span: Span) -> tuple[int, int]:
    return span.start_ms, span.end_ms


_recorder: SpanRecorder | None = None


def recorder() -> SpanRecorder:
    """The process's recorder: set by ``use``, else a ``FileSpans`` on ``CONVEYOR_SPANS``,
    else nothing recorded."""
    global _recorder
    if _recorder is None:
        path = os.environ.get(SPANS_ENV)
        _recorder = FileSpans(path) if path else NoSpans()
    return _recorder


def use(spans: SpanRecorder | None) -> None:
    """Set the process's recorder (None: read the environment again on next use)."""
    global _recorder
    _recorder = spans


def record(
    header: TraceHeader | None,
    name: str,
    task_id: str,
    start_ms: int,
    end_ms: int,
    *,
    span: str | None = None,
    **attrs: Any,
) -> str | None:
    """Record one span under ``header`` (its Parent is the span's parent); returns the
    span's id, or None when there is no trace. Never raises."""
    if header is None or not header.sampled:
        return None
    sid = span or span_id()
    try:
        recorder().record(
            Span(header.root, sid, header.parent, name, task_id, start_ms, end_ms, dict(attrs))
        )
    except Exception:  # a span is never worth a failed task
        return sid
    return sid


def task_root(task_id: str, created_ms: int) -> str:
    """The task's own trace ID, derived from its ID and creation time (epoch ms), so every
    sender of its message -- submit, a reconciler re-send, a repair of a re-submit, a
    redrive -- puts it in the same trace without having to store it."""
    digest = hashlib.sha256(task_id.encode()).hexdigest()
    return f"1-{created_ms // 1000:08x}-{digest[:24]}"


def admission_span(task_id: str) -> str:
    """The task's admission span ID (derived: every message of the task hangs under it)."""
    return hashlib.sha256(f"admission:{task_id}".encode()).hexdigest()[:16]


def caller_of(env: Mapping[str, str] = os.environ) -> str | None:
    """The submitter's sampled ambient trace, compactly (``<root>/<parent>``: 52 bytes) for
    ``TaskRecord.trace_parent``; None when it runs under none (or an unsampled one)."""
    caller = ambient(env)
    if caller is None or not caller.sampled or not caller.parent:
        return None
    return f"{caller.root}/{caller.parent}"


def _caller(trace_parent: str | None) -> TraceHeader | None:
    root, _, parent = (trace_parent or "").partition("/")
    header = parse_header(f"Root={root};Parent={parent}") if root and parent else None
    return header if header is not None and len(parent) == 16 else None


def task_trace(task_id: str, created_ms: int, trace_parent: str | None = None) -> TraceHeader:
    """Where the task's admission span hangs: the caller's span (``trace_parent``) or the
    root of the task's own derived trace."""
    return _caller(trace_parent) or TraceHeader(task_root(task_id, created_ms))


def message_header(task_id: str, created_ms: int, trace_parent: str | None = None) -> str:
    """The header every lane message of the task carries: its trace, under its admission."""
    under = task_trace(task_id, created_ms, trace_parent)
    return under.child(admission_span(task_id)).to_header()


def admission(
    task_id: str, created_ms: int, trace_parent: str | None = None
) -> tuple[TraceHeader, TraceHeader]:
    """``(under, message)`` for a new task: the admission span is recorded ``under`` the
    caller's trace (or the task's own root) and its (derived) id is the Parent the lane
    message carries."""
    under = task_trace(task_id, created_ms, trace_parent)
    return under, under.child(admission_span(task_id))

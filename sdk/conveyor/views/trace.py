"""One task's trace as rows for a waterfall: offset and length of each span. Pure."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ..tracing import Span


@dataclass(frozen=True, slots=True)
class TraceRow:
    """``left``/``width`` are percent of the trace's span of time (width at least 0.5)."""

    name: str
    offset_ms: int
    duration_ms: int
    left: float
    width: float
    parent: str | None
    detail: str


def trace_rows(spans: Sequence[Span]) -> list[TraceRow]:
    """Rows in start order; the parent is named by its span's name (or None)."""
    if not spans:
        return []
    start = min(s.start_ms for s in spans)
    total = max(1, max(s.end_ms for s in spans) - start)
    names = {s.span: s.name for s in spans}
    rows = []
    for s in sorted(spans, key=lambda x: (x.start_ms, x.end_ms)):
        detail = ", ".join(f"{k}={v}" for k, v in sorted(s.attrs.items()))
        rows.append(
            TraceRow(
                s.name,
                s.start_ms - start,
                s.duration_ms,
                round(100 * (s.start_ms - start) / total, 2),
                max(0.5, round(100 * s.duration_ms / total, 2)),
                names.get(s.parent or ""),
                detail,
            )
        )
    return rows

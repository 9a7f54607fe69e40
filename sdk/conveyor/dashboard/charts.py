"""Charts as inline SVG, rendered on the server. Pure: strings in, markup out.

No JavaScript chart library: each chart is a few shapes, so it ships inside the page
(htmx swaps it like any other fragment), works offline and without scripts, and a test
can read its numbers. Every chart has a ``<title>`` per mark for hover text.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from ..views.format import duration
from ..views.timeline import Segment

COLORS = {
    "queue": "#6c8ebf",
    "retry": "#d79b00",
    "run": "#82b366",
    "scheduled": "#b3b3b3",
    "bar": "#4a7bb7",
    "line": "#4a7bb7",
}


def sparkline(values: Sequence[int], *, width: int = 160, height: int = 28, label: str = "") -> str:
    """A line of ``values`` (oldest first), scaled to the largest; empty data draws a rule."""
    if not values:
        return f'<svg class="spark" width="{width}" height="{height}" role="img"></svg>'
    top = max(max(values), 1)
    step = width / max(len(values) - 1, 1)
    points = " ".join(
        f"{i * step:.1f},{height - 2 - (v / top) * (height - 4):.1f}" for i, v in enumerate(values)
    )
    return (
        f'<svg class="spark" width="{width}" height="{height}" role="img" '
        f'aria-label="{escape(label)}"><title>{escape(label)} (max {top})</title>'
        f'<polyline fill="none" stroke="{COLORS["line"]}" stroke-width="1.5" '
        f'points="{points}"/></svg>'
    )


def bars(
    values: Sequence[tuple[str, float]], *, width: int = 480, height: int = 90, unit: str = ""
) -> str:
    """Vertical bars, one per (label, value), e.g. tasks finished per minute."""
    if not values:
        return ""
    top = max(max(v for _, v in values), 1)
    slot = width / len(values)
    parts = [f'<svg class="bars" width="{width}" height="{height + 14}" role="img">']
    for i, (label, value) in enumerate(values):
        h = (value / top) * height
        parts.append(
            f'<rect x="{i * slot + 1:.1f}" y="{height - h:.1f}" width="{max(slot - 2, 1):.1f}" '
            f'height="{h:.1f}" fill="{COLORS["bar"]}"><title>{escape(label)}: '
            f"{value:g}{escape(unit)}</title></rect>"
        )
    parts.append(
        f'<text x="0" y="{height + 12}" class="axis">{escape(values[0][0])}</text>'
        f'<text x="{width}" y="{height + 12}" text-anchor="end" class="axis">'
        f"{escape(values[-1][0])}</text></svg>"
    )
    return "".join(parts)


def share_bars(rows: Sequence[tuple[str, float]], *, width: int = 240) -> list[str]:
    """One small horizontal bar per (name, fraction 0..1), as separate SVGs for table cells."""
    out = []
    for name, fraction in rows:
        w = max(0.0, min(1.0, fraction)) * width
        out.append(
            f'<svg class="share" width="{width}" height="10" role="img">'
            f"<title>{escape(name)}: {100 * fraction:.0f}%</title>"
            f'<rect width="{width}" height="10" fill="#eee"/>'
            f'<rect width="{w:.1f}" height="10" fill="{COLORS["bar"]}"/></svg>'
        )
    return out


def clocks(queue_ms: int, retry_ms: int, run_ms: int, *, width: int = 480) -> str:
    """The three clocks as one stacked bar (queue wait, retry wait, run time)."""
    total = queue_ms + retry_ms + run_ms
    parts = [f'<svg class="clocks" width="{width}" height="18" role="img">']
    x = 0.0
    for kind, value in (("queue", queue_ms), ("retry", retry_ms), ("run", run_ms)):
        w = (value / total) * width if total else 0.0
        parts.append(
            f'<rect class="clock-{kind}" x="{x:.1f}" width="{w:.1f}" height="18" '
            f'fill="{COLORS[kind]}"><title>{kind}: {duration(value)}</title></rect>'
        )
        x += w
    parts.append("</svg>")
    return "".join(parts)


def timeline(segments: Sequence[Segment], *, width: int = 640, row: int = 18) -> str:
    """A Gantt chart: one row per segment, placed on a shared time axis."""
    if not segments:
        return ""
    start = min(s.start_ms for s in segments)
    end = max(s.end_ms for s in segments)
    span = max(end - start, 1)
    label_w = 190
    plot = width - label_w
    height = row * len(segments) + 16
    parts = [f'<svg class="timeline" width="{width}" height="{height}" role="img">']
    for i, seg in enumerate(segments):
        x = label_w + (seg.start_ms - start) / span * plot
        w = max((seg.end_ms - seg.start_ms) / span * plot, 2.0)
        y = i * row
        text = f"{seg.label} ({duration(seg.end_ms - seg.start_ms)})"
        parts.append(
            f'<text x="0" y="{y + row - 5}" class="seg-label">{escape(seg.label)}</text>'
            f'<rect class="seg seg-{seg.kind}" x="{x:.1f}" y="{y + 2}" width="{w:.1f}" '
            f'height="{row - 4}" fill="{COLORS.get(seg.kind, "#999")}">'
            f"<title>{escape(text)}</title></rect>"
        )
    parts.append(
        f'<text x="{label_w}" y="{height - 2}" class="axis">0</text>'
        f'<text x="{width}" y="{height - 2}" text-anchor="end" class="axis">'
        f"{escape(duration(span))}</text></svg>"
    )
    return "".join(parts)

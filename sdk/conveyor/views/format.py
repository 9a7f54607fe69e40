"""Formatting for people: local times, durations, ages, byte sizes. Pure.

Times come in as epoch **milliseconds** (UTC), as in a task record; ``tz`` defaults to
the machine's local zone. ``None`` always formats as an em dash, never as 1970.
"""

from __future__ import annotations

from datetime import datetime, tzinfo

DASH = "\u2014"


def local_time(ms: int | None, tz: tzinfo | None = None, *, with_date: bool = True) -> str:
    """``2026-11-29 23:01:02.345 CET`` (or ``23:01:02.345 CET`` without the date)."""
    if ms is None:
        return DASH
    when = datetime.fromtimestamp(ms / 1000, tz) if tz else datetime.fromtimestamp(ms / 1000)
    when = when.astimezone(tz)
    text = when.strftime("%Y-%m-%d %H:%M:%S" if with_date else "%H:%M:%S")
    return f"{text}.{when.microsecond // 1000:03d} {when.tzname() or ''}".rstrip()


def short_time(ms: int | None, now_ms: int, tz: tzinfo | None = None) -> str:
    """``local_time`` without the date when ``ms`` falls on the same local day as now."""
    if ms is None:
        return DASH
    day = local_time(ms, tz)[:10]
    return local_time(ms, tz, with_date=day != local_time(now_ms, tz)[:10])


def duration(ms: float | None) -> str:
    """A duration in the largest two units that matter: 850 ms, 1.25 s, 2 m 05 s, 3 h 04 m,
    2 d 03 h. Negative durations (clock skew) show as 0 ms."""
    if ms is None:
        return DASH
    ms = max(0.0, float(ms))
    if ms < 1000:
        return f"{ms:.0f} ms"
    seconds = ms / 1000
    if seconds < 60:
        return f"{seconds:.2f} s" if seconds < 10 else f"{seconds:.1f} s"
    minutes, sec = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes} m {sec:02d} s"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours} h {minutes:02d} m"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours:02d} h"


def age(ms: int | None, now_ms: int) -> str:
    """How long ago ``ms`` was, e.g. ``12.0 s ago``; future times read ``in 3 m 00 s``."""
    if ms is None:
        return DASH
    delta = now_ms - ms
    return f"{duration(delta)} ago" if delta >= 0 else f"in {duration(-delta)}"


def size(n: int | None) -> str:
    """Bytes as 512 B, 1.5 KiB, 2.0 MiB."""
    if n is None:
        return DASH
    if n < 1024:
        return f"{n} B"
    if n < 1024 * 1024:
        return f"{n / 1024:.1f} KiB"
    return f"{n / (1024 * 1024):.1f} MiB"


def rate(per_minute: float | None) -> str:
    if per_minute is None:
        return DASH
    return f"{per_minute:.1f}/min" if per_minute < 100 else f"{per_minute:.0f}/min"


def percent(fraction: float | None) -> str:
    return DASH if fraction is None else f"{100 * fraction:.0f}%"

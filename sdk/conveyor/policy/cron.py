"""When a Scheduler expression fires: AWS ``cron()``/``rate()``/``at()`` to concrete times.

Pure (croniter does the calendar arithmetic; no clock is read). Times are timezone-aware;
cron fields are evaluated in the schedule's own time zone, so a daily 01:30 in
Europe/Paris stays 01:30 local across a DST change (its UTC instant moves by an hour).

AWS's grammar is converted to croniter's: day-of-week numbers 1-7 (SUN-SAT) become 0-6,
``?`` becomes ``*``, and the sixth field (year) filters the results. ``W`` and a
day-of-week ``L`` are valid AWS but not evaluated locally (a clear error says so); AWS
itself evaluates them in a deployment.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from ..errors import InvalidTiming
from .expressions import validate_at, validate_cron, validate_expression, validate_rate

_DAYS = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"]


def _dow(field: str, expr: str) -> str:
    if "W" in field.upper() or re.search(r"\dL|^L$", field):
        raise InvalidTiming(
            f"{expr}: 'W' and day-of-week 'L' are not evaluated by the "
            "dev cloud's schedule driver (AWS evaluates them when deployed)"
        )

    def shift(match: re.Match[str]) -> str:
        return str(int(match.group(0)) - 1)

    out = []
    for part in field.split(","):
        base, hash_, nth = part.partition("#")
        base = re.sub(r"(?<![/#])\b[1-7]\b", shift, base) if base not in ("*", "?") else "*"
        out.append(base + hash_ + nth)
    return ",".join(out)


def _years(field: str) -> set[int] | None:
    if field in ("*", "?"):
        return None
    years: set[int] = set()
    for part in field.split(","):
        base, _, step = part.partition("/")
        start, _, end = base.partition("-")
        first = 1970 if start == "*" else int(start)
        last = 2199 if start == "*" else int(end or start)
        years.update(range(first, last + 1, int(step or 1)))
    return years


def to_croniter(expr: str) -> tuple[str, set[int] | None]:
    """The 5-field croniter spec and the allowed years (None = any) of an AWS cron()."""
    minute, hour, dom, month, dow, year = validate_cron(expr)
    if "W" in dom.upper():
        raise InvalidTiming(f"{expr}: 'W' is not evaluated by the dev cloud's schedule driver")
    dom = "*" if dom == "?" else dom
    return " ".join((minute, hour, dom, month, _dow(dow, expr))), _years(year)


def fire_times(
    expression: str,
    timezone: str,
    after: datetime,
    until: datetime,
    *,
    anchor: datetime | None = None,
    limit: int = 10_000,
) -> list[datetime]:
    """Every firing in (after, until], timezone-aware, in order.

    ``anchor`` is when a ``rate()`` schedule started (its firings are anchor + k*period);
    it defaults to ``after``.
    """
    text = validate_expression(expression, allow_at=True)
    tz = ZoneInfo(timezone)
    if after.tzinfo is None or until.tzinfo is None:
        raise InvalidTiming("fire_times needs timezone-aware datetimes")
    if text.startswith("at("):
        when = validate_at(text).replace(tzinfo=tz)
        return [when] if after < when <= until else []
    if text.startswith("rate("):
        period = timedelta(seconds=validate_rate(text))
        start = anchor or after
        k = max(1, int((after - start) / period) + 1)
        out: list[datetime] = []
        while (when := start + k * period) <= until and len(out) < limit:
            if when > after:
                out.append(when)
            k += 1
        return out
    from croniter import croniter

    spec, years = to_croniter(text)
    iterator = croniter(spec, after.astimezone(tz))
    out = []
    while len(out) < limit:
        when = iterator.get_next(datetime)
        if when > until:
            break
        if years is None or when.year in years:
            out.append(when)
    return out

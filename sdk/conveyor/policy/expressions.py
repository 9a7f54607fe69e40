"""The EventBridge Scheduler expression grammar: ``cron()``, ``rate()`` and ``at()``.

AWS cron has six fields -- minutes, hours, day-of-month, month, day-of-week, year -- and
differs from Unix cron: day-of-week runs 1-7 = SUN-SAT, exactly one of day-of-month and
day-of-week must be ``?``, and ``L``, ``W`` and ``#`` have their Quartz meanings. moto
accepts any string, so this module is the only check before a schedule is stored.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from ..errors import InvalidTiming

_MONTHS = ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"]
_DAYS = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"]


@dataclass(frozen=True, slots=True)
class _Field:
    name: str
    low: int
    high: int
    names: tuple[str, ...] = ()
    specials: str = ""


_FIELDS = (
    _Field("minutes", 0, 59),
    _Field("hours", 0, 23),
    _Field("day-of-month", 1, 31, specials="?LW"),
    _Field("month", 1, 12, names=tuple(_MONTHS)),
    _Field("day-of-week", 1, 7, names=tuple(_DAYS), specials="?L#"),
    _Field("year", 1970, 2199),
)


def _value(token: str, spec: _Field, expr: str) -> int:
    if token.isdigit():
        number = int(token)
    elif token.upper() in spec.names:
        number = spec.names.index(token.upper()) + spec.low
    else:
        raise InvalidTiming(f"{expr}: {spec.name} value {token!r} is not a number or name")
    if not spec.low <= number <= spec.high:
        raise InvalidTiming(f"{expr}: {spec.name} value {number} is outside {spec.low}-{spec.high}")
    return number


def _check_field(text: str, spec: _Field, expr: str) -> None:
    if text in ("*", "?"):
        if text == "?" and "?" not in spec.specials:
            raise InvalidTiming(f"{expr}: '?' is only allowed in day-of-month or day-of-week")
        return
    for part in text.split(","):
        if not part:
            raise InvalidTiming(f"{expr}: empty list item in {spec.name}")
        if spec.name == "day-of-month" and (part in ("L", "LW") or re.fullmatch(r"\d+W", part)):
            if part.endswith("W") and part != "LW":
                _value(part[:-1], spec, expr)
            continue
        if spec.name == "day-of-week":
            if re.fullmatch(r"[A-Za-z0-9]+#[1-5]", part):
                _value(part.split("#")[0], spec, expr)
                continue
            if re.fullmatch(r"[A-Za-z0-9]*L", part):
                if part != "L":
                    _value(part[:-1], spec, expr)
                continue
        base, _, step = part.partition("/")
        if step and (not step.isdigit() or int(step) == 0):
            raise InvalidTiming(f"{expr}: step {step!r} in {spec.name} must be a positive number")
        if base == "*":
            continue
        start, dash, end = base.partition("-")
        first = _value(start, spec, expr)
        if dash:
            last = _value(end, spec, expr)
            if last < first and spec.name != "day-of-week":
                raise InvalidTiming(f"{expr}: range {base!r} in {spec.name} runs backwards")


def validate_cron(expr: str) -> tuple[str, ...]:
    """The six fields of a valid ``cron(...)`` expression; InvalidTiming otherwise."""
    match = re.fullmatch(r"cron\((.*)\)", expr.strip())
    if not match:
        raise InvalidTiming(f"{expr!r} is not of the form cron(min hour dom month dow year)")
    fields = tuple(match.group(1).split())
    if len(fields) != 6:
        raise InvalidTiming(
            f"{expr!r} has {len(fields)} fields; AWS cron has six: "
            "minutes hours day-of-month month day-of-week year (e.g. cron(0 2 * * ? *))"
        )
    for text, spec in zip(fields, _FIELDS, strict=True):
        _check_field(text, spec, expr)
    dom, dow = fields[2], fields[4]
    if (dom == "?") == (dow == "?"):
        raise InvalidTiming(
            f"{expr!r}: exactly one of day-of-month and day-of-week must be '?' "
            "(e.g. cron(0 9 ? * MON-FRI *) or cron(0 9 1 * ? *))"
        )
    return fields


_RATE_UNITS = {
    "minute": 60,
    "minutes": 60,
    "hour": 3600,
    "hours": 3600,
    "day": 86400,
    "days": 86400,
}


def validate_rate(expr: str) -> int:
    """Seconds between firings of a valid ``rate(...)``; InvalidTiming otherwise."""
    match = re.fullmatch(r"rate\((\d+) (\w+)\)", expr.strip())
    if not match:
        raise InvalidTiming(f"{expr!r} is not of the form rate(<n> minute|minutes|hour|...)")
    value, unit = int(match.group(1)), match.group(2)
    if unit not in _RATE_UNITS:
        raise InvalidTiming(f"{expr!r}: unit must be minute(s), hour(s) or day(s)")
    if value <= 0:
        raise InvalidTiming(f"{expr!r}: the value must be a positive whole number")
    if (value == 1) != (not unit.endswith("s")):
        raise InvalidTiming(
            f"{expr!r}: AWS wants the singular unit for 1 and the plural otherwise "
            "(rate(1 minute), rate(5 minutes))"
        )
    return value * _RATE_UNITS[unit]


def validate_at(expr: str) -> datetime:
    match = re.fullmatch(r"at\((\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})\)", expr.strip())
    if not match:
        raise InvalidTiming(f"{expr!r} is not of the form at(yyyy-mm-ddThh:mm:ss)")
    try:
        return datetime.fromisoformat(match.group(1))
    except ValueError as exc:
        raise InvalidTiming(f"{expr!r}: {exc}") from None


def validate_expression(expr: object, *, allow_at: bool = False) -> str:
    """Check a Scheduler expression; returns it stripped."""
    if not isinstance(expr, str) or not expr.strip():
        raise InvalidTiming(f"a schedule expression must be a non-empty string, got {expr!r}")
    text = expr.strip()
    if text.startswith("cron("):
        validate_cron(text)
    elif text.startswith("rate("):
        validate_rate(text)
    elif text.startswith("at(") and allow_at:
        validate_at(text)
    else:
        kinds = "cron(...), rate(...) or at(...)" if allow_at else "cron(...) or rate(...)"
        raise InvalidTiming(f"{expr!r} is not a schedule expression; use {kinds}")
    return text

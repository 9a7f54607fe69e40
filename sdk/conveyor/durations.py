"""Parsing of human durations ("90s", "15m", "1h", "7d") and rates ("50/s", "600/m").

Pure. Durations come out as float seconds, always > 0 unless ``allow_zero``.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import timedelta

_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0}
_DURATION_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)\s*$")
_RATE_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*/\s*(s|m|h|d)\s*$")


class DurationError(ValueError):
    """A duration or rate that cannot be parsed (callers wrap it in a typed error)."""


def parse_duration(value: object, *, allow_zero: bool = False) -> float:
    """Seconds from an int/float (seconds), a timedelta or a string like "15m"."""
    if isinstance(value, bool):
        raise DurationError(f"a duration cannot be a bool ({value!r})")
    if isinstance(value, timedelta):
        seconds = value.total_seconds()
    elif isinstance(value, (int, float)):
        seconds = float(value)
    elif isinstance(value, str):
        match = _DURATION_RE.match(value)
        if not match:
            raise DurationError(
                f"cannot read duration {value!r}: use a number of seconds or e.g. "
                "'500ms', '30s', '15m', '1h', '7d'"
            )
        seconds = float(match.group(1)) * _UNITS[match.group(2)]
    else:
        raise DurationError(f"a duration must be seconds, a timedelta or a string, got {value!r}")
    if math.isnan(seconds) or math.isinf(seconds):
        raise DurationError(f"duration {value!r} is not finite")
    if seconds < 0 or (seconds == 0 and not allow_zero):
        raise DurationError(f"duration {value!r} must be greater than zero")
    return seconds


@dataclass(frozen=True, slots=True)
class Rate:
    """``count`` events per ``per`` seconds; ``per_second`` is the token refill rate."""

    count: float
    per: float

    @property
    def per_second(self) -> float:
        return self.count / self.per

    def __str__(self) -> str:
        unit = {1.0: "s", 60.0: "m", 3600.0: "h", 86400.0: "d"}[self.per]
        return f"{self.count:g}/{unit}"


def parse_rate(value: object) -> Rate:
    if isinstance(value, Rate):
        return value
    if not isinstance(value, str):
        raise DurationError(f"a rate must be a string like '50/s', got {value!r}")
    match = _RATE_RE.match(value)
    if not match:
        raise DurationError(f"cannot read rate {value!r}: use e.g. '50/s', '600/m', '10/h'")
    count = float(match.group(1))
    if count <= 0:
        raise DurationError(f"rate {value!r} must be greater than zero")
    return Rate(count=count, per=_UNITS[match.group(2)])

"""Small pure statistics over task records: percentiles and rates. Times in ms."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

from ..model import TaskRecord


def percentile(values: Sequence[float], q: float) -> float | None:
    """The nearest-rank ``q`` percentile (0 < q <= 100); None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return float(ordered[rank - 1])


def finished_between(records: Iterable[TaskRecord], start_ms: int, end_ms: int) -> int:
    """How many records finished in ``[start_ms, end_ms)``."""
    return sum(
        1 for r in records if r.finished_at is not None and start_ms <= r.finished_at < end_ms
    )


def per_minute_series(
    records: Sequence[TaskRecord], now_ms: int, minutes: int
) -> list[tuple[int, int]]:
    """(minute start ms, tasks finished in it) for the last ``minutes`` whole minutes, the
    current partial minute last."""
    end = now_ms - now_ms % 60_000 + 60_000
    starts = [end - 60_000 * (minutes - i) for i in range(minutes)]
    counts = dict.fromkeys(starts, 0)
    for record in records:
        at = record.finished_at
        if at is None or at < starts[0] or at >= end:
            continue
        counts[at - (at - starts[0]) % 60_000] += 1
    return sorted(counts.items())

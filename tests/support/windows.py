"""Counting starts in sliding windows, to check a rate limit from records' start times."""

from __future__ import annotations


def most_starts(starts: list[float], window: float) -> int:
    """The most starts inside any window of ``window`` seconds (each start opens one)."""
    starts = sorted(starts)
    best, lo = 0, 0
    for hi, at in enumerate(starts):
        while at - starts[lo] >= window:
            lo += 1
        best = max(best, hi - lo + 1)
    return best

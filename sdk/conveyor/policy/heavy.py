"""Heavy-tenant detection with Sample-and-Hold (Estan & Varghese, SIGCOMM 2002). Pure.

Each unit of traffic (an admitted task, or an executor-second) of a key that is not yet
held is sampled with probability ``p``; once a key is held, every later unit of it is
counted. With a threshold of a share ``z`` of the traffic ``C`` expected per window and
an oversampling factor ``t``:

* ``p = t / (z * C)``, and about ``t / z`` entries are held (memory is bounded by
  ``max_entries`` besides: a full table samples no new keys);
* a key at the threshold is missed (never sampled in a window) with probability about
  ``exp(-t)``: 4.5e-5 at the default ``t = 10``;
* its count is short by the units before its first sample, geometric with mean ``1/p``
  (``1/t`` = 10% of the threshold at ``t = 10``); ``estimate`` adds that mean back.

Counts are kept in two tumbling windows of ``window`` seconds: a key is heavy when its
share of the current plus the previous window reaches ``threshold``, so a tenant that
turns heavy is seen within one window and one that stops is forgotten after two.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field


@dataclass
class SampleAndHold:
    """``threshold``: share of all units in (0, 1]; ``expected_units``: traffic expected
    per window (sets ``p``; a wrong guess changes memory and accuracy, not correctness);
    ``window``: seconds."""

    threshold: float
    expected_units: float
    rng: random.Random
    window: float = 5.0
    oversampling: float = 10.0
    max_entries: int = 4096
    _current: dict[str, float] = field(default_factory=dict)
    _previous: dict[str, float] = field(default_factory=dict)
    _total: float = 0.0
    _previous_total: float = 0.0
    _window_start: float | None = None
    dropped_samples: int = 0

    def __post_init__(self) -> None:
        if not 0 < self.threshold <= 1:
            raise ValueError("threshold must be a share in (0, 1]")
        if self.expected_units <= 0 or self.window <= 0 or self.oversampling <= 0:
            raise ValueError("expected_units, window and oversampling must be positive")

    @property
    def p(self) -> float:
        """Sampling probability per unit."""
        return min(1.0, self.oversampling / (self.threshold * self.expected_units))

    @property
    def miss_probability(self) -> float:
        """Chance that a key exactly at the threshold is never sampled in a window."""
        return math.exp(-self.p * self.threshold * self.expected_units)

    def _roll(self, now: float) -> None:
        if self._window_start is None:
            self._window_start = now
            return
        elapsed = now - self._window_start
        if elapsed < self.window:
            return
        if elapsed >= 2 * self.window:  # a whole window passed with no traffic
            self._previous, self._previous_total = {}, 0.0
        else:
            self._previous, self._previous_total = self._current, self._total
        self._current, self._total = {}, 0.0
        self._window_start = now - (elapsed % self.window)

    def observe(self, key: str, now: float, units: float = 1.0) -> None:
        """Count ``units`` (> 0) of ``key``'s traffic at time ``now`` (seconds)."""
        if units <= 0:
            return
        self._roll(now)
        self._total += units
        held = self._current.get(key)
        if held is None and key in self._previous:
            held = 0.0  # still held from the last window
        if held is not None:
            self._current[key] = held + units
            return
        # P(at least one of ``units`` units is sampled) = 1 - (1 - p)^units.
        if self.rng.random() < 1 - (1 - self.p) ** units:
            if len(self._current) + len(self._previous) >= self.max_entries:
                self.dropped_samples += 1
                return
            self._current[key] = units

    def estimate(self, key: str) -> float:
        """Units of ``key`` over the current and previous window (0 if never sampled)."""
        counted = self._current.get(key, 0.0) + self._previous.get(key, 0.0)
        return counted + 1 / self.p if counted else 0.0

    def heavy(self, now: float) -> dict[str, float]:
        """Keys whose estimated share of the last two windows reaches ``threshold``, with
        that share. The share is taken of the traffic seen, but of no less than
        ``expected_units``: when the whole system is quiet, nobody is heavy."""
        self._roll(now)
        total = max(self._total + self._previous_total, self.expected_units)
        out: dict[str, float] = {}
        for key in self._current.keys() | self._previous.keys():
            share = min(1.0, self.estimate(key) / total)
            if share >= self.threshold:
                out[key] = share
        return out

    @property
    def entries(self) -> int:
        return len(self._current.keys() | self._previous.keys())


__all__ = ["SampleAndHold"]

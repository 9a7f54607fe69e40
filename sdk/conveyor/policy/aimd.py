"""An AIMD concurrency window per executor target (a task type, or a shared ``resource``).

The window is how many calls to the target may be in flight.

* **Increase** (additive): each successful call adds ``increase / window``, so a window of
  W gains about ``increase`` per W successes (one round of calls) — only while the
  target has a backlog and is not app-limited (in flight >= window / 2, as in Netflix's
  concurrency-limits). In *slow start* (at first, and after the window fell to its
  minimum, or after an outage) each success adds 1 instead, doubling the window per
  round until the first throttle or its threshold, so a recovered downstream is used
  again within seconds.
* **Decrease** (multiplicative, ``window * decrease``): only when the throttled calls of
  the last ``period`` seconds pass BOTH ``min_throttles`` in number AND
  ``throttle_ratio`` of the calls then — the seed's rule against flapping on a stray
  429. The sliding window is then emptied and calls started before the decrease no
  longer count (one congestion event, one decrease), and growth pauses for
  ``cooldown`` seconds. After a run of ``2 * min_throttles`` throttles in a row (an
  outage), the first success starts slow start again up to 90% of the window the run
  began at, as TCP does after a timeout.
* **Pause**: after a throttle no new call starts for ``pause`` seconds, doubling with
  each throttle in a row up to ``max_pause`` (reset by a success), so a refusing
  downstream sees a few probes a second, not a stream of calls.

The window stays in [minimum, maximum] (the type's quota, when it has one, is the
maximum); ``changes`` keeps its recent history. Pure: ``now`` in seconds is passed in.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class AimdSpec:
    """Bounds and gains of one window (counts are calls in flight, times seconds)."""

    initial: float = 10.0
    minimum: float = 1.0
    maximum: float = 1000.0
    increase: float = 1.0
    decrease: float = 0.9
    period: float = 5.0
    min_throttles: int = 3
    throttle_ratio: float = 0.01
    cooldown: float = 1.0
    pause: float = 0.05
    max_pause: float = 2.0
    slow_start: bool = True

    def __post_init__(self) -> None:
        if not 1 <= self.minimum <= self.initial <= self.maximum:
            raise ValueError("need 1 <= minimum <= initial <= maximum")
        if not 0 < self.decrease < 1:
            raise ValueError("decrease must be in (0, 1)")
        if self.increase <= 0 or self.period <= 0 or self.min_throttles < 1:
            raise ValueError("increase and period must be > 0, min_throttles >= 1")
        if not 0 <= self.throttle_ratio <= 1:
            raise ValueError("throttle_ratio must be in [0, 1]")
        if not 0 <= self.pause <= self.max_pause:
            raise ValueError("need 0 <= pause <= max_pause")


@dataclass(frozen=True, slots=True)
class WindowChange:
    """The window moved from ``old`` to ``new`` at ``at`` because of ``why``."""

    at: float
    old: float
    new: float
    why: str


class AimdWindow:
    """One target's window. ``limit`` is the whole number of calls allowed in flight."""

    def __init__(self, spec: AimdSpec | None = None, *, history: int = 1000) -> None:
        self.spec = spec or AimdSpec()
        self.window = self.spec.initial
        self.slow = self.spec.slow_start
        self.threshold = self.spec.maximum
        self._decreased_at = float("-inf")
        self._streak_from = self.window
        self._calls: deque[tuple[float, bool]] = deque()
        self._throttles = 0
        self._in_a_row = 0
        self._quiet_until = float("-inf")
        self._paused_until = float("-inf")
        self._logged = self.window
        self.changes: deque[WindowChange] = deque(maxlen=history)

    @property
    def limit(self) -> int:
        return max(1, int(self.window))

    def admits(self, in_flight: int, now: float) -> bool:
        """May one more call start with ``in_flight`` calls out?"""
        limit = int(self.window)  # self.limit, inline: this is asked once per decision
        return in_flight < (limit if limit > 1 else 1) and now >= self._paused_until

    def paused_until(self) -> float:
        return self._paused_until

    def on_outcome(
        self,
        now: float,
        *,
        throttled: bool,
        in_flight: int,
        backlogged: bool,
        started: float | None = None,
    ) -> None:
        """Feed one finished call. ``in_flight`` counts calls still out (this one excluded);
        ``backlogged`` says whether work for this target is waiting; ``started`` is when
        the call began (a throttle of a call older than the last decrease only pauses)."""
        spec = self.spec
        if throttled and started is not None and started < self._decreased_at:
            self._pause(now)
            return
        self._calls.append((now, throttled))
        self._throttles += throttled
        horizon = now - spec.period
        while self._calls and self._calls[0][0] < horizon:
            self._throttles -= self._calls.popleft()[1]
        if throttled:
            self._throttled(now)
            return
        if self._in_a_row >= 2 * spec.min_throttles and spec.slow_start:
            self.slow = True
            self.threshold = max(self.window, self._streak_from * spec.decrease)
        self._in_a_row = 0
        if not backlogged or now < self._quiet_until or in_flight + 1 < self.window / 2:
            return
        step = 1.0 if self.slow else spec.increase / self.window
        grown = min(spec.maximum, self.window + step)
        if grown >= min(spec.maximum, self.threshold):
            self.slow = False
        self._set(now, grown, "slow start" if self.slow else "backlog")

    def _pause(self, now: float) -> None:
        self._in_a_row += 1
        if self._in_a_row == 1:
            self._streak_from = self.window
        pause = min(self.spec.max_pause, self.spec.pause * 2.0 ** min(self._in_a_row - 1, 30))
        self._paused_until = max(self._paused_until, now + pause)

    def _throttled(self, now: float) -> None:
        spec = self.spec
        if self.window > spec.minimum:
            self.slow = False
        self._pause(now)
        if self._throttles < spec.min_throttles:
            return
        if self._throttles < spec.throttle_ratio * len(self._calls):
            return
        shrunk = max(spec.minimum, self.window * spec.decrease)
        self._set(now, shrunk, "throttled")
        self._calls.clear()
        self._throttles = 0
        self._quiet_until = now + spec.cooldown
        self._decreased_at = now
        if shrunk <= spec.minimum and spec.slow_start:
            self.slow = True

    def _set(self, now: float, new: float, why: str) -> None:
        self.window = new
        # a change is recorded when the whole-number limit moves, and on every decrease
        if int(new) != int(self._logged) or why == "throttled":
            self.changes.append(WindowChange(now, self._logged, new, why))
            self._logged = new

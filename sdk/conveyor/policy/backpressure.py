"""Back-pressure aimed at the heavy tenant. Pure.

The dispatcher sees all traffic, so it computes the signal: the backlog is *overloaded*
when the oldest message is older than ``max_age`` seconds or the backlog would take
longer than ``max_drain`` seconds to drain at the observed rate; it stops being
overloaded only when both fall under ``release`` times those bounds (hysteresis). While
overloaded, admission refuses new tasks of the heavy tenants only, with a Retry-After;
quiet tenants are still admitted.

Tasks that Conveyor itself creates on a clock or an event (schedule firings, event
triggers, retries, redrives) are never refused: refusing them would lose them, since
their producer cannot retry. They queue as usual and are served in their tenant's fair
share. A signal older than ``max_staleness`` is ignored (admission fails open: a dead
dispatcher must not stop producers).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

#: Sources whose tasks are never refused.
NEVER_REFUSED = frozenset({"schedule", "event", "retry", "redrive"})


@dataclass(frozen=True)
class Backlog:
    """What the dispatcher sees: age of the oldest message (s), messages waiting, and
    the rate it finished tasks at recently (tasks/s)."""

    oldest_age: float
    depth: int
    drain_rate: float

    @property
    def drain_time(self) -> float:
        if self.depth <= 0:
            return 0.0
        return self.depth / self.drain_rate if self.drain_rate > 0 else math.inf


def _number(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise ValueError(f"not a number: {value!r}")
    number = float(value)
    if math.isnan(number):
        raise ValueError("not a number: NaN")
    return number


@dataclass(frozen=True)
class Signal:
    """Published by the dispatcher, read (cached) by admission. ``at`` in seconds."""

    at: float
    overloaded: bool
    heavy: Mapping[str, float] = field(default_factory=dict)
    retry_after: float = 0.0
    reason: str = ""

    def to_dict(self) -> dict[str, object]:
        return {
            "at": self.at,
            "overloaded": self.overloaded,
            "heavy": dict(self.heavy),
            "retry_after": self.retry_after,
            "reason": self.reason,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, object]) -> Signal:
        """Inverse of ``to_dict``; ValueError on anything malformed."""
        heavy = data.get("heavy") or {}
        if not isinstance(heavy, Mapping):
            raise ValueError("heavy must be a mapping")
        return cls(
            at=_number(data.get("at")),
            overloaded=bool(data.get("overloaded")),
            heavy={str(k): _number(v) for k, v in heavy.items()},
            retry_after=_number(data.get("retry_after") or 0),
            reason=str(data.get("reason") or ""),
        )


@dataclass(frozen=True)
class Refusal:
    tenant: str
    retry_after: float
    reason: str


@dataclass
class BackPressure:
    max_age: float = 120.0
    max_drain: float = 600.0
    release: float = 0.5
    min_retry_after: float = 1.0
    max_retry_after: float = 60.0
    overloaded: bool = False

    def signal(self, now: float, backlog: Backlog, heavy: Mapping[str, float]) -> Signal:
        age_over = backlog.oldest_age / self.max_age
        drain_over = backlog.drain_time / self.max_drain
        worst = max(age_over, drain_over)
        if worst >= 1:
            self.overloaded = True
        elif worst < self.release:
            self.overloaded = False
        if not self.overloaded:
            return Signal(now, False)
        excess = max(backlog.oldest_age - self.max_age, backlog.drain_time - self.max_drain)
        retry = min(self.max_retry_after, max(self.min_retry_after, excess))
        reason = (
            f"backlog overloaded: oldest task waits {backlog.oldest_age:.0f}s "
            f"(bound {self.max_age:.0f}s), drain time "
            + ("unbounded" if math.isinf(backlog.drain_time) else f"{backlog.drain_time:.0f}s")
            + f" (bound {self.max_drain:.0f}s)"
        )
        return Signal(now, True, dict(heavy), retry, reason)


def check(
    signal: Signal | None, tenant: str, source: str, now: float, max_staleness: float = 30.0
) -> Refusal | None:
    """Admission's verdict for one task: a Refusal for a heavy tenant's new task while
    the backlog is overloaded, else None."""
    if signal is None or source in NEVER_REFUSED or not signal.overloaded:
        return None
    if now - signal.at > max_staleness or tenant not in signal.heavy:
        return None
    share = signal.heavy[tenant]
    return Refusal(
        tenant,
        signal.retry_after,
        f"tenant {tenant!r} holds {share:.0%} of recent traffic; {signal.reason}",
    )


def combine(signals: Sequence[Signal]) -> Signal | None:
    """One signal from every dispatcher's: overloaded if any is, heavy tenants united
    (largest share kept), the longest Retry-After, the oldest time (so staleness is
    judged by the stalest reporter that says overloaded)."""
    hot = [s for s in signals if s.overloaded]
    if not signals:
        return None
    if not hot:
        return max(signals, key=lambda s: s.at)
    heavy: dict[str, float] = {}
    for s in hot:
        for tenant, part in s.heavy.items():
            heavy[tenant] = max(part, heavy.get(tenant, 0.0))
    worst = max(hot, key=lambda s: s.retry_after)
    return Signal(max(s.at for s in hot), True, heavy, worst.retry_after, worst.reason)


__all__ = ["NEVER_REFUSED", "BackPressure", "Backlog", "Refusal", "Signal", "check", "combine"]

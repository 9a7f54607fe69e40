"""Rate limits as GCRA (the generic cell rate algorithm): a token bucket kept as one number.

A limit of ``rate`` per second with ``burst`` lets through at most ``rate * W + burst``
events in any window of W seconds. Each key keeps one *theoretical arrival time* (TAT):
an event at ``now`` conforms when ``TAT - (burst - 1) / rate <= now``; taking it moves
TAT to ``max(TAT, now) + 1 / rate``. ``due(now)`` says when the next event conforms, so
a caller hides a message until then instead of polling. Pure: ``now`` is passed in
(seconds, any monotonic origin). Idle keys are forgotten (their state equals a fresh one).
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class RateSpec:
    """``rate`` events per second (> 0) with a ``burst`` of at most that many at once (>= 1)."""

    rate: float
    burst: float = 1.0

    def __post_init__(self) -> None:
        if not self.rate > 0:
            raise ValueError(f"rate must be > 0 per second, got {self.rate!r}")
        if not self.burst >= 1:
            raise ValueError(f"burst must be >= 1, got {self.burst!r}")


class Gcra:
    """One rate limit. ``due`` and ``take`` are O(1); state is one float."""

    __slots__ = ("interval", "spec", "tat", "tolerance")

    def __init__(self, spec: RateSpec) -> None:
        self.spec = spec
        self.interval = 1.0 / spec.rate
        self.tolerance = (spec.burst - 1.0) * self.interval
        self.tat = float("-inf")

    def due(self, now: float) -> float:
        """The earliest time (>= now) at which one more event conforms."""
        return max(now, self.tat - self.tolerance)

    def take(self, now: float) -> None:
        """Record one event at ``now`` (callers check ``due(now) <= now`` first)."""
        self.tat = max(self.tat, now) + self.interval

    def idle(self, now: float) -> bool:
        """True when the state is as good as new (a full bucket)."""
        return self.tat <= now


class RateLimits:
    """GCRA limits keyed by anything hashable (``("type", name)``, ``("tenant", id)``).

    Keys without a spec are unlimited. ``prune(now)`` drops full buckets, so memory grows
    with the keys that are rate-limited *right now*, not with every key ever seen.
    """

    def __init__(self) -> None:
        self._specs: dict[Hashable, RateSpec] = {}
        self._default: dict[str, RateSpec] = {}
        self._state: dict[Hashable, Gcra] = {}
        self.share = 1.0

    def scale(self, share: float) -> None:
        """Enforce ``share`` (0, 1] of every limit: each of N dispatchers takes 1/N of a
        global rate (burst scaled too, never under 1). Bucket state restarts full."""
        if not 0 < share <= 1:
            raise ValueError(f"share must be in (0, 1], got {share!r}")
        if share != self.share:
            self.share = share
            self._state.clear()

    def set(self, key: Hashable, spec: RateSpec | None) -> None:
        """Limit ``key`` (None removes the limit)."""
        if spec is None:
            self._specs.pop(key, None)
            self._state.pop(key, None)
        else:
            self._specs[key] = spec
            self._state.pop(key, None)

    def set_default(self, kind: str, spec: RateSpec | None) -> None:
        """A limit for every key ``(kind, x)`` that has none of its own."""
        if spec is None:
            self._default.pop(kind, None)
        else:
            self._default[kind] = spec

    def spec(self, key: Hashable) -> RateSpec | None:
        found = self._specs.get(key)
        if found is None and isinstance(key, tuple) and key:
            found = self._default.get(key[0])
        if found is None or self.share == 1.0:
            return found
        return RateSpec(found.rate * self.share, max(1.0, found.burst * self.share))

    def due(
        self, keys: tuple[Hashable, ...], now: float, ahead: tuple[int, ...] | None = None
    ) -> float:
        """When every key in ``keys`` conforms (``now`` if they all do). With ``ahead``,
        when it conforms after ``ahead[i]`` more events of key i are taken first (so a
        caller holding a queue can tell when its last message will be due)."""
        at = now
        if not ahead and not self._state:
            return at
        for index, key in enumerate(keys):
            state = self._state.get(key)
            extra = ahead[index] if ahead else 0
            if state is None:
                if not extra:
                    continue
                spec = self.spec(key)
                if spec is None:
                    continue
                state = Gcra(spec)
            tat = max(state.tat, now) + extra * state.interval
            at = max(at, tat - state.tolerance)
        return at

    def take(self, keys: tuple[Hashable, ...], now: float) -> None:
        for key in keys:
            state = self._state.get(key)
            if state is None:
                spec = self.spec(key)
                if spec is None:
                    continue
                state = self._state[key] = Gcra(spec)
            state.take(now)

    def due_for(self, task_type: str, tenant: str, now: float) -> float:
        """``due((("type", task_type), ("tenant", tenant)), now)``, the admission gate's
        question, answered without a loop or a lookup for keys nobody limits."""
        state = self._state
        if not state:
            return now
        at = now
        gcra = state.get(("type", task_type))
        if gcra is not None:
            tat = gcra.tat
            due = (now if now > tat else tat) - gcra.tolerance
            if due > at:
                at = due
        gcra = state.get(("tenant", tenant))
        if gcra is not None:
            tat = gcra.tat
            due = (now if now > tat else tat) - gcra.tolerance
            if due > at:
                at = due
        return at

    def take_for(self, task_type: str, tenant: str, now: float) -> None:
        """``take((("type", task_type), ("tenant", tenant)), now)``."""
        state, specs, default = self._state, self._specs, self._default
        for key in (("type", task_type), ("tenant", tenant)):
            gcra = state.get(key)
            if gcra is None:
                if key not in specs and key[0] not in default:
                    continue  # unlimited
                spec = self.spec(key)
                if spec is None:
                    continue
                gcra = state[key] = Gcra(spec)
            tat = gcra.tat
            gcra.tat = (now if now > tat else tat) + gcra.interval

    def prune(self, now: float) -> int:
        """Forget keys whose bucket is full again; returns how many were dropped."""
        idle = [k for k, s in self._state.items() if s.idle(now)]
        for key in idle:
            del self._state[key]
        return len(idle)

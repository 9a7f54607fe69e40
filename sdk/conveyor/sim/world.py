"""One simulated run: producers, lanes, one dispatcher strategy, executors, downstreams.

Everything random comes from ``random.Random`` streams seeded from ``seed`` (arrivals,
run times and policy jitter apart), so the same scenario, strategy and seed give the same
numbers. The strategy decides; the world moves messages and time and records what
happened in a ``Recorder``.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any, Protocol

from .lanes import Lane, Msg
from .loop import EventLoop
from .record import Recorder
from .spec import Downstream, Scenario, TenantGroup, TypeSpec, level


class Strategy(Protocol):
    name: str
    lanes: dict[str, Lane]

    def lane_of(self, msg: Msg) -> Lane: ...
    def submit(self, msg: Msg, now: float) -> float | None: ...
    def pull(self, now: float) -> None: ...
    def dispatch(self, now: float) -> None: ...
    def finished(self, msg: Msg, token: Any, now: float, run: float, throttled: bool) -> None: ...
    def windows(self) -> dict[str, float]: ...
    def held_count(self) -> int: ...


class _Downstream:
    __slots__ = ("area", "in_flight", "last", "spec")

    def __init__(self, spec: Downstream) -> None:
        self.spec = spec
        self.in_flight = 0
        self.area = 0.0
        self.last = 0.0

    def move(self, now: float, delta: int, warmup: float) -> None:
        start = max(self.last, warmup)
        if now > start:
            self.area += self.in_flight * (now - start)
        self.last = now
        self.in_flight += delta


class World:
    def __init__(
        self, scenario: Scenario, make: Callable[[World], Strategy], seed: int = 1
    ) -> None:
        self.scenario = scenario
        self.loop = EventLoop()
        self.seed = seed
        self.runs = random.Random(f"{seed}:runs")
        self.jitter = random.Random(f"{seed}:policy")
        self.types: dict[str, TypeSpec] = {t.name: t for t in scenario.types}
        self.downstreams = {d.name: _Downstream(d) for d in scenario.downstreams}
        self._group_of: dict[str, TenantGroup] = {}
        self.record = Recorder(scenario)
        self.strategy = make(self)
        self._ids = 0

    def weight_of(self, tenant: str) -> float:
        group = self._group_of.get(tenant)
        return group.weight if group else 1.0

    def tenant_rate(self, tenant: str) -> Any:
        group = self._group_of.get(tenant)
        return group.tenant_rate if group else None

    # -- producers --------------------------------------------------------------------

    def _produce(self, group: TenantGroup, peak: float, rng: random.Random) -> None:
        now = self.loop.now
        if rng.random() * peak <= level(group.profile, now):
            tenant = group.tenant(rng.randrange(group.count))
            self._group_of.setdefault(tenant, group)
            name = group.types[rng.randrange(len(group.types))]
            self._ids += 1
            msg = Msg(self._ids, tenant, group.label, name, self.types[name].priority, now)
            self.record.created(msg)
            self._submit(msg)
        rate = group.rate * group.count * peak
        self.loop.after(rng.expovariate(rate), self._produce, group, peak, rng)

    def _submit(self, msg: Msg) -> None:
        """A producer's submit: refused (429), it tries again after Retry-After seconds."""
        retry_after = self.strategy.submit(msg, self.loop.now)
        if retry_after is not None:
            self.loop.after(retry_after, self._submit, msg)

    # -- executors ----------------------------------------------------------------------

    def start(self, msg: Msg, token: Any, now: float) -> None:
        """Call the executor of ``msg`` now; its outcome comes back to the strategy."""
        spec = self.types[msg.task_type]
        down = self.downstreams.get(spec.resource or "")
        self.record.called(msg, now)
        if down is not None and down.in_flight >= down.spec.capacity_at(now):
            self.loop.after(down.spec.throttle_latency, self._done, msg, token, now, True)
            return
        if down is not None:
            down.move(now, +1, self.scenario.warmup)
        run = self.runs.expovariate(1.0 / spec.mean_run)
        self.loop.after(run, self._done, msg, token, now, False)

    def _done(self, msg: Msg, token: Any, started: float, throttled: bool) -> None:
        now = self.loop.now
        spec = self.types[msg.task_type]
        down = self.downstreams.get(spec.resource or "")
        if down is not None and not throttled:
            down.move(now, -1, self.scenario.warmup)
        self.record.finished(msg, started, now, throttled)
        self.strategy.finished(msg, token, now, now - started, throttled)
        if throttled:
            msg.throttles += 1
            backoff = min(30.0, 2.0 ** (msg.throttles - 1)) * (0.5 + 0.5 * self.jitter.random())
            self.strategy.lane_of(msg).send(msg, now + backoff)
        self.strategy.dispatch(now)

    # -- the run ------------------------------------------------------------------------

    def _tick(self) -> None:
        now = self.loop.now
        self.strategy.pull(now)
        self.strategy.dispatch(now)
        self.loop.after(self.scenario.poll, self._tick)

    def _sample(self) -> None:
        now = self.loop.now
        caps = {n: d.spec.capacity_at(now) for n, d in self.downstreams.items()}
        self.record.sample(now, self.strategy.windows(), caps)
        waiting = sum(map(len, self.strategy.lanes.values())) + self.strategy.held_count()
        self.record.backlog.append((now, waiting))
        self.loop.after(0.5, self._sample)

    def run(self) -> Recorder:
        for group in self.scenario.groups:
            peak = max([1.0, *(m for _, m in group.profile)])
            # one stream per group: removing a group leaves the others' arrivals alone
            rng = random.Random(f"{self.seed}:arrivals:{group.label}")
            first = rng.expovariate(group.rate * group.count * peak)
            self.loop.at(first, self._produce, group, peak, rng)
        self.loop.at(0.0, self._tick)
        self.loop.at(0.0, self._sample)
        self.loop.run(self.scenario.duration)
        end = self.scenario.duration
        for down in self.downstreams.values():
            down.move(end, 0, self.scenario.warmup)
        self.record.close(end, self.downstreams, self.strategy, self.loop.events)
        return self.record

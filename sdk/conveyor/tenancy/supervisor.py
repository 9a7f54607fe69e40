"""The dispatcher's eye on tenants: who is heavy, is the backlog overloaded, which heavy
tenant gets a pool lane. Runs on the dispatcher's control thread every ``interval`` s.

* ``observe(tenant, age)`` is called for every message the dispatcher receives: the
  tenant feeds Sample-and-Hold (``policy.heavy``; the receive stream mirrors what
  producers put in the lanes, while dispatches are already fair-shared) and ``age`` (s
  since the task was enqueued) the oldest-age estimate of the backlog's head.
* ``finished(n)`` counts settled tasks for the drain rate (an EWMA, tasks/s).
* ``holding(counts, oldest_age)``: what the dispatcher holds received but not started
  (its look-ahead, up to hundreds per lane, hidden in SQS while held) counts as backlog
  too: in the lane depths and in the oldest age, so a deep buffer does not hide a
  backlog's size or its head's age from back-pressure and the router.
* ``tick(lanes)`` reads the depth of the lanes this dispatcher serves, publishes its
  back-pressure signal with those depths (``ControlStore.put_signal``, 1 WRU), and runs
  the pool policy: splits are written with a versioned conditional write, and only the
  member that serves a routed lane merges, renews or releases that route (it alone sees
  the tenant's traffic there).

Cost per tick: one GetQueueAttributes per served lane, one UpdateItem, and with a pool
one consistent GetItem of the routes (plus a PutItem when something changes). While the
deployment is idle (nothing received, every lane empty, no route), a full tick runs only
every ``idle_interval`` seconds.
"""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Mapping, Sequence
from dataclasses import replace

from ..policy.backpressure import Backlog, BackPressure, Signal
from ..policy.heavy import SampleAndHold
from ..policy.pool import Merge, PoolPolicy, Release, Renew, Route, Split
from ..ports import Clock, ControlStore, Lanes
from ..topology import Topology

_log = logging.getLogger("conveyor")


class TenantSupervisor:
    def __init__(
        self,
        topology: Topology,
        lanes: Lanes,
        control: ControlStore,
        clock: Clock,
        member: str,
        *,
        rng: random.Random | None = None,
        detector: SampleAndHold | None = None,
        pool: PoolPolicy | None = None,
        pressure: BackPressure | None = None,
        interval: float = 2.0,
        idle_interval: float = 60.0,
    ) -> None:
        self.topology = topology
        self.lanes = lanes
        self.control = control
        self.clock = clock
        self.member = member
        self.detector = detector or SampleAndHold(
            threshold=0.2, expected_units=200, rng=rng or random.Random(), window=5.0
        )
        self.pool = pool or PoolPolicy(topology.pool_lanes)
        self.pressure = pressure or BackPressure()
        self.interval = interval
        #: While nothing arrives and every served lane was empty, a full tick (depth
        #: reads, publish, pool) runs only this often: an idle deployment of 28 lanes
        #: then reads 28 depths a minute instead of 14 a second.
        self.idle_interval = idle_interval
        self._seen = 0
        self._full_at: float | None = None
        self._depths: dict[str, int] = {}
        self._held: dict[str, int] = {}
        self.oldest_age = 0.0
        self.drain_rate = 0.0
        self.signal = Signal(0.0, False)
        self.routes: dict[str, Route] = {}
        self.errors = 0
        self._finished = 0
        self._last_tick: float | None = None
        self._lock = threading.Lock()

    def observe(self, tenant: str, age: float) -> None:
        now = self.clock.now()
        with self._lock:
            self.detector.observe(tenant, now)
            self.oldest_age = max(self.oldest_age, age)
            self._seen += 1

    def holding(self, counts: Mapping[str, int], oldest_age: float) -> None:
        """The dispatcher holds ``counts[lane]`` received messages, the oldest enqueued
        ``oldest_age`` seconds ago: part of the backlog at the next tick."""
        with self._lock:
            self._held = {lane: n for lane, n in counts.items() if n}
            self.oldest_age = max(self.oldest_age, oldest_age)

    def finished(self, n: int = 1) -> None:
        with self._lock:
            self._finished += n

    def quiet(self, now: float) -> bool:
        """Nothing received since the last tick, every served lane empty then, no route
        to look after, and the last full tick less than ``idle_interval`` ago."""
        with self._lock:
            idle = not self._seen and not self._finished and not any(self._depths.values())
        if not idle or self.routes or self.signal.overloaded or self._full_at is None:
            return False
        return now - self._full_at < self.idle_interval

    def tick(self, served: Sequence[str]) -> Signal:
        now = self.clock.now()
        if self.quiet(now):
            return self.signal
        self._full_at = now
        with self._lock:
            self._seen = 0
            elapsed = now - self._last_tick if self._last_tick is not None else self.interval
            self._last_tick = now
            rate = self._finished / max(elapsed, 1e-3)
            self.drain_rate = rate if self.drain_rate == 0 else 0.7 * self.drain_rate + 0.3 * rate
            self._finished = 0
            oldest, self.oldest_age = self.oldest_age, 0.0
            held = dict(self._held)
            heavy = self.detector.heavy(now)
        depths: dict[str, int] = {}
        for lane in served:
            try:
                depth = self.lanes.depth(lane)
                depths[lane] = depth.visible + depth.delayed + held.get(lane, 0)
            except Exception:
                self.errors += 1
                _log.warning("could not read the depth of %s", lane, exc_info=True)
        self._depths = depths
        backlog = Backlog(oldest, sum(depths.values()), self.drain_rate)
        self.signal = self.pressure.signal(now, backlog, heavy)
        try:
            self.control.put_signal(self.member, self.signal, depths)
        except Exception:
            self.errors += 1
            _log.warning("could not publish the back-pressure signal", exc_info=True)
        if self.topology.pool_lanes:
            self._pool(now, heavy, depths, set(served))
        return self.signal

    def _pool(
        self, now: float, heavy: dict[str, float], depths: dict[str, int], served: set[str]
    ) -> None:
        try:
            table = self.control.routes(consistent=True)
        except Exception:
            self.errors += 1
            _log.warning("could not read the pool routes", exc_info=True)
            return
        self.routes = dict(table.routes)
        pool_depths = {lane: depths[lane] for lane in self.topology.pool_lanes if lane in depths}
        routes = dict(table.routes)
        changed = False
        for decision in self.pool.decide(now, heavy, table.routes, pool_depths):
            if isinstance(decision, Split):
                routes[decision.tenant] = self.pool.new_route(decision, now, table.version + 1)
            elif table.routes[decision.tenant].lane not in served:
                continue  # that lane's owner decides
            elif isinstance(decision, Renew):
                route = routes[decision.tenant]
                routes[decision.tenant] = replace(route, expires_at=now + self.pool.ttl)
            elif isinstance(decision, Merge):
                routes[decision.tenant] = replace(routes[decision.tenant], draining=True)
            elif isinstance(decision, Release):
                del routes[decision.tenant]
            changed = True
            _log.info("pool: %s", decision)
        if not changed:
            return
        try:
            if self.control.put_routes(routes, table.version):
                self.routes = routes
        except Exception:
            self.errors += 1
            _log.warning("could not write the pool routes", exc_info=True)


__all__ = ["TenantSupervisor"]

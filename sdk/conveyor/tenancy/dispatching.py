"""The dispatcher's side of a multi-tenant deployment: lane leases and the supervisor,
ticked together on the service's control thread.

``tick()`` renews the leases every ``leaser.heartbeat`` seconds and runs the supervisor
(detection, back-pressure signal with lane depths, the pool) every ``supervisor.interval``
seconds; it returns the seconds until it is due again. The dispatcher pulls only the
lanes it ``serves``, feeds every received message to ``observe`` and every settled
attempt to ``finished``, and scales its share of global limits to ``share()``.
Rhythm and thresholds come from ``settings`` (by default the environment:
``TenancySettings.from_env``).
"""

from __future__ import annotations

import os
import random
import socket
import time
from collections.abc import Callable, Mapping

from ..envelope import Envelope
from ..policy.backpressure import BackPressure
from ..policy.heavy import SampleAndHold
from ..policy.pool import PoolPolicy
from ..ports import Clock, ControlStore, Lanes
from ..topology import Topology
from .leaser import LaneLeaser
from .settings import TenancySettings
from .supervisor import TenantSupervisor

#: Tasks per second the heavy-tenant detector expects (sets its sampling rate and the
#: least traffic a share is taken of: 200 tasks per default 5-s window).
EXPECTED_RATE = 40.0


def member_id() -> str:
    """This process's name among the dispatchers: ``CONVEYOR_MEMBER``, else host-pid."""
    return os.environ.get("CONVEYOR_MEMBER") or f"{socket.gethostname()}-{os.getpid()}"


class DispatcherTenancy:
    def __init__(
        self,
        topology: Topology,
        lanes: Lanes,
        control: ControlStore,
        clock: Clock,
        *,
        member: str | None = None,
        rng: random.Random | None = None,
        on_release: Callable[[str], None] | None = None,
        leaser: LaneLeaser | None = None,
        supervisor: TenantSupervisor | None = None,
        settings: TenancySettings | None = None,
    ) -> None:
        self.member = member or member_id()
        self.clock = clock
        s = self.settings = settings or TenancySettings.from_env()
        self.leaser = leaser or LaneLeaser(
            control,
            self.member,
            topology.lanes,
            clock,
            lease=s.lease,
            heartbeat=s.heartbeat,
            margin=s.margin,
            on_release=on_release,
        )
        rng = rng or random.Random()
        self.supervisor = supervisor or TenantSupervisor(
            topology,
            lanes,
            control,
            clock,
            self.member,
            rng=rng,
            detector=SampleAndHold(
                threshold=0.2,
                expected_units=EXPECTED_RATE * s.heavy_window,
                rng=rng,
                window=s.heavy_window,
            ),
            pool=PoolPolicy(topology.pool_lanes, hot_for=s.hot_for, cool_for=s.cool_for),
            pressure=BackPressure(max_age=s.max_age),
            interval=s.supervise,
        )
        self._next_lease = float("-inf")
        self._next_watch = float("-inf")

    def tick(self) -> float:
        now = time.monotonic()
        if now >= self._next_lease:
            self._next_lease = now + self.leaser.heartbeat
            self.leaser.tick()
        if now >= self._next_watch:
            self._next_watch = now + self.supervisor.interval
            self.supervisor.tick(self.leaser.owned)
        return max(0.05, min(self._next_lease, self._next_watch) - time.monotonic())

    def serves(self, lane: str) -> bool:
        return self.leaser.owns(lane)

    def observe(self, env: Envelope) -> None:
        age = max(0.0, self.clock.now() - env.enqueued_at / 1000)
        self.supervisor.observe(env.tenant, age)

    def holding(self, counts: Mapping[str, int], oldest_enqueued_ms: int | None) -> None:
        """Messages held per lane and the oldest one's enqueue time (epoch ms)."""
        now = self.clock.now()
        age = 0.0 if oldest_enqueued_ms is None else max(0.0, now - oldest_enqueued_ms / 1000)
        self.supervisor.holding(counts, age)

    def finished(self, n: int = 1) -> None:
        self.supervisor.finished(n)

    def share(self) -> float:
        return self.leaser.share()

    def leave(self) -> None:
        self.leaser.leave()


__all__ = ["DispatcherTenancy", "member_id"]

"""Lane leases for several dispatchers (``policy.leases``, ``ControlStore``).

Every ``heartbeat`` seconds ``tick()`` renews this member's heartbeat, works out which
lanes it should hold among the live members (rendezvous hashing), takes or renews those
leases (each ``lease`` seconds long) and gives up the others. ``owns(lane)`` is true only
while the lease is held with ``margin`` seconds to spare, so a member that cannot renew
(an AWS outage, a pause) stops pulling before anyone else may take the lane over.

Takeover time after a member dies: at most ``lease`` + ``heartbeat`` seconds (30 + 10
by default). Cost: one heartbeat and one conditional PutItem per held lane per
``heartbeat`` (1 WRU each), one members read (1 RRU): for 24 lanes about $0.14/day.
Every call may fail; a failure is logged and the next tick tries again.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable, Sequence

from ..policy.leases import desired_lanes, live, share
from ..ports import Clock, ControlStore

_log = logging.getLogger("conveyor")


class LaneLeaser:
    def __init__(
        self,
        control: ControlStore,
        member: str,
        lanes: Sequence[str],
        clock: Clock,
        *,
        lease: float = 30.0,
        heartbeat: float = 10.0,
        margin: float = 5.0,
        on_release: Callable[[str], None] | None = None,
    ) -> None:
        if not 0 < heartbeat < lease - margin:
            raise ValueError("need 0 < heartbeat < lease - margin")
        self.control = control
        self.member = member
        self.lanes = list(lanes)
        self.clock = clock
        self.lease = lease
        self.heartbeat = heartbeat
        self.margin = margin
        self.on_release = on_release
        self.until: dict[str, float] = {}
        self.members: list[str] = [member]
        self._seen: deque[list[str]] = deque(maxlen=3)
        self.errors = 0

    def owns(self, lane: str) -> bool:
        return self.clock.now() < self.until.get(lane, float("-inf")) - self.margin

    @property
    def owned(self) -> list[str]:
        return [lane for lane in self.lanes if self.owns(lane)]

    def share(self) -> float:
        """This member's share of global limits (see ``policy.leases.share``)."""
        return share(self._seen)

    def tick(self) -> None:
        now = self.clock.now()
        try:
            self.control.heartbeat(self.member, now + self.lease)
            self.members = live(self.control.members(), now) or [self.member]
        except Exception:
            self.errors += 1
            _log.warning("lease heartbeat failed; keeping current leases", exc_info=True)
            return
        self._seen.append(self.members)
        desired = set(desired_lanes(self.member, self.members, self.lanes))
        for lane in self.lanes:
            try:
                if lane in desired:
                    if self.control.acquire(lane, self.member, now, now + self.lease):
                        self.until[lane] = now + self.lease
                    else:
                        self.until.pop(lane, None)
                elif lane in self.until:
                    self.until.pop(lane)
                    if self.on_release is not None:
                        self.on_release(lane)
                    self.control.release(lane, self.member)
            except Exception:
                self.errors += 1
                _log.warning("lease of %s failed; retrying next tick", lane, exc_info=True)

    def leave(self) -> None:
        """Give every lane up at once (on SIGTERM), so others take over without waiting."""
        for lane in list(self.until):
            self.until.pop(lane)
            try:
                if self.on_release is not None:
                    self.on_release(lane)
                self.control.release(lane, self.member)
            except Exception:
                _log.warning("could not release %s", lane, exc_info=True)
        try:
            self.control.leave(self.member)
        except Exception:
            _log.warning("could not leave the member list", exc_info=True)


__all__ = ["LaneLeaser"]

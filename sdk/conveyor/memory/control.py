"""MemoryControl: the in-memory twin of ``aws.control.DynamoControl`` (same contract)."""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence

from ..policy.backpressure import Signal, combine
from ..policy.pool import Route
from ..ports import ControlView, RouteTable


class MemoryControl:
    def __init__(self) -> None:
        self._routes = RouteTable(0, {})
        self._members: dict[str, float] = {}
        self._signals: dict[str, tuple[Signal, dict[str, int]]] = {}
        self._leases: dict[str, tuple[str, float]] = {}
        self._lock = threading.Lock()

    def routes(self, consistent: bool = False) -> RouteTable:
        with self._lock:
            return self._routes

    def put_routes(self, routes: Mapping[str, Route], expect_version: int) -> bool:
        with self._lock:
            if self._routes.version != expect_version:
                return False
            self._routes = RouteTable(expect_version + 1, dict(routes))
            return True

    def heartbeat(self, member: str, until: float) -> None:
        with self._lock:
            self._members[member] = until

    def leave(self, member: str) -> None:
        with self._lock:
            self._members.pop(member, None)
            self._signals.pop(member, None)

    def members(self) -> dict[str, float]:
        with self._lock:
            return dict(self._members)

    def put_signal(
        self, member: str, signal: Signal, depths: Mapping[str, int] | None = None
    ) -> None:
        with self._lock:
            self._signals[member] = (signal, dict(depths or {}))

    def view(self) -> ControlView:
        with self._lock:
            depths: dict[str, int] = {}
            for _, part in self._signals.values():
                depths.update(part)
            return ControlView(combine([s for s, _ in self._signals.values()]), depths)

    def signal(self) -> Signal | None:
        return self.view().signal

    def acquire(self, lane: str, member: str, now: float, until: float) -> bool:
        with self._lock:
            held = self._leases.get(lane)
            if held is not None and held[1] >= now and held[0] != member:
                return False
            self._leases[lane] = (member, until)
            return True

    def release(self, lane: str, member: str) -> None:
        with self._lock:
            if self._leases.get(lane, ("", 0.0))[0] == member:
                del self._leases[lane]

    def leases(self, lanes: Sequence[str]) -> dict[str, tuple[str, float]]:
        with self._lock:
            return {lane: self._leases[lane] for lane in lanes if lane in self._leases}


__all__ = ["MemoryControl"]

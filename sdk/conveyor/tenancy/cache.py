"""A per-process cache of the control plane, so producers pay a read per period, not per
task.

Two small GetItems (routes; signal and depths) at most every ``max_age`` seconds, both
eventually consistent (0.5 RRU each): about $0.004 a day per producer process at the
default 2 s. A failed read keeps the last view (and counts the failure): routing falls
back to the shards and admission fails open, so a control-plane outage never stops
producers.
"""

from __future__ import annotations

import logging
import threading

from ..ports import Clock, ControlStore, ControlView, RouteTable

_log = logging.getLogger("conveyor")


class CachedControl:
    def __init__(self, control: ControlStore, clock: Clock, max_age: float = 2.0) -> None:
        self.control = control
        self.clock = clock
        self.max_age = max_age
        self.failures = 0
        self._routes = RouteTable(0, {})
        self._view = ControlView(None, {})
        self._at = float("-inf")
        self._lock = threading.Lock()

    def _refresh(self) -> None:
        now = self.clock.now()
        with self._lock:
            if now - self._at < self.max_age:
                return
            self._at = now
        try:
            routes, view = self.control.routes(), self.control.view()
        except Exception:
            self.failures += 1
            _log.warning("could not read the control plane; using the last view", exc_info=True)
            return
        with self._lock:
            self._routes, self._view = routes, view

    def routes(self) -> RouteTable:
        self._refresh()
        return self._routes

    def view(self) -> ControlView:
        self._refresh()
        return self._view


__all__ = ["CachedControl"]

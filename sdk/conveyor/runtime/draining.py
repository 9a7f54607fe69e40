"""Running a dispatcher: draining it (tests, the demo), settling what runs when it stops,
and serving (``run``) with its reconciler (a mixin of ``Dispatcher``)."""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING

from aws_lambda_powertools import Logger

from ..catalog import Catalog
from ..ports import Clock, Lanes, TaskStore
from ..topology import Topology
from .intake import Held
from .reconciler import Reconciler, ReconcileStore

if TYPE_CHECKING:
    from .dispatcher import _Running

logger = Logger(service="conveyor-dispatcher")


class Draining:
    """``drain``, ``settle_running``, and the reconciler the service runs."""

    catalog: Catalog
    topology: Topology
    lanes: Lanes
    store: TaskStore
    clock: Clock
    reconcile_every: float | None
    buffers: dict[str, deque[Held]]
    running: list[_Running]
    _lock: threading.RLock
    #: The dispatcher's own passes, and ``HeldMessages._release``.
    step: Callable[[], int]
    collect: Callable[[], int]
    flush: Callable[[], bool]
    _release: Callable[[str, list[Held]], None]

    def lanes_empty(self) -> bool:
        """No message visible, in flight or delayed on any lane (a few depth reads)."""
        for lane in self.topology.lanes:
            depth = self.lanes.depth(lane)
            if depth.visible or depth.in_flight or depth.delayed:
                return False
        return True

    def drain(self, *, idle_passes: int = 3, timeout: float = 60.0) -> bool:
        """Step until the lanes are empty and nothing runs, for ``idle_passes`` passes in a
        row, or ``timeout`` seconds pass. Returns True when drained."""
        idle, deadline = 0, time.monotonic() + timeout
        while time.monotonic() < deadline:
            busy = self.step() or self.running or any(self.buffers.values())
            if not busy:
                busy = not self.lanes_empty()
            idle = 0 if busy else idle + 1
            if idle >= idle_passes:
                return True
            if not self.running:
                time.sleep(0.05)
        self.settle_running()
        return False

    def settle_running(self, timeout: float = 60.0) -> None:
        """Wait for attempts in flight, apply their outcomes, release buffered messages."""
        deadline = time.monotonic() + timeout
        while self.running and time.monotonic() < deadline:
            self.collect()
            time.sleep(0.01)
        with self._lock:
            for lane, buffer in self.buffers.items():
                if buffer:
                    self._release(lane, list(buffer))
        self.flush()

    def reconciler(self) -> Reconciler | None:
        """The reconciler this service runs, or None (turned off, or a store without the
        reconciler's queries)."""
        if self.reconcile_every is None:
            return None
        if not isinstance(self.store, ReconcileStore):
            logger.warning("this task store cannot be reconciled; no reconciler runs")
            return None
        return Reconciler(
            self.catalog,
            self.topology,
            self.store,
            self.lanes,
            clock=self.clock,
            interval=self.reconcile_every,
        )

"""The dispatcher service loop: what ``Dispatcher.run`` runs until told to stop.

One long-polling puller thread per lane feeds ``Dispatcher.ingest``; the main loop
dispatches, collects finished attempts and flushes the outbox at 10 pending or every
``flush_every`` seconds; a reconciler thread (if given) repairs what crashes strand; in a
multi-tenant deployment a tenancy thread keeps the lane leases and the supervisor going,
and pullers skip the lanes another dispatcher holds.
An idle service costs a few receives a minute per lane.

No loop here dies of an exception: each logs it and backs off (0.5 s doubling to
``MAX_BACKOFF``), then carries on; a successful pass resets the backoff. Sends the
outbox could not make stay queued and are retried after the backoff.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from aws_lambda_powertools import Logger

from .dispatch_metrics import DispatcherMetrics

if TYPE_CHECKING:
    from .dispatcher import Dispatcher

logger = Logger(service="conveyor-dispatcher")
#: Longest wait after repeated failures, seconds.
MAX_BACKOFF = 30.0


class Backoff:
    """Seconds to wait after ``failures`` failures in a row: 0.5 doubling to a cap."""

    def __init__(self, cap: float = MAX_BACKOFF) -> None:
        self.cap = cap
        self.failures = 0

    def failed(self) -> float:
        self.failures += 1
        return min(self.cap, 0.5 * 2.0 ** (self.failures - 1))

    def succeeded(self) -> None:
        self.failures = 0


def forever(
    name: str, stop: threading.Event, body: Callable[[], float], *, cap: float = MAX_BACKOFF
) -> None:
    """Call ``body`` until ``stop`` is set; it returns the seconds to wait before the
    next call. An exception is logged and followed by a backoff, never propagated."""
    backoff = Backoff(cap)
    while not stop.is_set():
        try:
            wait = body()
            backoff.succeeded()
        except Exception:
            logger.exception(f"{name} failed; backing off")
            wait = backoff.failed()
        if wait > 0:
            stop.wait(wait)


def serve(
    dispatcher: Dispatcher,
    stop: threading.Event,
    *,
    wait_seconds: int = 20,
    reconcile: Callable[[], float] | None = None,
) -> None:
    """Serve until ``stop`` is set, then settle what is running. ``reconcile`` runs on
    its own thread and returns the seconds until its next pass."""

    metrics = DispatcherMetrics.attach(dispatcher, stop, reconcile)  # EMF every minute

    def pull(lane: str) -> float:
        if not dispatcher.serves(lane):
            return 1.0  # another dispatcher holds its lease
        room = dispatcher.room(lane)  # 0..10: the lane's depth, the total look-ahead
        if room <= 0:
            return 0.05
        messages = dispatcher.lanes.receive(lane, max_messages=room, wait_seconds=wait_seconds)
        metrics.received(lane, messages)
        dispatcher.ingest(lane, messages)
        if 0 < len(messages) < room:  # a trickle: let the next batch fill
            return dispatcher.fill_seconds
        return 0.0

    threads = [
        threading.Thread(
            target=forever,
            args=(f"pull {lane}", stop, lambda lane=lane: pull(lane)),
            daemon=True,
            name=f"pull-{lane}",
        )
        for lane in dispatcher.topology.lanes
    ]
    if dispatcher.tenancy is not None:
        threads.append(
            threading.Thread(
                target=forever,
                args=("tenancy", stop, dispatcher.tenancy_tick),
                daemon=True,
                name="tenancy",
            )
        )
    if reconcile is not None:
        threads.append(
            threading.Thread(
                target=forever, args=("reconcile", stop, reconcile), daemon=True, name="reconcile"
            )
        )
    for thread in threads:
        thread.start()
    next_flush = 0.0
    flush_backoff = Backoff()

    def dispatch_pass() -> float:
        nonlocal next_flush
        dispatcher.dispatch()
        dispatcher.collect()
        now = time.monotonic()
        pending = dispatcher.pending()
        due = pending >= 10 or dispatcher.outbox.urgent()
        if now >= next_flush or (due and not flush_backoff.failures):
            if pending and not dispatcher.flush():
                next_flush = now + flush_backoff.failed()
            else:
                flush_backoff.succeeded()
                next_flush = now + dispatcher.flush_every
        return 0.02

    forever("dispatch pass", stop, dispatch_pass)
    for thread in threads:
        thread.join(timeout=wait_seconds + 5)
    dispatcher.settle_running()
    if dispatcher.tenancy is not None:
        dispatcher.tenancy.leave()  # others take the lanes over at once
    if metrics.thread is not None:
        metrics.thread.join(timeout=10)  # its last report (started when stop was set)

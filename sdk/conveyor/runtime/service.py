"""The dispatcher service loop: what ``Dispatcher.run`` runs until told to stop.

One long-polling puller thread per lane feeds ``Dispatcher.ingest``; the main loop
dispatches, collects finished attempts and flushes the outbox at 10 pending or every
``flush_every`` seconds. An idle service costs a few receives a minute per lane.
"""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING

from aws_lambda_powertools import Logger

if TYPE_CHECKING:
    from .dispatcher import Dispatcher

logger = Logger(service="conveyor-dispatcher")


def serve(dispatcher: Dispatcher, stop: threading.Event, *, wait_seconds: int = 20) -> None:
    """Serve until ``stop`` is set, then settle what is running."""

    def pull(lane: str) -> None:
        while not stop.is_set():
            with dispatcher._lock:
                room = min(
                    dispatcher.buffer_per_lane - len(dispatcher.buffers[lane]),
                    dispatcher._capacity(),
                )
            if room <= 0:
                stop.wait(0.05)
                continue
            try:
                messages = dispatcher.lanes.receive(
                    lane, max_messages=min(10, room), wait_seconds=wait_seconds
                )
            except Exception:
                logger.exception("receive failed", extra={"lane": lane})
                stop.wait(1.0)
                continue
            dispatcher.ingest(lane, messages)

    threads = [
        threading.Thread(target=pull, args=(lane,), daemon=True, name=f"pull-{lane}")
        for lane in dispatcher.topology.lanes
    ]
    for thread in threads:
        thread.start()
    last_flush = time.monotonic()
    while not stop.is_set():
        try:
            dispatcher.dispatch()
            dispatcher.collect()
            now = time.monotonic()
            if dispatcher.pending() >= 10 or now - last_flush >= dispatcher.flush_every:
                dispatcher.flush()
                last_flush = now
        except Exception:
            logger.exception("dispatch pass failed")
        stop.wait(0.02)
    for thread in threads:
        thread.join(timeout=wait_seconds + 5)
    dispatcher.settle_running()

"""In-memory Lanes: visibility timeouts, delays and receive counts like SQS standard queues.

Time comes from an injected clock, so tests can move it instead of sleeping.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Sequence
from dataclasses import dataclass

from ..ports import Clock, Depth, InMessage, OutMessage, SystemClock


@dataclass
class _Stored:
    message_id: str
    body: str
    attributes: dict[str, str]
    sent_at: float
    visible_at: float
    receive_count: int = 0
    receipt: str = ""


class MemoryLanes:
    def __init__(
        self, clock: Clock | None = None, *, visibility: int = 30, queues: Sequence[str] = ()
    ) -> None:
        self.clock = clock or SystemClock()
        self.visibility = visibility
        self.queues: dict[str, list[_Stored]] = {q: [] for q in queues}
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self.auto_create = not queues

    def _queue(self, name: str) -> list[_Stored]:
        if name not in self.queues:
            if not self.auto_create:
                raise KeyError(f"no queue {name!r}")
            self.queues[name] = []
        return self.queues[name]

    def send(self, queue: str, messages: Sequence[OutMessage]) -> list[str]:
        now = self.clock.now()
        with self._lock:
            q = self._queue(queue)
            for msg in messages:
                q.append(
                    _Stored(
                        f"m-{next(self._ids)}", msg.body, dict(msg.attributes), now, now + msg.delay
                    )
                )
        return []

    def receive(
        self,
        queue: str,
        *,
        max_messages: int = 10,
        wait_seconds: int = 0,
        visibility: int | None = None,
    ) -> list[InMessage]:
        now = self.clock.now()
        out: list[InMessage] = []
        with self._lock:
            for stored in self._queue(queue):
                if len(out) >= max_messages:
                    break
                if stored.visible_at > now:
                    continue
                stored.receive_count += 1
                stored.receipt = f"{stored.message_id}#{stored.receive_count}"
                stored.visible_at = now + (self.visibility if visibility is None else visibility)
                out.append(
                    InMessage(
                        stored.message_id,
                        stored.receipt,
                        stored.body,
                        stored.receive_count,
                        int(stored.sent_at * 1000),
                        dict(stored.attributes),
                    )
                )
        return out

    def delete(self, queue: str, receipts: Sequence[str]) -> None:
        wanted = set(receipts)
        with self._lock:
            q = self._queue(queue)
            q[:] = [s for s in q if s.receipt not in wanted]

    def change_visibility(self, queue: str, receipt: str, seconds: int) -> None:
        now = self.clock.now()
        with self._lock:
            for stored in self._queue(queue):
                if stored.receipt == receipt:
                    stored.visible_at = now + seconds
                    return
        raise KeyError(f"receipt {receipt!r} is not in flight on {queue!r}")

    def change_visibility_batch(self, queue: str, entries: Sequence[tuple[str, int]]) -> list[str]:
        now = self.clock.now()
        failed: list[str] = []
        with self._lock:
            by_receipt = {s.receipt: s for s in self._queue(queue) if s.receipt}
            for receipt, seconds in entries:
                stored = by_receipt.get(receipt)
                if stored is None:
                    failed.append(receipt)
                else:
                    stored.visible_at = now + seconds
        return failed

    def depth(self, queue: str) -> Depth:
        now = self.clock.now()
        with self._lock:
            q = self._queue(queue)
            visible = sum(1 for s in q if s.visible_at <= now)
            in_flight = sum(1 for s in q if s.visible_at > now and s.receive_count > 0)
            delayed = sum(1 for s in q if s.visible_at > now and s.receive_count == 0)
        return Depth(visible, in_flight, delayed)

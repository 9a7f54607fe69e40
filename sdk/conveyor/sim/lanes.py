"""SQS-like lanes: messages become visible at a time, are received in batches of up to 10
in (visible-at, send) order, stay hidden while the dispatcher holds them, and come back
when it hides them again for some seconds. Every receive call is counted.

``depth`` reads a lane as SQS's attributes would: visible messages, and hidden ones
(held back by the dispatcher or backing off) as in flight; nothing is ever delayed."""

from __future__ import annotations

import heapq
from dataclasses import dataclass

from ..ports import Depth


@dataclass(slots=True, eq=False)
class Msg:
    id: int
    tenant: str
    group: str
    task_type: str
    priority: str
    created: float
    receives: int = 0
    throttles: int = 0
    started: bool = False
    #: the lane it was sent to, and when it was first sent (a refused task waits first)
    lane: str = ""
    enqueued: float = 0.0


class Lane:
    def __init__(self, name: str) -> None:
        self.name = name
        self.receive_calls = 0
        self._heap: list[tuple[float, int, Msg]] = []
        self._seq = 0

    def __len__(self) -> int:
        return len(self._heap)

    def send(self, msg: Msg, visible_at: float) -> None:
        self._seq += 1
        heapq.heappush(self._heap, (visible_at, self._seq, msg))

    def receive(self, now: float, max_messages: int = 10) -> list[Msg]:
        self.receive_calls += 1
        out: list[Msg] = []
        heap = self._heap
        while heap and heap[0][0] <= now and len(out) < max_messages:
            msg = heapq.heappop(heap)[2]
            msg.receives += 1
            out.append(msg)
        return out

    def visible(self, now: float) -> bool:
        return bool(self._heap) and self._heap[0][0] <= now

    def depth(self, now: float) -> Depth:
        visible = sum(1 for at, _, _ in self._heap if at <= now)
        return Depth(visible=visible, in_flight=len(self._heap) - visible, delayed=0)

"""The dispatcher's outbox: settled messages waiting for their batched send.

``settle`` routes one outcome: an ack, a forward to a work queue, a dead letter or a
recycle is queued; a retry or hold hides the message again at once. ``flush`` sends what
is queued in batches of 10, forwards and dead letters first and only then the deletes
they replace, so a crash in between duplicates at worst and never loses.
"""

from __future__ import annotations

import threading
from collections import defaultdict

from aws_lambda_powertools import Logger

from ..envelope import Envelope, parse
from ..ports import Clock, InMessage, Lanes, OutMessage
from ..topology import Topology
from .deadletter import dead_letter
from .outcome import ACK, DLQ, HOLD, RETRY, Outcome

logger = Logger(service="conveyor-dispatcher")
#: SQS's longest visibility timeout, seconds.
MAX_VISIBILITY = 43_200
#: A message received this many times is re-sent as a fresh copy instead of being hidden
#: again, so long pauses, holds and throttles never reach the lane's maxReceiveCount
#: (100) and get dead-lettered by SQS itself.
RECYCLE_AT = 50


class Outbox:
    def __init__(self, lanes: Lanes, topology: Topology, clock: Clock) -> None:
        self.lanes = lanes
        self.topology = topology
        self.clock = clock
        self._acks: dict[str, list[str]] = defaultdict(list)
        self._forward: dict[str, list[tuple[str, InMessage, Envelope]]] = defaultdict(list)
        self._dead: list[tuple[str, InMessage, Outcome]] = []
        self._recycle: list[tuple[str, InMessage, int]] = []
        self._lock = threading.RLock()

    def forward(self, queue: str, lane: str, message: InMessage, env: Envelope) -> None:
        """Queue ``message`` for the work queue ``queue``; its lane copy is acked after."""
        with self._lock:
            self._forward[queue].append((lane, message, env))

    def settle(self, lane: str, message: InMessage, outcome: Outcome) -> None:
        if outcome.action == ACK:
            with self._lock:
                self._acks[lane].append(message.receipt)
        elif outcome.action in (RETRY, HOLD):
            delay = int(min(MAX_VISIBILITY, max(0, round(outcome.delay))))
            if message.receive_count >= RECYCLE_AT:
                with self._lock:
                    self._recycle.append((lane, message, min(delay, 900)))
            else:
                self.lanes.change_visibility(lane, message.receipt, delay)
        elif outcome.action == DLQ:
            with self._lock:
                self._dead.append((lane, message, outcome))

    def pending(self) -> int:
        """Messages whose ack, forward, recycle or dead letter waits for ``flush``."""
        with self._lock:
            return (
                sum(map(len, self._acks.values()))
                + sum(map(len, self._forward.values()))
                + len(self._dead)
                + len(self._recycle)
            )

    def flush(self) -> None:
        """Send forwards, recycles and dead letters, then delete what they replace."""
        with self._lock:
            forward, self._forward = self._forward, defaultdict(list)
            dead, self._dead = self._dead, []
            acks, self._acks = self._acks, defaultdict(list)
            recycle, self._recycle = self._recycle, []
        now = int(self.clock.now() * 1000)
        for lane, message, delay in recycle:
            env = parse(message.body)
            if not self.lanes.send(
                lane, [OutMessage(body=message.body, group=env.tenant, delay=delay, id=env.task_id)]
            ):
                acks[lane].append(message.receipt)
        for queue, items in forward.items():
            messages = [
                OutMessage(body=m.body, group=env.tenant, id=str(i))
                for i, (_, m, env) in enumerate(items)
            ]
            failed = set(self.lanes.send(queue, messages))
            for i, (lane, message, _) in enumerate(items):
                if str(i) not in failed:
                    acks[lane].append(message.receipt)
        if dead:
            letters = [dead_letter(m.body, o, lane, now) for lane, m, o in dead]
            letters = [
                OutMessage(body=x.body, group=x.group, id=str(i)) for i, x in enumerate(letters)
            ]
            failed = set(self.lanes.send(self.topology.dlq, letters))
            for i, (lane, message, _) in enumerate(dead):
                if str(i) not in failed:
                    acks[lane].append(message.receipt)
        for lane, receipts in acks.items():
            if receipts:
                self.lanes.delete(lane, receipts)

"""The dispatcher's outbox: settled messages waiting for their batched send.

``settle`` routes one outcome: an ack, a forward to a work queue, a dead letter or a
recycle is queued; a retry or hold hides the message again at once (if that call fails,
the message simply reappears when its current visibility ends).

``flush`` sends what is queued in batches of 10: recycles, forwards and dead letters
first, and only the lane messages they replace are then deleted, so a crash in between
duplicates at worst and never loses. Invariant: an item leaves the outbox only once its
send was accepted, or ``MAX_AGE`` after it was queued (its lane message is back on the
lane by then and gets settled again); a batch that fails (an exception after botocore's
retries, or entries SQS reports as failed) stays queued, in order, for the next flush.
A dead letter whose send keeps failing past its lane message's visibility is also
redelivered on the lane; the runner then sees a FAILED record and dead-letters it again,
and the reconciler dead-letters FAILED tasks that have no DLQ entry, so the letter is
never lost, at worst doubled.
"""

from __future__ import annotations

import threading
import time
from collections import defaultdict, deque
from dataclasses import dataclass, field
from typing import TypeVar

from aws_lambda_powertools import Logger

from ..envelope import Malformed, parse
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
BATCH = 10
#: Seconds an unsent copy is kept and retried. Past that its lane message's receipt has
#: long expired and the message is back on the lane to be settled again, so the copy is
#: dropped: one that SQS never accepts (too large, say) cannot pin the outbox for good.
MAX_AGE = 300.0


@dataclass(frozen=True, slots=True)
class _Copy:
    """A message to send to ``queue``; once accepted, ``receipt`` is deleted from ``lane``."""

    queue: str
    message: OutMessage
    lane: str
    receipt: str
    since: float = field(default_factory=time.monotonic)


T = TypeVar("T")


class Outbox:
    def __init__(
        self, lanes: Lanes, topology: Topology, clock: Clock, *, max_age: float = MAX_AGE
    ) -> None:
        self.lanes = lanes
        self.max_age = max_age
        self.topology = topology
        self.clock = clock
        self._copies: deque[_Copy] = deque()
        self._acks: dict[str, deque[str]] = defaultdict(deque)
        self._lock = threading.RLock()
        self._flushing = threading.Lock()

    def forward(self, queue: str, lane: str, message: InMessage, group: str) -> None:
        """Queue ``message`` for the work queue ``queue``; its lane copy is acked after."""
        self._queue(_Copy(queue, OutMessage(body=message.body, group=group), lane, message.receipt))

    def settle(self, lane: str, message: InMessage, outcome: Outcome) -> None:
        if outcome.action == ACK:
            with self._lock:
                self._acks[lane].append(message.receipt)
        elif outcome.action in (RETRY, HOLD):
            delay = int(min(MAX_VISIBILITY, max(0, round(outcome.delay))))
            if message.receive_count >= RECYCLE_AT:
                self._queue(_Copy(lane, _recycled(message, min(delay, 900)), lane, message.receipt))
                return
            try:
                self.lanes.change_visibility(lane, message.receipt, delay)
            except Exception:
                logger.exception("could not hide a message again", extra={"lane": lane})
        elif outcome.action == DLQ:
            letter = dead_letter(message.body, outcome, lane, int(self.clock.now() * 1000))
            self._queue(_Copy(self.topology.dlq, letter, lane, message.receipt))

    def _queue(self, copy: _Copy) -> None:
        with self._lock:
            self._copies.append(copy)

    def pending(self) -> int:
        """Messages whose ack, forward, recycle or dead letter waits for ``flush``."""
        with self._lock:
            return len(self._copies) + sum(map(len, self._acks.values()))

    def urgent(self) -> bool:
        """Forwards, dead letters or recycles are queued: sends that should not wait for
        an ack batch to fill (an ack may wait: the outcome it follows is durable)."""
        with self._lock:
            return bool(self._copies)

    def flush(self) -> bool:
        """Send what is queued; True when everything was sent, False when something
        stays queued for the next flush (the caller backs off). Never raises for an AWS
        error: failures are logged and kept."""
        with self._flushing:
            ok = self._send_copies()
            return self._send_acks() and ok

    def _send_copies(self) -> bool:
        with self._lock:
            copies = list(self._copies)
            self._copies.clear()
        by_queue: dict[str, list[_Copy]] = defaultdict(list)
        for copy in copies:
            by_queue[copy.queue].append(copy)
        kept: list[_Copy] = []
        for queue, items in by_queue.items():
            for chunk in _chunks(items):
                messages = [
                    OutMessage(c.message.body, c.message.group, c.message.delay, id=str(i))
                    for i, c in enumerate(chunk)
                ]
                try:
                    failed = set(self.lanes.send(queue, messages))
                except Exception:
                    logger.exception("send failed; kept for the next flush", extra={"queue": queue})
                    failed = {m.id for m in messages}
                with self._lock:
                    for i, copy in enumerate(chunk):
                        if str(i) in failed and time.monotonic() - copy.since < self.max_age:
                            kept.append(copy)
                        elif str(i) in failed:
                            logger.error(
                                "gave up a send; its lane message will come back",
                                extra={"queue": queue, "lane": copy.lane},
                            )
                        else:
                            self._acks[copy.lane].append(copy.receipt)
        if kept:
            with self._lock:
                self._copies.extendleft(reversed(kept))
        return not kept

    def _send_acks(self) -> bool:
        ok = True
        with self._lock:
            lanes = [lane for lane, receipts in self._acks.items() if receipts]
        for lane in lanes:
            with self._lock:
                receipts = list(self._acks[lane])
                self._acks[lane].clear()
            for chunk in _chunks(receipts):
                try:
                    self.lanes.delete(lane, chunk)
                except Exception:
                    logger.exception("delete failed; kept for the next flush", extra={"lane": lane})
                    with self._lock:
                        self._acks[lane].extend(chunk)
                    ok = False
        return ok


def _chunks(items: list[T]) -> list[list[T]]:
    return [items[i : i + BATCH] for i in range(0, len(items), BATCH)]


def _recycled(message: InMessage, delay: int) -> OutMessage:
    """A fresh copy of ``message`` (SQS's receive count starts again)."""
    try:
        group = parse(message.body).tenant
    except Malformed:
        group = "default"
    return OutMessage(body=message.body, group=group, delay=delay)

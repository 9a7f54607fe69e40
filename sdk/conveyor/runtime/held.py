"""The visibility of the messages a dispatcher holds or runs (a mixin of ``Dispatcher``).

Held messages (the look-ahead) are extended in batches of 10 once less than a third of
their visibility is left, dropped from the buffer when an extension fails (SQS delivers
them again; starting is fenced by the attempt token), and handed back (visibility 0, in
batches) only when the dispatcher gives them up. Messages of running attempts are pushed
``lane_visibility`` seconds out every ``extend_every`` seconds, one request each.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING

from aws_lambda_powertools import Logger

from ..policy.lookahead import BATCH
from ..ports import Clock, InMessage, Lanes
from . import holding
from .intake import Held
from .outbox import MAX_VISIBILITY, RECYCLE_AT
from .outcome import HOLD, Outcome

if TYPE_CHECKING:
    from .dispatcher import DispatcherStats, _Running
    from .fairness import FairChoice

logger = Logger(service="conveyor-dispatcher")


class HeldMessages:
    """Extending, dropping, releasing and hiding a dispatcher's messages."""

    lanes: Lanes
    clock: Clock
    lane_visibility: int
    extend_every: float
    buffers: dict[str, deque[Held]]
    stats: DispatcherStats
    fair: FairChoice | None
    _lock: threading.RLock
    _extend_at: float
    #: The dispatcher's own: a message's outcome, through the outbox.
    _settle: Callable[[str, InMessage, Outcome], None]

    def _extend(self, running: list[_Running]) -> None:
        """Keep lane messages of long attempts hidden: once ``extend_every`` seconds have
        passed since an attempt's message was last extended, its visibility is pushed
        ``lane_visibility`` seconds out. Lanes can then keep a short visibility (a crashed
        dispatcher's messages return within a minute) while one attempt may run up to
        Lambda's 15 minutes. Extensions go 10 per request per lane, a batch topped up
        with the lane's next-due attempts (running half of ``extend_every`` or more), so
        many long attempts cost about one request per 10 per ``extend_every``. A failed
        request is tried again on the next pass (the message still has
        ``lane_visibility - extend_every`` seconds); a refused receipt means the message
        was received again elsewhere, where the attempt token fences a second start."""
        now = time.monotonic()
        by_lane: dict[str, list[_Running]] = {}
        for item in running:
            by_lane.setdefault(item.lane, []).append(item)
        for lane, items in by_lane.items():
            items.sort(key=lambda i: i.extended_at)  # the longest since extended first
            due = sum(1 for i in items if now - i.extended_at >= self.extend_every)
            if not due:
                continue
            early = sum(1 for i in items[due:] if now - i.extended_at >= self.extend_every / 2)
            picked = items[: due + min(early, -due % BATCH)]
            for start in range(0, len(picked), BATCH):
                chunk = picked[start : start + BATCH]
                entries = [(i.message.receipt, self.lane_visibility) for i in chunk]
                try:
                    refused = set(self.lanes.change_visibility_batch(lane, entries))
                except Exception:
                    logger.exception("could not extend lane messages", extra={"lane": lane})
                    continue
                for item in chunk:
                    item.extended_at = now
                if refused:
                    logger.warning(
                        "running attempts' messages were received again elsewhere",
                        extra={"lane": lane, "count": len(refused)},
                    )

    def extend_held(self) -> int:
        """Extend the visibility of held messages that are due (``to_extend``), in batches
        of 10 per lane; drop from the buffer those whose time ran out or whose extension
        failed (SQS delivers them again; nothing is released, nothing started twice).
        Returns how many were extended. Cheap between due times: it looks at the buffers
        only once the soonest held message is due (one arriving later is due later)."""
        now, extended = self.clock.now(), 0
        visibility = self.lane_visibility
        with self._lock:
            if now < self._extend_at:
                return 0
            for lane, buffer in self.buffers.items():
                if buffer:
                    done, gone = holding.extend(self.lanes, lane, list(buffer), now, visibility)
                    extended += done
                    self.stats.extend_failed += len(gone)
                    self._drop(lane, gone)
            self.stats.extended += extended
            soonest = min((h.hidden_until for b in self.buffers.values() for h in b), default=None)
            later = now + visibility * 2 / 3  # the earliest a message received now is due
            self._extend_at = later if soonest is None else min(later, soonest - visibility / 3)
        return extended

    def _drop(self, lane: str, helds: list[Held]) -> None:
        """Forget held messages without a request: SQS delivers them again."""
        if not helds:
            return
        holding.remove(self.buffers[lane], helds)
        if self.fair is not None:
            for held in helds:
                self.fair.withdraw(held)

    def _release(self, lane: str, helds: list[Held]) -> None:
        """Hand held messages back to their lane now (visibility 0, in batches of 10);
        one received ``RECYCLE_AT`` times or more is re-sent fresh by the outbox."""
        self._drop(lane, helds)
        self.stats.released += len(helds)
        self._hide(lane, [(h.message, Outcome(HOLD, h.env.task_id, "released")) for h in helds])

    def _hide(self, lane: str, holds: list[tuple[InMessage, Outcome]]) -> None:
        """Settle HOLD outcomes of one lane together: their hide times in batches of 10
        (``holding.hide``), where the outbox would send one request each; a message
        received ``RECYCLE_AT`` times or more goes to the outbox to be re-sent fresh."""
        entries: list[tuple[str, int]] = []
        for message, outcome in holds:
            if message.receive_count >= RECYCLE_AT:
                self._settle(lane, message, outcome)
                continue
            self.stats.kinds[outcome.kind] += 1
            seconds = int(min(MAX_VISIBILITY, max(0, round(outcome.delay))))
            entries.append((message.receipt, seconds))
        holding.hide(self.lanes, lane, entries)

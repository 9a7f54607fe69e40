"""The visibility of the dispatcher's held messages: extended in batches while held,
set to 0 in batches when the dispatcher gives them up.

Each call sends ``ChangeMessageVisibilityBatch`` requests of at most 10 entries for one
lane. Which messages are due is the pure ``policy.lookahead.to_extend``; the dispatcher's
lock guards the buffers these functions are given. A request can fail as a whole (after
botocore's retries: its outcome unknown) or refuse entries (a receipt no longer
current): either way the messages concerned are reported, never retried here, because a
message whose extension is in doubt may already be visible to others; SQS delivers it
again and the attempt token fences a second start.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Sequence

from aws_lambda_powertools import Logger

from ..policy.lookahead import BATCH, expired, to_extend
from ..ports import Lanes
from .intake import Held

logger = Logger(service="conveyor-dispatcher")


def extend(
    lanes: Lanes, lane: str, held: Sequence[Held], now: float, visibility: float
) -> tuple[int, list[Held]]:
    """Extend the due messages of ``lane`` by ``visibility`` seconds from ``now`` (both on
    the dispatcher's clock). Returns (how many were extended, the messages to drop: those
    already visible again and those whose extension failed)."""
    until = [h.hidden_until for h in held]
    gone = [held[i] for i in expired(until, now)]
    picked = [held[i] for i in to_extend(until, now, visibility)]
    extended = 0
    for start in range(0, len(picked), BATCH):
        chunk = picked[start : start + BATCH]
        entries = [(h.message.receipt, int(visibility)) for h in chunk]
        try:
            refused = set(lanes.change_visibility_batch(lane, entries))
        except Exception:
            logger.exception("could not extend held messages", extra={"lane": lane})
            refused = {h.message.receipt for h in chunk}
        for item in chunk:
            if item.message.receipt in refused:
                gone.append(item)
            else:
                item.hidden_until = now + visibility
                extended += 1
    if gone:
        logger.warning(
            "held messages dropped: left to their lane", extra={"lane": lane, "count": len(gone)}
        )
    return extended, gone


def hide(lanes: Lanes, lane: str, entries: Sequence[tuple[str, int]]) -> None:
    """Set each ``(receipt, seconds)``'s visibility in ``lane``, 10 per request: held
    messages handed back (0), messages sidelined or waiting for rate tokens (their hide
    time). A failed request costs only time: those messages reappear when their current
    visibility ends (and are looked at again then)."""
    for start in range(0, len(entries), BATCH):
        try:
            lanes.change_visibility_batch(lane, entries[start : start + BATCH])
        except Exception:
            logger.exception("could not set the visibility of messages", extra={"lane": lane})


def remove(buffer: deque[Held], held: Iterable[Held]) -> None:
    """Take ``held`` out of ``buffer``, keeping the others' order."""
    gone = {id(h) for h in held}
    kept = [h for h in buffer if id(h) not in gone]
    buffer.clear()
    buffer.extend(kept)

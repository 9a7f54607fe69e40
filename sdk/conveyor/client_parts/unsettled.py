"""The task IDs whose ``submit`` raised in this process, remembered for a short while.

A submit that raises may leave a record with no message: its PutItem was performed but
the error (or a reply lost on botocore's last try) reached the caller, or the send
failed and so did the undo. The producer then retries with the same ID, and the
retry's refused PutItem returns a QUEUED record it cannot tell from a healthy one whose
message is on the way. If the ID is remembered here, nothing of this process is on the
way (its submit raised), so the retry sends the message at once instead of waiting
``RESUBMIT_GRACE`` (``policy.reconcile.resubmit_repairs(after_error=True)``).

Per process, in memory, bounded: at most ``limit`` IDs, each for ``keep`` seconds (after
that, ``RESUBMIT_GRACE`` has passed and any re-submit repairs anyway). It costs no
request: a duplicate of a healthy task is still 1 PutItem and sends nothing.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterable


class Unsettled:
    """Thread-safe. Times are epoch ms, passed in."""

    def __init__(self, *, limit: int = 10_000, keep: float = 60.0) -> None:
        self.limit = limit
        self.keep_ms = int(keep * 1000)
        self._ids: OrderedDict[str, int] = OrderedDict()
        self._lock = threading.Lock()

    def add(self, task_ids: Iterable[str], now_ms: int) -> None:
        with self._lock:
            for task_id in task_ids:
                self._ids.pop(task_id, None)
                self._ids[task_id] = now_ms
            while len(self._ids) > self.limit:
                self._ids.popitem(last=False)

    def discard(self, task_ids: Iterable[str]) -> None:
        with self._lock:
            for task_id in task_ids:
                self._ids.pop(task_id, None)

    def recent(self, task_id: str, now_ms: int) -> bool:
        """Whether a submit of ``task_id`` raised within the last ``keep`` seconds."""
        with self._lock:
            while self._ids:  # oldest first: drop what is too old to matter
                oldest, at = next(iter(self._ids.items()))
                if now_ms - at <= self.keep_ms:
                    break
                del self._ids[oldest]
            return task_id in self._ids

"""The DLQ from the client: list entries, redrive them."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from ..errors import InvalidTiming
from ..ports import now_ms
from .base import ClientBase

if TYPE_CHECKING:
    from ..runtime.deadletter import DeadLetters


class DeadLettersPart(ClientBase):
    def dlq(self) -> DeadLetters:
        from ..runtime.deadletter import DeadLetters

        return DeadLetters(self.lanes, self.store, self.topology)

    def dlq_list(
        self, *, task_type: str | None = None, since: datetime | None = None, limit: int = 100
    ) -> list[Any]:
        return self.dlq().entries(task_type=task_type, since_ms=_ms(since), limit=limit)

    def dlq_redrive(
        self, *, task_type: str | None = None, since: datetime | None = None
    ) -> list[str]:
        """Re-queue failed tasks from the DLQ with their attempts reset."""
        return self.dlq().redrive(
            task_type=task_type, since_ms=_ms(since), now_ms=now_ms(self.clock)
        )


def _ms(when: datetime | None) -> int | None:
    if when is None:
        return None
    if when.tzinfo is None:
        raise InvalidTiming("since= must be a timezone-aware datetime")
    return int(when.timestamp() * 1000)

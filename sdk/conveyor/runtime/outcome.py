"""What the runtime tells the holder of a message after an attempt.

``action`` is one of:

* ``ack``   -- delete the message (the task is finished, or was never to run);
* ``retry`` -- keep it, hidden for ``delay`` seconds, then run again;
* ``hold``  -- like retry, but nothing was attempted (lease held elsewhere, paused);
* ``dlq``   -- copy it to the DLQ with ``reason``, then delete it.

``kind`` feeds metrics and the AIMD window: ok | retryable | throttled | fatal | expired |
cancelled | duplicate | busy | malformed | unknown-type | missing | unsettled.

``unsettled`` (with ``hold``) means the attempt's outcome is computed but its write is not
durable yet (the task store kept failing): the message must come back after ``delay``
seconds, and the process that computed it writes it then without running the handler
again. A ``dlq`` may repeat for one task (a redelivery that finds it FAILED sends the
dead letter again, in case the first one was never sent).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

ACK, RETRY, HOLD, DLQ = "ack", "retry", "hold", "dlq"


@dataclass(frozen=True, slots=True)
class Outcome:
    action: str
    task_id: str
    kind: str
    state: str | None = None
    delay: float = 0.0
    reason: str = ""
    attempts: int = 0
    queue_wait_ms: int = 0
    run_ms: int = 0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Outcome:
        fields = cls.__dataclass_fields__
        return cls(**{k: v for k, v in data.items() if k in fields})

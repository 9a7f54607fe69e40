"""EventBridgePublisher: task lifecycle events on the deployment's bus, 10 per PutEvents."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

SOURCE = "conveyor"


class EventBridgePublisher:
    def __init__(self, events: Any, bus: str) -> None:
        self.events = events
        self.bus = bus

    def publish(self, events: Sequence[tuple[str, Mapping[str, Any]]]) -> None:
        for start in range(0, len(events), 10):
            entries = [
                {
                    "Source": SOURCE,
                    "DetailType": detail_type,
                    "EventBusName": self.bus,
                    "Detail": json.dumps(detail, separators=(",", ":")),
                }
                for detail_type, detail in events[start : start + 10]
            ]
            response = self.events.put_events(Entries=entries)
            if response.get("FailedEntryCount"):
                failed = [e for e in response["Entries"] if e.get("ErrorCode")]
                raise RuntimeError(f"EventBridge refused {len(failed)} events: {failed[:1]}")

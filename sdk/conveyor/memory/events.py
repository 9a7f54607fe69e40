"""In-memory EventPublisher: keeps what was published, in order."""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from typing import Any


class MemoryEvents:
    def __init__(self) -> None:
        self.published: list[tuple[str, dict[str, Any]]] = []
        self._lock = threading.Lock()

    def publish(self, events: Sequence[tuple[str, Mapping[str, Any]]]) -> None:
        with self._lock:
            self.published.extend((t, dict(d)) for t, d in events)

    def of_type(self, detail_type: str) -> list[dict[str, Any]]:
        with self._lock:
            return [d for t, d in self.published if t == detail_type]

"""In-memory PayloadStore."""

from __future__ import annotations

import threading


class MemoryPayloadStore:
    def __init__(self) -> None:
        self.objects: dict[str, bytes] = {}
        self._lock = threading.Lock()

    def put(self, key: str, data: bytes) -> None:
        with self._lock:
            self.objects[key] = bytes(data)

    def get(self, key: str) -> bytes:
        with self._lock:
            try:
                return self.objects[key]
            except KeyError:
                raise KeyError(f"no payload object {key!r}") from None

    def delete(self, key: str) -> None:
        with self._lock:
            self.objects.pop(key, None)

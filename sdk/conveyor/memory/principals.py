"""MemoryPrincipals: the principal directory as a dict, for tests and in-memory clients."""

from __future__ import annotations

import threading

from ..ports import Grant


class MemoryPrincipals:
    def __init__(self) -> None:
        self.grants: dict[str, Grant] = {}
        #: Lookups served, so tests can see what the edge's cache saves.
        self.lookups = 0
        self._lock = threading.Lock()

    def lookup(self, principal: str) -> Grant | None:
        with self._lock:
            self.lookups += 1
            return self.grants.get(principal)

    def grant(self, principal: str, grant: Grant) -> None:
        with self._lock:
            self.grants[principal] = grant

    def revoke(self, principal: str) -> None:
        with self._lock:
            self.grants.pop(principal, None)


__all__ = ["MemoryPrincipals"]

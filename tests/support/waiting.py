"""Polling helpers for end-to-end tests (real processes and moto server: no fake clock)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any


def wait_terminal(client: Any, ids: list[str], timeout: float = 90.0) -> list[Any]:
    """The records of ``ids`` once all are terminal; AssertionError after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        records = [client.get(i) for i in ids]
        if all(r.terminal for r in records):
            return records
        time.sleep(0.3)
    raise AssertionError([client.get(i).state for i in ids])


def wait_for(predicate: Callable[[], Any], timeout: float = 30.0, every: float = 0.2) -> Any:
    """``predicate()``'s first truthy value; AssertionError after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"condition not met within {timeout:g} s")

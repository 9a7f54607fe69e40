"""Running a handler under the task type's timeout."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any


class TaskTimeout(Exception):
    """The handler ran past the type's timeout (retryable)."""


def call_with_timeout(fn: Callable[[], Any], timeout: float) -> Any:
    """Run ``fn`` in a daemon thread; TaskTimeout after ``timeout`` seconds. A Python
    thread cannot be killed, so an overrunning handler is abandoned, not stopped."""
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["value"] = fn()
        except BaseException as exc:
            box["error"] = exc

    thread = threading.Thread(target=target, daemon=True, name="conveyor-handler")
    thread.start()
    thread.join(timeout)
    if thread.is_alive():
        raise TaskTimeout(f"handler ran past its timeout of {timeout:g}s")
    if "error" in box:
        raise box["error"]
    return box.get("value")

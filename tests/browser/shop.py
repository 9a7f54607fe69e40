"""The catalog the browser tests run: one task type per behaviour the dashboard shows.

``fixable`` fails fatally until the file ``fixed-<task id>`` exists in ``LEDGER_DIR``
(the "fix" a test deploys before it redrives the task from the DLQ).
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from conveyor import Catalog, Fatal, Retry, RetryLater, Throttled

catalog = Catalog("shop")


def _dir() -> Path:
    path = Path(os.environ.get("LEDGER_DIR", "/tmp/conveyor-ledger"))
    path.mkdir(parents=True, exist_ok=True)
    return path


@catalog.task(retry=Retry(max_attempts=4, backoff_base=0.2, backoff_cap=0.4, max_throttles=5))
def work(payload, ctx):
    mode = payload.get("mode", "ok")
    if mode == "fatal":
        raise Fatal("cannot ever work")
    if mode == "fixable" and not (_dir() / f"fixed-{ctx.task_id}").exists():
        raise Fatal("the fix is not deployed yet")
    if mode == "flaky" and ctx.attempt < payload.get("ok_at", 3):
        raise RetryLater("not yet")
    if mode == "throttle" and ctx.throttles < 1:
        raise Throttled("slow down", delay=0.2)
    time.sleep(payload.get("seconds", 0.05))
    return {"attempt": ctx.attempt, "mode": mode}


@catalog.task(priority="low")
def report(payload, ctx):
    return {"rows": payload.get("rows", 0)}


@catalog.task(executor="fargate", timeout=300, max_workers=2)
def reindex(payload, ctx):
    for _ in range(int(payload.get("chunks", 4))):
        if ctx.cancelled:
            raise Fatal("cancelled")
        time.sleep(float(payload.get("chunk_seconds", 0.25)))
        ctx.heartbeat()
    return {"chunks": payload.get("chunks", 4)}

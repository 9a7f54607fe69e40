"""A test catalog whose handlers record their side effects in a ledger.

The ledger is a directory of files (one line appended per side effect), so it works
across threads and across worker processes alike: ``LEDGER_DIR`` names it.
"""

from __future__ import annotations

import os
import time
from collections import Counter
from pathlib import Path

from conveyor import Catalog, Fatal, Retry, RetryLater, Throttled

catalog = Catalog("ledger")


def ledger_dir() -> Path:
    path = Path(os.environ.get("LEDGER_DIR", "/tmp/conveyor-ledger"))
    path.mkdir(parents=True, exist_ok=True)
    return path


def record_effect(task_id: str) -> None:
    with open(ledger_dir() / "effects.log", "a") as fh:
        fh.write(task_id + "\n")


def effects() -> Counter[str]:
    path = ledger_dir() / "effects.log"
    if not path.exists():
        return Counter()
    return Counter(line.strip() for line in path.read_text().splitlines() if line.strip())


def mark(name: str) -> None:
    (ledger_dir() / name).write_text(str(time.time()))


@catalog.task(
    retry=Retry(max_attempts=4, backoff_base=0.1, backoff_cap=0.2, max_throttles=5),
    timeout=10,
    concurrency=4,
    events=True,
)
def work(payload, ctx):
    mode = payload.get("mode", "ok")
    if mode == "fatal":
        raise Fatal("cannot ever work")
    if mode == "flaky" and ctx.attempt < payload.get("ok_at", 3):
        raise RetryLater("not yet")
    if mode == "throttle" and ctx.throttles < payload.get("throttles", 2):
        raise Throttled("slow down", delay=0.1)
    if mode == "sleep":
        time.sleep(payload.get("seconds", 0.2))
    record_effect(ctx.task_id)
    return {"attempt": ctx.attempt}


@catalog.task(priority="low", ttl="1h")
def other(payload, ctx):
    record_effect(ctx.task_id)
    return None


@catalog.task(executor="fargate", timeout=300, max_workers=3, retry=Retry(max_attempts=3))
def long_job(payload, ctx):
    """Runs in chunks with heartbeats; marks 'started-<id>' so a test can kill mid-task."""
    mark(f"started-{ctx.task_id}-{ctx.attempt}")
    for _ in range(int(payload.get("chunks", 4))):
        if ctx.cancelled:
            raise Fatal("cancelled")
        time.sleep(float(payload.get("chunk_seconds", 0.25)))
        ctx.heartbeat()
    record_effect(ctx.task_id)
    return {"chunks": payload.get("chunks", 4)}

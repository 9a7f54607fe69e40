"""A test catalog for many tenants on the dev cloud; handlers record their side effects
in the ledger (``tests.support.ledger``), so a task run twice shows up as counted twice.

* ``job`` -- a quick task with no limits;
* ``metered`` -- the same under a global rate limit (``METERED_RATE`` per second,
  burst ``METERED_BURST``), shared by every dispatcher;
* ``chunk`` -- takes ``CHUNK_SECONDS`` and at most ``CHUNK_CONCURRENCY`` run at once, so
  a producer can outrun the dispatcher and build a backlog.

Timeouts are short, so the lease of an attempt a killed dispatcher was running expires
soon (with ``CONVEYOR_ATTEMPT_MARGIN`` set low).
"""

from __future__ import annotations

import time

from conveyor import Catalog, Retry

from .ledger import record_effect

catalog = Catalog("tenants")

METERED_RATE = 6.0
METERED_BURST = 3
CHUNK_SECONDS = 0.1
CHUNK_CONCURRENCY = 2
QUICK_RETRY = Retry(max_attempts=4, backoff_base=0.1, backoff_cap=0.5)


@catalog.task(timeout=2, retry=QUICK_RETRY)
def job(payload, ctx):
    record_effect(ctx.task_id)


@catalog.task(timeout=2, retry=QUICK_RETRY, rate_limit=f"{METERED_RATE:g}/s", burst=METERED_BURST)
def metered(payload, ctx):
    record_effect(ctx.task_id)


@catalog.task(timeout=2, retry=QUICK_RETRY, concurrency=CHUNK_CONCURRENCY)
def chunk(payload, ctx):
    time.sleep(CHUNK_SECONDS)
    record_effect(ctx.task_id)

"""A realistic example catalog: the task types of a small SaaS product.

Handlers know nothing of queues: they take the payload and a context, return a JSON
result, and raise ``Fatal``/``RetryLater``/``Throttled`` to say how an attempt ended.
The behaviour is driven by the payload so the demo and the tests can exercise every path
(flaky, fatal, throttled, long-running) deterministically, without network access.
"""

from __future__ import annotations

import hashlib
import time
from typing import Any

from conveyor import Catalog, EventTrigger, Fatal, Retry, RetryLater, Schedule, Throttled

catalog = Catalog("example")


@catalog.task(
    executor="lambda",
    timeout=30,
    retry=Retry(max_attempts=5, backoff_base=1),
    rate_limit="50/s",
    concurrency=20,
    priority="high",
    ttl="1h",
)
def send_welcome_email(payload: dict[str, Any], ctx: Any) -> dict[str, Any]:
    """Render the welcome email for a new user (delivery is the provider's job)."""
    email = payload.get("email")
    if not isinstance(email, str) or "@" not in email:
        raise Fatal(f"not an email address: {email!r}")
    name = payload.get("name") or email.split("@")[0]
    body = f"Hello {name}, welcome aboard!"
    return {"to": email, "subject": "Welcome", "bytes": len(body)}


@catalog.task(
    executor="lambda",
    timeout=60,
    memory=1024,
    concurrency=10,
    retry=Retry(max_attempts=3, backoff_base=1, non_retryable=(KeyError,)),
)
def make_thumbnail(payload: dict[str, Any], ctx: Any) -> dict[str, Any]:
    """Compute a thumbnail's size and content hash for an uploaded image."""
    width, height = int(payload["width"]), int(payload["height"])
    scale = min(1.0, 256 / max(width, height))
    digest = hashlib.sha256(f"{payload['key']}:{width}x{height}".encode()).hexdigest()[:16]
    return {
        "key": f"thumbs/{digest}.jpg",
        "width": round(width * scale),
        "height": round(height * scale),
    }


@catalog.task(
    executor="lambda",
    timeout=300,
    priority="low",
    dedup_window="forever",
    schedules=(
        Schedule(
            "cron(0 2 * * ? *)",
            name="nightly",
            timezone="Europe/Paris",
            payload={"report": "daily-usage"},
        ),
    ),
)
def nightly_report(payload: dict[str, Any] | None, ctx: Any) -> dict[str, Any]:
    """Aggregate yesterday's usage into a report."""
    rows = int((payload or {}).get("rows", 100))
    return {"report": (payload or {}).get("report", "daily-usage"), "rows": rows}


@catalog.task(
    executor="lambda",
    timeout=20,
    rate_limit="20/s",
    retry=Retry(max_attempts=4, backoff_base=1, backoff_cap=30, max_throttles=50),
    triggers=(
        EventTrigger(
            {"source": ["shop.orders"], "detail-type": ["Order Placed"]},
            name="order-webhook",
            tenant_field="detail.tenant",
        ),
    ),
)
def call_webhook(payload: dict[str, Any], ctx: Any) -> dict[str, Any]:
    """POST an event to a customer's webhook (simulated downstream, payload-driven).

    ``fail_first`` failing attempts raise RetryLater; ``throttle_first`` raise Throttled
    (a downstream 429), which never spends an attempt.
    """
    if ctx.throttles < int(payload.get("throttle_first", 0)):
        raise Throttled("downstream answered 429", delay=0.5)
    if ctx.attempt <= int(payload.get("fail_first", 0)):
        raise RetryLater(f"downstream 503 on attempt {ctx.attempt}")
    return {"status": 200, "url": payload.get("url", "https://example.invalid/hook")}


@catalog.task(
    executor="fargate",
    timeout="6h",
    cpu=1024,
    memory=2048,
    max_workers=4,
    priority="low",
    retry=Retry(max_attempts=2),
    submits=True,
)
def reindex_catalog(payload: dict[str, Any], ctx: Any) -> dict[str, Any]:
    """Re-index a product catalog in chunks; long-running, so it runs on Fargate.

    Heartbeats between chunks and stops early when the task is cancelled. Products whose
    image changed (``images``: ``[{"key", "width", "height"}]``) get a new thumbnail: one
    ``make_thumbnail`` task each, submitted with the image key as the child's key, so a
    re-run of the re-index does not make them twice.
    """
    for image in payload.get("images", []):
        key = hashlib.sha256(image["key"].encode()).hexdigest()[:12]
        ctx.submit("make_thumbnail", image, key=key)
    chunks = int(payload.get("chunks", 5))
    pause = float(payload.get("chunk_seconds", 0.05))
    done = 0
    for _ in range(chunks):
        if ctx.cancelled:
            raise Fatal(f"cancelled after {done} chunks")
        time.sleep(pause)
        done += 1
        ctx.heartbeat()
    return {"chunks": done}

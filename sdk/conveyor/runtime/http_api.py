"""The HTTP submit API (API Gateway HTTP API, payload format 2.0), for producers that are
not Python. It calls the very same admission code as the SDK and maps its typed errors:

* ``POST   /tasks/{type}`` -> 202 (created) or 200 (duplicate), ``{"id", "status", "state"}``
* ``GET    /tasks/{id}``   -> 200, the task record
* ``DELETE /tasks/{id}``   -> 200, the task after cancellation

Errors: 400 bad input, 404 unknown type or task, 409 conflict, 413 too large,
429 throttled (with Retry-After), 405 wrong method. The body of a POST is a JSON object
with ``payload`` and optionally ``id``, ``tenant``, ``priority``, ``delay_seconds``,
``at`` (ISO 8601 with an offset), ``ttl_seconds``, ``tags``, ``window_minutes``.
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from typing import Any

from ..errors import ConveyorError, InvalidOption, InvalidTiming, Overloaded

POST_FIELDS = {
    "payload",
    "id",
    "tenant",
    "priority",
    "delay_seconds",
    "at",
    "ttl_seconds",
    "tags",
    "window_minutes",
}
_ROUTE = re.compile(r"\A/tasks/([^/]+)/?\Z")


def _response(status: int, body: Any, headers: dict[str, str] | None = None) -> dict[str, Any]:
    return {
        "statusCode": status,
        "headers": {"content-type": "application/json", **(headers or {})},
        "body": json.dumps(body, separators=(",", ":"), default=str),
    }


def _error(exc: ConveyorError) -> dict[str, Any]:
    headers = {}
    if isinstance(exc, Overloaded):
        headers["retry-after"] = str(max(1, round(exc.retry_after)))
    return _response(exc.http_status, {"error": type(exc).__name__, "message": str(exc)}, headers)


def _parse_post(raw: str | None) -> dict[str, Any]:
    try:
        body = json.loads(raw or "{}")
    except ValueError as exc:
        raise InvalidOption(f"the request body is not JSON: {exc}") from None
    if not isinstance(body, dict):
        raise InvalidOption("the request body must be a JSON object")
    unknown = set(body) - POST_FIELDS
    if unknown:
        raise InvalidOption(f"unknown fields {sorted(unknown)}; allowed: {sorted(POST_FIELDS)}")
    return body


def _at(value: Any) -> datetime | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidTiming("at must be an ISO 8601 string with an offset")
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidTiming(f"at={value!r} is not ISO 8601") from None


def handle(event: dict[str, Any], client: Any) -> dict[str, Any]:
    """One API Gateway v2 event -> one response. Never raises for bad input."""
    method = event.get("requestContext", {}).get("http", {}).get("method", "")
    match = _ROUTE.match(event.get("rawPath", ""))
    if match is None:
        return _response(404, {"error": "NotFound", "message": "routes: /tasks/{type|id}"})
    key = match.group(1)
    try:
        if method == "POST":
            body = _parse_post(event.get("body"))
            result = client.submit(
                key,
                body.get("payload"),
                task_id=body.get("id"),
                tenant=body.get("tenant"),
                priority=body.get("priority"),
                delay=body.get("delay_seconds"),
                at=_at(body.get("at")),
                ttl=body.get("ttl_seconds"),
                tags=body.get("tags") or (),
                window=body.get("window_minutes"),
            )
            return _response(
                202 if result.created else 200,
                {
                    "id": result.task_id,
                    "status": result.status,
                    "state": result.state.value if result.state else None,
                },
            )
        if method == "GET":
            return _response(200, client.get(key).to_dict())
        if method == "DELETE":
            return _response(200, client.cancel(key).to_dict())
        return _response(405, {"error": "MethodNotAllowed", "message": f"{method} {key}"})
    except ConveyorError as exc:
        return _error(exc)

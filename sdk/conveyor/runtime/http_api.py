"""The HTTP submit API (API Gateway HTTP API, payload format 2.0), for producers that are
not Python. It calls the very same admission code as the SDK and maps its typed errors:

* ``POST   /tasks/{type}`` -> 202 (created) or 200 (duplicate), ``{"id", "status", "state"}``
* ``GET    /tasks/{id}``   -> 200, the task record
* ``DELETE /tasks/{id}``   -> 200, the task after cancellation

Every answer is JSON, errors included: 400 bad input (a body that is not UTF-8 or not
JSON, nests too deep, or has fields of the wrong kind), 404 unknown type or task, 405
other methods (with ``Allow``), 409 conflict, 413 too large, 415 a body that is not
``application/json``, 429 throttled (with ``Retry-After``), 503 AWS throttling (with
``Retry-After``), 500 anything unexpected (logged with the request id it returns).
The body of a POST is a JSON object with ``payload`` and optionally ``id``, ``tenant``,
``priority``, ``delay_seconds``, ``at`` (ISO 8601 with an offset), ``ttl_seconds``,
``tags`` (a list of strings), ``window_minutes``.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import re
import uuid
from datetime import datetime
from typing import Any

from ..errors import ConveyorError, InvalidOption, InvalidTiming, Overloaded, ValidationError

log = logging.getLogger("conveyor.http")

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
METHODS = ("GET", "POST", "DELETE")
_ROUTE = re.compile(r"\A/tasks/([^/]+)/?\Z")
_JSON_TYPE = re.compile(r"\A\s*application/(?:[\w.+-]+\+)?json\s*(?:;.*)?\Z", re.IGNORECASE)
_THROTTLE_CODES = {
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "RequestLimitExceeded",
    "ProvisionedThroughputExceededException",
    "RequestThrottled",
    "SlowDown",
}


class UnsupportedMediaType(ValidationError):
    """A POST body that is not declared ``application/json``."""

    http_status = 415


class MethodNotAllowed(ValidationError):
    """A method other than GET, POST and DELETE."""

    http_status = 405


def _response(status: int, body: Any, headers: dict[str, str] | None = None) -> dict[str, Any]:
    return {
        "statusCode": status,
        "headers": {"content-type": "application/json", **(headers or {})},
        "body": json.dumps(body, separators=(",", ":"), default=str),
    }


def error_response(
    status: int, error: str, message: str, headers: dict[str, str] | None = None
) -> dict[str, Any]:
    """The JSON answer for an error: ``{"error": <name>, "message": <text>}``."""
    return _response(status, {"error": error, "message": message}, headers)


def _error(exc: ConveyorError) -> dict[str, Any]:
    headers = {}
    if isinstance(exc, Overloaded):
        headers["retry-after"] = str(max(1, round(exc.retry_after)))
    if isinstance(exc, MethodNotAllowed):
        headers["allow"] = ", ".join(METHODS)
    return error_response(exc.http_status, type(exc).__name__, str(exc), headers)


def _header(event: dict[str, Any], name: str) -> str | None:
    headers = event.get("headers") or {}
    for key, value in headers.items():
        if str(key).lower() == name:
            return str(value)
    return None


def _body_text(event: dict[str, Any]) -> str | None:
    """The body as text: base64 (``isBase64Encoded``) is decoded, and it must be UTF-8."""
    body = event.get("body")
    if body is None or body == "":
        return None
    if event.get("isBase64Encoded"):
        try:
            raw = base64.b64decode(body, validate=True)
        except (binascii.Error, ValueError):
            raise InvalidOption("the request body is not valid base64") from None
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise InvalidOption(f"the request body is not UTF-8 ({exc.reason})") from None
    return str(body)


def _parse_post(event: dict[str, Any]) -> dict[str, Any]:
    raw = _body_text(event)
    if raw is None:
        return {}
    content_type = _header(event, "content-type")
    if content_type is None or not _JSON_TYPE.match(content_type):
        raise UnsupportedMediaType(
            f"the request body is {content_type or 'untyped'}; send application/json"
        )
    try:
        body = json.loads(raw)
    except RecursionError:
        raise InvalidOption("the request body nests too deeply") from None
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


def _route(event: dict[str, Any], client: Any) -> dict[str, Any]:
    http = (event.get("requestContext") or {}).get("http") or {}
    method = str(http.get("method", "")).upper()
    match = _ROUTE.match(str(event.get("rawPath", "")))
    if match is None:
        return error_response(404, "NotFound", "routes: /tasks/{type|id}")
    key = match.group(1)
    if method not in METHODS:
        raise MethodNotAllowed(f"{method} is not allowed on /tasks/{{type|id}}")
    if method == "GET":
        return _response(200, client.get(key).to_dict())
    if method == "DELETE":
        return _response(200, client.cancel(key).to_dict())
    body = _parse_post(event)
    tags = body.get("tags")
    result = client.submit(
        key,
        body.get("payload"),
        task_id=body.get("id"),
        tenant=body.get("tenant"),
        priority=body.get("priority"),
        delay=body.get("delay_seconds"),
        at=_at(body.get("at")),
        ttl=body.get("ttl_seconds"),
        tags=() if tags is None else tags,
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


def request_id(event: dict[str, Any]) -> str:
    """API Gateway's request id, or a fresh one (the dev cloud's server sets its own)."""
    context = event.get("requestContext") or {}
    return str(context.get("requestId") or uuid.uuid4().hex)


def handle(event: dict[str, Any], client: Any) -> dict[str, Any]:
    """One API Gateway v2 event -> one JSON response. Never raises.

    Unexpected errors answer 500 with the request id, logged with the traceback; AWS
    throttling that outlasted botocore's retries answers 503 with ``Retry-After``."""
    rid = request_id(event)
    try:
        return _route(event, client)
    except ConveyorError as exc:
        return _error(exc)
    except Exception as exc:
        reply = getattr(exc, "response", None)
        code = reply.get("Error", {}).get("Code") if isinstance(reply, dict) else None
        if code in _THROTTLE_CODES:
            log.warning("AWS throttled request %s: %s", rid, code)
            return error_response(
                503, "ServiceUnavailable", "AWS is throttling; retry", {"retry-after": "1"}
            )
        log.exception("unexpected error answering request %s", rid)
        return _response(
            500,
            {
                "error": "InternalError",
                "message": f"unexpected error; quote request id {rid}",
                "request_id": rid,
            },
        )

"""API Gateway HTTP API (payload 2.0) events as the submit function receives them."""

from __future__ import annotations

import json
from typing import Any


def api_event(method: str, path: str, arn: str | None = None, body: Any = None) -> dict:
    """An event for ``method path``; ``arn``: the IAM caller the authorizer verified."""
    context: dict[str, Any] = {"http": {"method": method}, "requestId": "r-1"}
    if arn:
        context["authorizer"] = {"iam": {"userArn": arn, "accountId": "111122223333"}}
    return {
        "version": "2.0",
        "rawPath": path,
        "headers": {"content-type": "application/json"},
        "body": None if body is None else json.dumps(body),
        "requestContext": context,
    }

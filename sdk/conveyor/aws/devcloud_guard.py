"""Clear errors when a client points at a dev cloud that restarted or stopped.

The dev cloud keeps every queue, table and bucket in moto's memory, so a restart leaves
an empty endpoint behind. On clients whose endpoint is loopback, botocore's "no such
queue/table/bucket/bus/schedule group" errors become ``DevCloudLost`` and "connection
refused" becomes ``DevCloudUnavailable``, each naming the endpoint and the fix. Only those
errors change: a missing schedule in an existing group, a missing S3 key, throttling and
conditional-check failures reach the caller as before. Clients of real AWS are untouched.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from botocore.exceptions import EndpointConnectionError

from ..errors import DevCloudLost, DevCloudUnavailable

LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "::1"}

#: service name -> error codes that mean "the deployment's resource is gone".
_GONE = {
    "sqs": {"QueueDoesNotExist", "AWS.SimpleQueueService.NonExistentQueue"},
    "dynamodb": {"ResourceNotFoundException"},
    "s3": {"NoSuchBucket"},
    "events": {"ResourceNotFoundException"},
    "lambda": {"ResourceNotFoundException"},
}


def is_loopback(endpoint_url: str | None) -> bool:
    return bool(endpoint_url) and urlsplit(endpoint_url).hostname in LOOPBACK_HOSTS


def _gone(service: str, error: dict[str, Any]) -> bool:
    code = error.get("Code")
    if service == "scheduler":  # a missing group is lost state; a missing schedule is not
        message = str(error.get("Message", "")).lower()
        return code == "ResourceNotFoundException" and "group" in message
    return code in _GONE.get(service, ())


def guard(client: Any) -> Any:
    """Register the translation on ``client`` if its endpoint is loopback; returns it."""
    endpoint = client.meta.endpoint_url
    if not is_loopback(endpoint):
        return client
    service = client.meta.service_model.service_name

    def after_call(http_response: Any, parsed: dict[str, Any], model: Any, **_: Any) -> None:
        error = parsed.get("Error") or {}
        if http_response.status_code >= 300 and _gone(service, error):
            raise DevCloudLost(
                f"the dev cloud at {endpoint} has no Conveyor deployment (state is in memory "
                f"and was lost on restart): run `conveyor dev` again and export what it "
                f"prints. ({service} {model.name}: {error.get('Message') or error.get('Code')})"
            )

    def after_error(exception: Exception, **_: Any) -> None:
        if isinstance(exception, EndpointConnectionError):
            raise DevCloudUnavailable(
                f"nothing answers at the dev cloud endpoint {endpoint}: start `conveyor dev` "
                "and export the lines it prints (AWS_ENDPOINT_URL changes with its port)"
            ) from exception

    client.meta.events.register("after-call", after_call)
    client.meta.events.register("after-call-error", after_error)
    return client

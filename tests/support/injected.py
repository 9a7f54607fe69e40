"""Make one AWS operation fail, as it does once botocore's retries are spent: a
``before-call`` hook on a real boto3 client (moto behind it) raises a ClientError."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from botocore.exceptions import ClientError


@contextmanager
def failing(
    client: Any,
    operation: str,
    *,
    times: int = 1,
    when: Callable[[str], bool] = lambda body: True,
) -> Iterator[list[str]]:
    """Fail the next ``times`` calls of ``operation`` whose request body (text)
    satisfies ``when``. Yields the bodies of the calls that were failed."""
    failed: list[str] = []

    def hook(params: dict[str, Any], **_: Any) -> None:
        body = params.get("body", b"")
        text = body.decode() if isinstance(body, bytes) else str(body)
        if len(failed) < times and when(text):
            failed.append(text)
            error = {"Error": {"Code": "ThrottlingException", "Message": "injected fault"}}
            raise ClientError(error, operation)  # type: ignore[arg-type]

    event = f"before-call.{client.meta.service_model.service_id.hyphenize()}.{operation}"
    client.meta.events.register(event, hook)
    try:
        yield failed
    finally:
        client.meta.events.unregister(event, hook)


class Died(BaseException):
    """The process ends here: not an Exception, so no cleanup code of ours runs."""


def die_on_send(lanes: Any, monkeypatch: Any) -> None:
    """Make every ``lanes.send`` end the process (a producer killed mid-submit)."""

    def send(queue: str, messages: Any) -> list[str]:
        raise Died

    monkeypatch.setattr(lanes, "send", send)

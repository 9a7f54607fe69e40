"""A seeded fault injector for boto3 clients: the ordinary faults AWS produces, on demand.

Attach a ``FaultInjector`` to any boto3 client (``injector.attach(client)``, or pass it as
``AwsClients(counter=injector)``, which attaches it to every client it makes). Each
``Rule`` names a fault kind, a rate per call (or per attempt) and the operations it
applies to; decisions come from one ``random.Random(seed)``, and ``counts`` records what
was injected, so a run is repeatable and its figures can be asserted.

Kinds, and where in botocore each one is raised:

* ``fail`` -- a 5xx error after botocore's retries are spent; the request was never
  performed (raised from ``before-call``, outside the retry loop).
* ``fail_after`` -- the request was performed, then the caller gets a 5xx error (raised
  from ``after-call``, outside the retry loop): the write landed, the caller cannot know.
* ``reply_lost`` -- the request was performed and its reply lost on the way back, as with
  a dropped connection: from ``needs-retry`` (inside the retry loop) botocore is told to
  send it again, so a conditional write then meets its own first attempt. On the client's
  last attempt the connection error reaches the caller instead.
* ``conditional`` -- a ConditionalCheckFailedException on a DynamoDB write that was not
  performed, carrying the current item when the request asked for it
  (``ReturnValuesOnConditionCheckFailure``), as DynamoDB would.
* ``throttle`` -- a throttling error after botocore's retries (not performed).

Only ``reply_lost`` is decided per attempt; every other kind once per call.
"""

from __future__ import annotations

import contextlib
import random
import threading
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError, ConnectionClosedError

FAIL = "fail"
FAIL_AFTER = "fail_after"
REPLY_LOST = "reply_lost"
CONDITIONAL = "conditional"
THROTTLE = "throttle"
KINDS = (FAIL, FAIL_AFTER, REPLY_LOST, CONDITIONAL, THROTTLE)

#: Every DynamoDB operation that changes the task table.
STATE_WRITES = ("UpdateItem", "PutItem", "DeleteItem", "TransactWriteItems")
#: Every SQS batch call Conveyor makes.
SQS_BATCHES = ("SendMessageBatch", "DeleteMessageBatch", "ChangeMessageVisibilityBatch")
#: DynamoDB writes that can carry a condition.
CONDITIONAL_WRITES = ("UpdateItem", "PutItem", "DeleteItem")


@dataclass(frozen=True)
class Rule:
    """Inject ``kind`` with probability ``rate`` (0..1) into the calls of ``operations``
    (names like ``"UpdateItem"`` or ``"dynamodb.UpdateItem"``; empty: every operation),
    at most ``limit`` times (None: no limit)."""

    kind: str
    rate: float
    operations: tuple[str, ...] = ()
    limit: int | None = None

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown fault kind {self.kind!r}; one of {KINDS}")
        if not 0.0 <= self.rate <= 1.0:
            raise ValueError(f"rate must be within 0..1, got {self.rate!r}")
        if self.kind == CONDITIONAL and not self.operations:
            object.__setattr__(self, "operations", CONDITIONAL_WRITES)

    def applies(self, service: str, operation: str) -> bool:
        if not self.operations:
            return True
        return operation in self.operations or f"{service}.{operation}" in self.operations


def _max_attempts(client: Any) -> int:
    """Total attempts botocore makes for one call of ``client`` (initial one included)."""
    retries = dict(getattr(client.meta.config, "retries", None) or {})
    if "total_max_attempts" in retries:
        return int(retries["total_max_attempts"])
    if "max_attempts" in retries:
        return int(retries["max_attempts"]) + 1
    return 3 if retries.get("mode") == "standard" else 5


class FaultInjector:
    """Thread-safe. ``enabled`` switches every rule off and on; ``counts[(kind, "svc.Op")]``
    is what was injected."""

    def __init__(self, rules: Iterable[Rule], seed: int = 0) -> None:
        self.rules = tuple(rules)
        self.rng = random.Random(seed)
        self.enabled = True
        self.counts: Counter[tuple[str, str]] = Counter()
        self._fired: Counter[Rule] = Counter()
        self._lock = threading.Lock()
        self._local = threading.local()

    # -- wiring ---------------------------------------------------------------------------

    def attach(self, client: Any) -> Any:
        """Register the hooks on ``client`` (idempotent per client); returns it."""
        events = client.meta.events
        key = id(self)
        events.register("before-parameter-build.*.*", _remember_params, unique_id=f"faults-p-{key}")
        events.register(
            "before-call.*.*",
            lambda **kw: self._before_call(client, **kw),
            unique_id=f"faults-b-{key}",
        )
        events.register(
            "after-call.*.*",
            lambda **kw: self._after_call(client, **kw),
            unique_id=f"faults-a-{key}",
        )
        events.register(
            "needs-retry.*.*",
            lambda **kw: self._needs_retry(client, **kw),
            unique_id=f"faults-r-{key}",
        )
        return client

    @contextlib.contextmanager
    def paused(self) -> Iterator[None]:
        """No injection inside the block (the previous setting is restored after)."""
        before, self.enabled = self.enabled, False
        try:
            yield
        finally:
            self.enabled = before

    def total(self, kind: str | None = None) -> int:
        with self._lock:
            return sum(n for (k, _), n in self.counts.items() if kind in (None, k))

    # -- decisions ------------------------------------------------------------------------

    def _draw(self, kinds: tuple[str, ...], service: str, operation: str) -> str | None:
        """The first rule of ``kinds`` that fires for this call, counted; or None."""
        if not self.enabled or getattr(self._local, "internal", False):
            return None
        name = f"{service}.{operation}"
        with self._lock:
            for rule in self.rules:
                if rule.kind not in kinds or not rule.applies(service, operation):
                    continue
                if rule.limit is not None and self._fired[rule] >= rule.limit:
                    continue
                if self.rng.random() < rule.rate:
                    self.counts[(rule.kind, name)] += 1
                    self._fired[rule] += 1
                    return rule.kind
        return None

    # -- hooks ----------------------------------------------------------------------------

    def _before_call(self, client: Any, model: Any, context: dict[str, Any], **_: Any) -> None:
        service = model.service_model.service_name
        kind = self._draw((FAIL, THROTTLE, CONDITIONAL), service, model.name)
        if kind == FAIL:
            raise _error(client, model.name, _server_error(service), 500, "injected fault")
        if kind == THROTTLE:
            raise _error(client, model.name, _throttle_code(service), 400, "Rate exceeded")
        if kind == CONDITIONAL:
            extra: dict[str, Any] = {}
            params = context.get("faults_params", {})
            if params.get("ReturnValuesOnConditionCheckFailure") == "ALL_OLD":
                item = self._current_item(client, params)
                if item is not None:
                    extra["Item"] = item
            raise _error(
                client,
                model.name,
                "ConditionalCheckFailedException",
                400,
                "The conditional request failed",
                extra,
            )

    def _after_call(self, client: Any, http_response: Any, model: Any, **_: Any) -> None:
        if http_response is None or http_response.status_code >= 300:
            return
        service = model.service_model.service_name
        if self._draw((FAIL_AFTER,), service, model.name) == FAIL_AFTER:
            raise _error(client, model.name, _server_error(service), 500, "injected fault")

    def _needs_retry(
        self,
        client: Any,
        response: Any,
        operation: Any,
        attempts: int,
        caught_exception: Any,
        **_: Any,
    ) -> float | None:
        if caught_exception is not None or response is None or response[0].status_code >= 300:
            return None
        service = operation.service_model.service_name
        if self._draw((REPLY_LOST,), service, operation.name) != REPLY_LOST:
            return None
        if attempts >= _max_attempts(client):
            raise ConnectionClosedError(endpoint_url=getattr(response[0], "url", "") or "")
        return 0.0

    def _current_item(self, client: Any, params: dict[str, Any]) -> dict[str, Any] | None:
        """The item a condition failure would return (read with injection off)."""
        self._local.internal = True
        try:
            got = client.get_item(
                TableName=params["TableName"], Key=params["Key"], ConsistentRead=True
            )
        except Exception:
            return None
        finally:
            self._local.internal = False
        item: dict[str, Any] | None = got.get("Item")
        return item


def _remember_params(params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
    """Keep the API parameters (``before-call`` sees only the serialized request)."""
    context["faults_params"] = params


def _server_error(service: str) -> str:
    return "InternalServerError" if service == "dynamodb" else "ServiceUnavailable"


def _throttle_code(service: str) -> str:
    return "ProvisionedThroughputExceededException" if service == "dynamodb" else "Throttling"


def _error(
    client: Any,
    operation: str,
    code: str,
    status: int,
    message: str,
    extra: dict[str, Any] | None = None,
) -> ClientError:
    """The exception botocore would raise for ``code`` (the client's modeled class when it
    has one, so ``except client.exceptions.X`` matches)."""
    response: dict[str, Any] = {
        "Error": {"Code": code, "Message": message},
        "ResponseMetadata": {"HTTPStatusCode": status},
        **(extra or {}),
    }
    error: ClientError = client.exceptions.from_code(code)(response, operation)
    return error


__all__ = [
    "CONDITIONAL",
    "CONDITIONAL_WRITES",
    "FAIL",
    "FAIL_AFTER",
    "KINDS",
    "REPLY_LOST",
    "SQS_BATCHES",
    "STATE_WRITES",
    "THROTTLE",
    "FaultInjector",
    "Rule",
]

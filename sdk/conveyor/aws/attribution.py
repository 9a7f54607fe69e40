"""Which tenant and task type each AWS request was for: cost per tenant and type.

``AttributingCounter`` is the cost bench's ``RequestCounter`` (same hook, same billing
rules, same units) that also reads, from each request and its reply, the tasks it was
for, and splits the request's units evenly among them:

* SQS: message bodies are envelopes (or dead letters wrapping one) naming tenant and type;
  a receive remembers each receipt handle, so deletes and visibility changes, which carry
  only receipts, are attributed too;
* DynamoDB: task items carry ``tenant`` and ``type`` (puts, ``ALL_NEW``/``ALL_OLD``
  replies, reads); a write that names only the key is attributed by the task ID seen
  before;
* Lambda Invoke (the event's lane message), Scheduler CreateSchedule (its target input),
  EventBridge PutEvents (the event detail), S3 (a task ID in the object key).

What names no task -- empty receives, depth reads, the pause set, the reconciler's
queries, control items, this ledger's own writes -- is the platform's own cost
(``PLATFORM``); reports show it on its own row and may spread it over tenants in
proportion to their dollars. Memory is bounded: the task-ID, receipt and item-size maps
keep the newest ``REMEMBER`` entries each.
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict, defaultdict
from collections.abc import Iterable, Mapping
from typing import Any

from .accounting import RequestCounter

Key = tuple[str, str]  # (tenant, task type)
#: The bucket for requests that were for no task in particular.
PLATFORM: Key = ("(platform)", "(platform)")
#: Task IDs and receipt handles remembered (the oldest are forgotten first; ~5 MB).
REMEMBER = 10_000


class _Lru:
    def __init__(self, size: int) -> None:
        self.size = size
        self.data: OrderedDict[str, Key] = OrderedDict()

    def put(self, name: str, key: Key) -> None:
        self.data[name] = key
        self.data.move_to_end(name)
        while len(self.data) > self.size:
            self.data.popitem(last=False)

    def get(self, name: str) -> Key | None:
        return self.data.get(name)


class _BoundedSizes(OrderedDict[tuple[str, str], int]):
    """The counter's (table, key) -> item size memory, newest ``size`` entries only."""

    def __init__(self, size: int) -> None:
        super().__init__()
        self.size = size

    def __setitem__(self, key: tuple[str, str], value: int) -> None:
        super().__setitem__(key, value)
        self.move_to_end(key)
        while len(self) > self.size:
            self.popitem(last=False)


def _json(text: Any) -> Any:
    if not isinstance(text, (str, bytes)):
        return None
    try:
        return json.loads(text)
    except (ValueError, TypeError):
        return None


def _str(typed: Any) -> str | None:
    if isinstance(typed, Mapping) and isinstance(typed.get("S"), str):
        return str(typed["S"])
    return None


class AttributingCounter(RequestCounter):
    """A ``RequestCounter`` that also keeps ``by_key[(tenant, type)][unit]``; the totals
    over every key (``PLATFORM`` included) equal the plain counter's ``units``."""

    def __init__(self, *args: Any, remember: int = REMEMBER, **kwargs: Any) -> None:
        # the item sizes the counter remembers are bounded too (a long-running process)
        kwargs.setdefault("sizes", _BoundedSizes(remember))
        super().__init__(*args, **kwargs)
        self.by_key: defaultdict[Key, defaultdict[str, float]] = defaultdict(
            lambda: defaultdict(float)
        )
        self._tasks = _Lru(remember)
        self._receipts = _Lru(remember)
        self._local = threading.local()
        self._attr_lock = threading.Lock()

    def _after(self, http_response: Any, parsed: dict[str, Any], model: Any, **kwargs: Any) -> None:
        params = (kwargs.get("context") or {}).get("conveyor_params", {})
        try:
            self._local.keys = self._keys(
                model.service_model.service_name, model.name, params, parsed
            )
        except Exception:  # attribution never breaks a request
            self._local.keys = []
        try:
            super()._after(http_response, parsed, model, **kwargs)
        finally:
            self._local.keys = None

    def add(self, service: str, op: str, units: Mapping[str, float]) -> None:
        super().add(service, op, units)
        keys: list[Key] = getattr(self._local, "keys", None) or [PLATFORM]
        share = 1.0 / len(keys)
        with self._attr_lock:
            for key in keys:
                bucket = self.by_key[key]
                bucket["requests"] += share
                for name, amount in units.items():
                    bucket[name] += amount * share

    def take(self) -> dict[Key, dict[str, float]]:
        """The attributed units since the last ``take`` (and forget them)."""
        with self._attr_lock:
            out = {k: dict(v) for k, v in self.by_key.items()}
            self.by_key.clear()
        return out

    # -- reading requests -------------------------------------------------------------------

    def _learn(self, task_id: Any, tenant: Any, task_type: Any) -> Key | None:
        if not isinstance(tenant, str) or not isinstance(task_type, str):
            return None
        key = (tenant, task_type)
        if isinstance(task_id, str) and task_id:
            with self._attr_lock:
                self._tasks.put(task_id, key)
        return key

    def _body(self, body: Any, receipt: str | None = None) -> Key | None:
        data = _json(body)
        if not isinstance(data, dict):
            return None
        if data.get("dlq") == 1:  # a dead letter names its task
            key = self._learn(data.get("task_id"), data.get("tenant"), data.get("task_type"))
        else:
            key = self._learn(data.get("id"), data.get("tenant"), data.get("type"))
        if key is not None and receipt:
            with self._attr_lock:
                self._receipts.put(receipt, key)
        return key

    def _item(self, item: Any) -> Key | None:
        if not isinstance(item, Mapping):
            return None
        task_id = _str(item.get("id"))
        if task_id is None or task_id.startswith("ctl#"):
            return None
        key = self._learn(task_id, _str(item.get("tenant")), _str(item.get("type")))
        return key or self._task(task_id)

    def _task(self, task_id: str | None) -> Key | None:
        if not task_id:
            return None
        with self._attr_lock:
            return self._tasks.get(task_id)

    def _receipt(self, receipt: Any) -> Key | None:
        with self._attr_lock:
            return self._receipts.get(receipt) if isinstance(receipt, str) else None

    def _keys(
        self, service: str, op: str, params: Mapping[str, Any], parsed: Mapping[str, Any]
    ) -> list[Key]:
        found: Iterable[Key | None] = ()
        if service == "sqs":
            found = self._sqs_keys(op, params, parsed)
        elif service == "dynamodb":
            found = self._dynamo_keys(op, params, parsed)
        elif service == "lambda" and op == "Invoke":
            event = _json(params.get("Payload"))
            found = [self._body(event.get("conveyor"))] if isinstance(event, dict) else []
        elif service == "scheduler" and op == "CreateSchedule":
            found = [self._body((params.get("Target") or {}).get("Input"))]
        elif service == "events" and op == "PutEvents":
            found = [
                self._learn(d.get("id"), d.get("tenant"), d.get("type"))
                for d in (_json(e.get("Detail")) for e in params.get("Entries", []))
                if isinstance(d, dict)
            ]
        elif service == "s3":
            parts = str(params.get("Key", "")).split("/")
            found = [next((k for k in map(self._task, parts) if k is not None), None)]
        return [k for k in found if k is not None]

    def _sqs_keys(self, op: str, params: Mapping[str, Any], parsed: Mapping[str, Any]) -> list[Any]:
        if op == "SendMessage":
            return [self._body(params.get("MessageBody"))]
        if op == "SendMessageBatch":
            return [self._body(e.get("MessageBody")) for e in params.get("Entries", [])]
        if op == "ReceiveMessage":
            return [
                self._body(m.get("Body"), m.get("ReceiptHandle"))
                for m in parsed.get("Messages", [])
            ]
        if op in ("DeleteMessage", "ChangeMessageVisibility"):
            return [self._receipt(params.get("ReceiptHandle"))]
        if op in ("DeleteMessageBatch", "ChangeMessageVisibilityBatch"):
            return [self._receipt(e.get("ReceiptHandle")) for e in params.get("Entries", [])]
        return []

    def _dynamo_keys(
        self, op: str, params: Mapping[str, Any], parsed: Mapping[str, Any]
    ) -> list[Any]:
        if op == "PutItem":
            return [self._item(params.get("Item"))]
        if op in ("UpdateItem", "DeleteItem", "GetItem"):
            item = parsed.get("Attributes") or parsed.get("Item")
            key = self._item(item) if item else None
            return [key or self._task(_str((params.get("Key") or {}).get("id")))]
        if op == "BatchGetItem":
            return [self._item(i) for items in parsed.get("Responses", {}).values() for i in items]
        if op == "TransactWriteItems":
            return [
                self._item((e.get("Put") or {}).get("Item"))
                for e in params.get("TransactItems", [])
            ]
        return []

"""Count AWS requests and billable units, by hooking botocore's event system.

Attach a ``RequestCounter`` to any boto3 client (or every client of an ``AwsClients``);
it counts each API call by service and operation, and the units AWS bills, following the
published billing rules (us-east-1, on demand):

* **SQS**: one request per call; sends and receives count each 64 KiB chunk of the bodies
  and attributes they carry (a batch of 10 small messages is one request).
* **DynamoDB writes** (WRU, per KiB rounded up, per item): PutItem, UpdateItem and
  DeleteItem bill the *larger* of the item before and after the write; each index the
  written item lands in costs its own WRU; a write whose condition fails still bills the
  base item but writes no index; a transactional write costs double.
* **DynamoDB reads** (RRU, per 4 KiB): strongly consistent = 1, eventually consistent =
  0.5. A Query/Scan bills the total size of the items it *evaluated* (a filtered scan
  pays for what it skipped too), at the consistency it asked for.
* EventBridge PutEvents: each 64 KiB chunk of an entry; Scheduler creations; Lambda
  invocations; S3 PUT/GET.

The size of an item before an update is what this counter last saw of that key (puts,
updates with ``ALL_NEW``, reads, ``ALL_OLD`` on a failed condition). Counters can share that
memory (``sizes=``), so counting separate processes of one deployment stays exact.
"""

from __future__ import annotations

import json
import math
import threading
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from typing import Any

from .codec import item_size

KB = 1024
CHUNK_64K = 64 * KB
#: Item size assumed for a scanned-but-filtered item never seen before, bytes.
DEFAULT_ITEM_BYTES = 400


def chunks(size: int, chunk: int = CHUNK_64K) -> int:
    """Billing chunks of ``size`` bytes; an empty payload still bills one."""
    return max(1, math.ceil(size / chunk))


def _utf8(value: Any) -> int:
    return len(str(value).encode()) if value else 0


def _message_bytes(message: Mapping[str, Any]) -> int:
    """Body plus message attributes (names, types and values), as SQS bills them."""
    size = _utf8(message.get("MessageBody", message.get("Body", "")))
    for name, attr in (message.get("MessageAttributes") or {}).items():
        size += _utf8(name) + _utf8(attr.get("DataType", ""))
        size += _utf8(attr.get("StringValue", "")) + len(attr.get("BinaryValue", b""))
    return size


def event_entry_bytes(entry: Mapping[str, Any]) -> int:
    """A PutEvents entry's billed size: Time (14 bytes if given), Source, DetailType,
    Detail and Resources, UTF-8."""
    size = 14 if entry.get("Time") else 0
    size += _utf8(entry.get("Source")) + _utf8(entry.get("DetailType"))
    size += _utf8(entry.get("Detail")) + sum(_utf8(r) for r in entry.get("Resources", []))
    return size


class RequestCounter:
    """Thread-safe counters: ``requests[(service, op)]`` and ``units[name]``.

    ``gsi_keys``: table name -> key attribute tuples of its indexes; an item with all of
    an index's keys is written to that index too (a sparse index costs nothing for items
    without them). ``sizes``: shared (table, key) -> last known item size, bytes.
    """

    def __init__(
        self,
        gsi_keys: Mapping[str, Iterable[tuple[str, ...]]] | None = None,
        *,
        sizes: dict[tuple[str, str], int] | None = None,
    ) -> None:
        self.gsi_keys = {t: [tuple(k) for k in v] for t, v in (gsi_keys or {}).items()}
        self.requests: Counter[tuple[str, str]] = Counter()
        self.units: defaultdict[str, float] = defaultdict(float)
        self.sizes: dict[tuple[str, str], int] = {} if sizes is None else sizes
        self._lock = threading.Lock()

    # -- wiring ---------------------------------------------------------------------------

    def attach(self, client: Any) -> Any:
        events = client.meta.events
        events.register("before-parameter-build.*.*", _keep_params, unique_id=f"cnt-b-{id(self)}")
        events.register("after-call.*.*", self._after, unique_id=f"cnt-a-{id(self)}")
        return client

    def reset(self) -> None:
        with self._lock:
            self.requests.clear()
            self.units.clear()

    def total(self, service: str | None = None) -> int:
        with self._lock:
            return sum(n for (svc, _), n in self.requests.items() if service in (None, svc))

    def snapshot(self) -> tuple[dict[tuple[str, str], int], dict[str, float]]:
        with self._lock:
            return dict(self.requests), dict(self.units)

    def add(self, service: str, op: str, units: Mapping[str, float]) -> None:
        """Count one request made outside botocore (e.g. a local stand-in for Invoke)."""
        with self._lock:
            self.requests[(service, op)] += 1
            for name, amount in units.items():
                self.units[name] += amount

    # -- the hook -------------------------------------------------------------------------

    def _after(self, http_response: Any, parsed: dict[str, Any], model: Any, **kwargs: Any) -> None:
        service = model.service_model.service_name
        op = model.name
        params: dict[str, Any] = (kwargs.get("context") or {}).get("conveyor_params", {})
        failed = "Error" in parsed
        units: defaultdict[str, float] = defaultdict(float)
        if service == "sqs":
            units["sqs_requests"] += self._sqs(op, params, parsed)
        elif service == "dynamodb":
            self._dynamo(op, params, parsed, failed, units)
        elif service == "s3":
            if op in ("PutObject", "CopyObject", "ListObjectsV2", "CreateBucket"):
                units["s3_put"] += 1
            elif op in ("GetObject", "HeadObject"):
                units["s3_get"] += 1
        elif service == "events" and op == "PutEvents":
            units["events"] += sum(chunks(event_entry_bytes(e)) for e in params.get("Entries", []))
        elif service == "scheduler" and op == "CreateSchedule":
            units["scheduler"] += 1
        elif service == "lambda" and op == "Invoke":
            units["lambda_requests"] += 1
        self.add(service, op, units)

    @staticmethod
    def _sqs(op: str, params: Mapping[str, Any], parsed: Mapping[str, Any]) -> int:
        if op == "SendMessage":
            return chunks(_message_bytes(params))
        if op == "SendMessageBatch":
            return chunks(sum(_message_bytes(e) for e in params.get("Entries", [])))
        if op == "ReceiveMessage":
            return chunks(sum(_message_bytes(m) for m in parsed.get("Messages", [])))
        return 1

    # -- DynamoDB -------------------------------------------------------------------------

    def _key(self, table: str, key: Mapping[str, Any]) -> tuple[str, str]:
        return table, json.dumps(key, sort_keys=True)

    def _item_key(self, table: str, item: Mapping[str, Any]) -> tuple[str, str]:
        return self._key(table, {"id": item.get("id")})

    def _indexes(self, table: str, item: Mapping[str, Any]) -> int:
        return sum(1 for keys in self.gsi_keys.get(table, []) if all(k in item for k in keys))

    def _remember(self, where: tuple[str, str], size: int | None) -> None:
        with self._lock:
            if size is None:
                self.sizes.pop(where, None)
            else:
                self.sizes[where] = size

    def _known(self, where: tuple[str, str]) -> int:
        with self._lock:
            return self.sizes.get(where, 0)

    def _dynamo(
        self,
        op: str,
        params: Mapping[str, Any],
        parsed: Mapping[str, Any],
        failed: bool,
        units: defaultdict[str, float],
    ) -> None:
        table = params.get("TableName", "")
        if op == "PutItem":
            item = params["Item"]
            where = self._item_key(table, item)
            old_item = parsed.get("Item") if failed else parsed.get("Attributes")
            old = item_size(old_item) if old_item else self._known(where)
            new = item_size(item)
            units["ddb_wru"] += math.ceil(max(old, new, 1) / KB)
            if not failed:
                units["ddb_wru"] += self._indexes(table, item)
                self._remember(where, new)
            elif old_item:
                self._remember(where, old)
        elif op == "UpdateItem":
            where = self._key(table, params["Key"])
            old_item = parsed.get("Item") if failed else None
            old = item_size(old_item) if old_item else self._known(where)
            new_item = None if failed else parsed.get("Attributes")
            new = item_size(new_item) if new_item and params.get("ReturnValues") == "ALL_NEW" else 0
            units["ddb_wru"] += math.ceil(max(old, new, 1) / KB)
            if new:
                self._remember(where, new)
        elif op == "DeleteItem":
            where = self._key(table, params["Key"])
            old = self._known(where)
            units["ddb_wru"] += math.ceil(max(old, 1) / KB)
            if not failed:
                self._remember(where, None)
        elif op == "BatchWriteItem":
            for name, writes in params.get("RequestItems", {}).items():
                for write in writes:
                    item = write.get("PutRequest", {}).get("Item")
                    units["ddb_wru"] += math.ceil(max(item_size(item), 1) / KB) if item else 1
                    if item:
                        units["ddb_wru"] += self._indexes(name, item)
        elif op == "TransactWriteItems":
            for entry in params.get("TransactItems", []):
                put = entry.get("Put")
                size = item_size(put["Item"]) if put else KB
                units["ddb_wru"] += 2 * math.ceil(size / KB)
                if put and not failed:
                    units["ddb_wru"] += 2 * self._indexes(put["TableName"], put["Item"])
        elif op == "GetItem":
            item = parsed.get("Item")
            size = item_size(item) if item else 0
            if item:
                self._remember(self._key(table, params["Key"]), size)
            units["ddb_rru"] += chunks(size, 4 * KB) * self._read_factor(params)
        elif op == "BatchGetItem":
            for name, items in parsed.get("Responses", {}).items():
                factor = self._read_factor(params.get("RequestItems", {}).get(name, {}))
                for item in items:
                    size = item_size(item)
                    self._remember(self._item_key(name, item), size)
                    units["ddb_rru"] += chunks(size, 4 * KB) * factor
        elif op in ("Query", "Scan"):
            items = parsed.get("Items", [])
            size = sum(item_size(i) for i in items)
            skipped = max(0, int(parsed.get("ScannedCount", len(items))) - len(items))
            size += skipped * (size // len(items) if items else DEFAULT_ITEM_BYTES)
            units["ddb_rru"] += chunks(size, 4 * KB) * self._read_factor(params)

    @staticmethod
    def _read_factor(params: Mapping[str, Any]) -> float:
        return 1.0 if params.get("ConsistentRead") else 0.5


def _keep_params(params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
    """Keeps the request's parameters in its context for the ``after-call`` hook."""
    context["conveyor_params"] = params

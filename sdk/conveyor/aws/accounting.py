"""Count AWS requests and billable units, by hooking botocore's event system.

Attach a ``RequestCounter`` to any boto3 client (or every client of an ``AwsClients``);
it counts each API call by service and operation, and the units AWS bills:

* SQS: one request per call, except sends, which bill each 64 KiB chunk of the bodies;
* DynamoDB: write request units (1 per KB, rounded up per item; a transactional write
  costs 2; each KEYS_ONLY index an inserted item lands in costs 1 more) and read request
  units (per 4 KB; eventually consistent reads cost half);
* S3 PUT/GET, EventBridge PutEvents entries (64 KB chunks), Scheduler creations.

The units follow AWS's published billing rules from the request and response bodies; they
are estimates of the bill, exact for the small items Conveyor writes.
"""

from __future__ import annotations

import math
import threading
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from typing import Any

from .codec import item_size

KB = 1024
SQS_CHUNK = 64 * KB


class RequestCounter:
    """Thread-safe counters: ``requests[(service, op)]`` and ``units[name]``."""

    def __init__(self, gsi_keys: Mapping[str, Iterable[tuple[str, ...]]] | None = None) -> None:
        #: table name -> key attribute tuples of its KEYS_ONLY indexes.
        self.gsi_keys = {t: [tuple(k) for k in v] for t, v in (gsi_keys or {}).items()}
        self.requests: Counter[tuple[str, str]] = Counter()
        self.units: defaultdict[str, float] = defaultdict(float)
        self._lock = threading.Lock()

    # -- wiring ---------------------------------------------------------------------------

    def attach(self, client: Any) -> Any:
        events = client.meta.events
        events.register("provide-client-params.*.*", self._before, unique_id=f"cnt-b-{id(self)}")
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

    # -- hooks ----------------------------------------------------------------------------

    def _before(self, params: dict[str, Any], model: Any, **_: Any) -> None:
        service = model.service_model.service_name
        op = model.name
        units: Counter[str] = Counter()
        if service == "sqs":
            if op == "SendMessage":
                units["sqs_requests"] += math.ceil(
                    max(1, len(params.get("MessageBody", "").encode())) / SQS_CHUNK
                )
            elif op == "SendMessageBatch":
                size = sum(len(e.get("MessageBody", "").encode()) for e in params["Entries"])
                units["sqs_requests"] += math.ceil(max(1, size) / SQS_CHUNK)
            else:
                units["sqs_requests"] += 1
        elif service == "dynamodb":
            self._dynamo_before(op, params, units)
        elif service == "s3":
            if op in ("PutObject", "CopyObject", "ListObjectsV2", "CreateBucket"):
                units["s3_put"] += 1
            elif op in ("GetObject", "HeadObject"):
                units["s3_get"] += 1
        elif service == "events" and op == "PutEvents":
            for entry in params.get("Entries", []):
                size = len(str(entry.get("Detail", ""))) + len(entry.get("DetailType", ""))
                units["events"] += math.ceil(max(1, size) / SQS_CHUNK)
        elif service == "scheduler" and op == "CreateSchedule":
            units["scheduler"] += 1
        elif service == "lambda" and op == "Invoke":
            units["lambda_requests"] += 1
        with self._lock:
            self.requests[(service, op)] += 1
            for name, amount in units.items():
                self.units[name] += amount

    def _gsi_writes(self, table: str, item: Mapping[str, Any]) -> int:
        return sum(1 for keys in self.gsi_keys.get(table, []) if all(k in item for k in keys))

    def _dynamo_before(self, op: str, params: dict[str, Any], units: Counter[str]) -> None:
        if op == "PutItem":
            item = params["Item"]
            units["ddb_wru"] += math.ceil(item_size(item) / KB)
            units["ddb_wru"] += self._gsi_writes(params["TableName"], item)
        elif op == "DeleteItem":
            units["ddb_wru"] += 1
        elif op == "BatchWriteItem":
            for table, writes in params["RequestItems"].items():
                for write in writes:
                    item = write.get("PutRequest", {}).get("Item")
                    units["ddb_wru"] += math.ceil(item_size(item) / KB) if item else 1
                    if item:
                        units["ddb_wru"] += self._gsi_writes(table, item)
        elif op == "TransactWriteItems":
            for entry in params["TransactItems"]:
                put = entry.get("Put")
                size = item_size(put["Item"]) if put else KB
                units["ddb_wru"] += 2 * math.ceil(size / KB)
                if put:
                    units["ddb_wru"] += 2 * self._gsi_writes(put["TableName"], put["Item"])

    def _after(self, http_response: Any, parsed: dict[str, Any], model: Any, **_: Any) -> None:
        service = model.service_model.service_name
        if service != "dynamodb":
            return
        op = model.name
        units = 0.0
        if op == "UpdateItem":
            attrs = parsed.get("Attributes") or {}
            units = math.ceil(max(1, item_size(attrs)) / KB)
            with self._lock:
                self.units["ddb_wru"] += units
            return
        if op == "GetItem":
            units = math.ceil(max(1, item_size(parsed.get("Item") or {})) / (4 * KB))
        elif op == "BatchGetItem":
            for items in parsed.get("Responses", {}).values():
                units += sum(math.ceil(max(1, item_size(i)) / (4 * KB)) for i in items)
        elif op in ("Query", "Scan"):
            size = sum(item_size(i) for i in parsed.get("Items", []))
            units = max(1, math.ceil(size / (4 * KB))) * 0.5
        else:
            return
        with self._lock:
            self.units["ddb_rru"] += units

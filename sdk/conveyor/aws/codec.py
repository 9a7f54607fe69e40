"""TaskRecord <-> DynamoDB item. Short attribute names keep the item (and every WRU) small.

``res`` holds JSON text, so results keep their exact JSON types (no Decimal).
``ttl`` is ``purge_at`` in epoch *seconds*, the unit DynamoDB TTL wants.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

from ..model import TaskError, TaskRecord, TaskState

#: record field -> item attribute.
ATTR: dict[str, str] = {
    "task_id": "id",
    "task_type": "type",
    "tenant": "tenant",
    "priority": "prio",
    "state": "state",
    "lane": "lane",
    "payload_sha256": "sha",
    "payload_size": "size",
    "created_at": "created",
    "payload_ref": "pref",
    "attempts": "att",
    "throttles": "thr",
    "starts": "tok",
    "owner": "own",
    "queued_at": "queued",
    "started_at": "started",
    "finished_at": "finished",
    "not_before": "nb",
    "expires_at": "exp",
    "dedup_until": "dedup",
    "lease_until": "lease",
    "cancel_requested": "cxl",
    "result": "res",
    "result_ref": "rref",
    "error": "err",
    "tags": "tags",
    "queue_wait_ms": "qw",
    "retry_wait_ms": "rw",
    "run_ms": "run",
    "schedule_name": "sched",
    "history": "hist",
    "purge_at": "ttl",
    "trace_parent": "tp",
    "version": "ver",
}
FIELD = {v: k for k, v in ATTR.items()}
FIELD["utype"] = "task_type"  # an unindexed type's name (see DynamoTaskStore)
_ser = TypeSerializer()
_de = TypeDeserializer()


def encode_value(field: str, value: Any) -> Any:
    """The plain Python value stored for ``field`` (before DynamoDB typing)."""
    if field == "state":
        return TaskState(value).value
    if field == "result":
        return json.dumps(value, separators=(",", ":"))
    if field == "error":
        return value.to_dict() if isinstance(value, TaskError) else value
    if field in ("tags", "history"):
        return [dict(v) if isinstance(v, dict) else v for v in value] if value else None
    if field == "purge_at":
        return None if value is None else int(value) // 1000
    if field == "cancel_requested":
        return True if value else None
    return value


def typed(value: Any) -> dict[str, Any]:
    result: dict[str, Any] = _ser.serialize(value)
    return result


def to_item(record: TaskRecord) -> dict[str, Any]:
    item: dict[str, Any] = {}
    for field, attr in ATTR.items():
        value = encode_value(field, getattr(record, field))
        if value is None or (field == "result" and record.result is None):
            continue
        item[attr] = typed(value)
    return item


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def from_item(item: Mapping[str, Any]) -> TaskRecord:
    raw = {attr: _plain(_de.deserialize(v)) for attr, v in item.items()}
    kwargs: dict[str, Any] = {}
    for attr, value in raw.items():
        field = FIELD.get(attr)
        if field is None:
            continue
        if field == "state":
            value = TaskState(value)
        elif field == "result":
            value = json.loads(value)
        elif field == "error":
            value = TaskError.from_dict(value)
        elif field in ("tags", "history"):
            value = tuple(value)
        elif field == "purge_at":
            value = int(value) * 1000
        elif field == "cancel_requested":
            value = bool(value)
        kwargs[field] = value
    return TaskRecord(**kwargs)


def item_size(item: Mapping[str, Any]) -> int:
    """DynamoDB's billing size of a typed item, bytes (names + values, approximately)."""
    return sum(len(name.encode()) + _value_size(v) for name, v in item.items())


def _value_size(typed_value: Mapping[str, Any]) -> int:
    ((kind, value),) = typed_value.items()
    if kind == "S":
        return len(value.encode())
    if kind == "N":
        return max(1, (len(str(value).lstrip("-").replace(".", "")) + 1) // 2 + 1)
    if kind == "B":
        return len(value)
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "M":
        return 3 + sum(len(k.encode()) + _value_size(v) + 1 for k, v in value.items())
    if kind == "L":
        return 3 + sum(_value_size(v) + 1 for v in value)
    if kind in ("SS", "NS", "BS"):
        return sum(len(str(v)) for v in value)
    return 0

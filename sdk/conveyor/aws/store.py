"""DynamoTaskStore: one DynamoDB table, one item per task, conditional writes only.

Table ``{prefix}-tasks``: partition key ``id`` (S). One *sparse* global secondary index,
``by_type`` (partition ``type``, sort ``id``, KEYS_ONLY projection): types declared
``indexed=True`` (the default) store their name in ``type``; the others keep it in
``utype``, so stay out of the index. An indexed task costs one extra WRU (on the insert;
the keys never change); listing an indexed type reads its keys and then the records (BatchGetItem).
Listing any other type, or with no type, scans the table with a filter. A second index
(by tenant, by state) would multiply write cost, so tenant and state are filters.

A listing returns one page: it reads at most ``limit`` stored items and returns those
that match, with a cursor if there is more -- so a page can be short, even empty, and a
caller never pays for more than it gets back plus one page. Listings read eventually
consistent (the index is, anyway); ``get`` reads strongly consistent. ``ttl`` is the
DynamoDB TTL attribute, set when a task finishes.
"""

from __future__ import annotations

import base64
import builtins
import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from ..errors import InvalidTransition, TaskNotFound
from ..model import TERMINAL, TaskRecord, TaskState, allowed_sources
from ..ports import Page
from .codec import ATTR, encode_value, from_item, to_item, typed

GSI_BY_TYPE = "by_type"
#: The key attributes of ``GSI_BY_TYPE``: a task item (it has both) is written to it too.
GSI_KEYS = ("type", "id")
#: Where an unindexed type's name is stored (any attribute but the index key ``type``).
UNINDEXED_TYPE = "utype"


def unindexed_types(catalog: Iterable[Any]) -> frozenset[str]:
    """Names of the catalog's task types that are not ``indexed``."""
    return frozenset(t.name for t in catalog if not t.indexed)


def _cursor_out(key: Mapping[str, Any] | None) -> str | None:
    if not key:
        return None
    return base64.urlsafe_b64encode(json.dumps(key).encode()).decode()


def _cursor_in(cursor: str | None) -> dict[str, Any] | None:
    if not cursor:
        return None
    loaded: dict[str, Any] = json.loads(base64.urlsafe_b64decode(cursor.encode()))
    return loaded


def _any(parts: list[str]) -> str:
    """OR of conditions, parenthesized only when needed (DynamoDB rejects redundant ones)."""
    return parts[0] if len(parts) == 1 else "(" + " OR ".join(parts) + ")"


def _scan_filter(
    task_type: str | None, state: TaskState | None, tenant: str | None
) -> dict[str, Any]:
    """Scan parameters for the filters (applied after the read: they save transfer, not
    RRU). Tasks only: control items have no ``state``."""
    parts, names, values = ["attribute_exists(#s)"], {"#s": "state"}, {}
    if task_type is not None:
        parts.append("(#t = :t OR #u = :t)")
        names.update({"#t": "type", "#u": UNINDEXED_TYPE})
        values[":t"] = typed(task_type)
    if state is not None:
        parts.append("#s = :s")
        values[":s"] = typed(state.value)
    if tenant is not None:
        parts.append("#n = :n")
        names["#n"] = "tenant"
        values[":n"] = typed(tenant)
    params: dict[str, Any] = {
        "FilterExpression": " AND ".join(parts),
        "ExpressionAttributeNames": names,
    }
    if values:
        params["ExpressionAttributeValues"] = values
    return params


def _token(expect_starts: int | None, names: dict[str, str], values: dict[str, Any]) -> str:
    """The fencing-token clause (``starts`` is absent, i.e. 0, before the first start)."""
    if expect_starts is None:
        return ""
    names["#tok"] = "tok"
    values[":tok"] = typed(expect_starts)
    if expect_starts == 0:
        return " AND (attribute_not_exists(#tok) OR #tok = :tok)"
    return " AND #tok = :tok"


class DynamoTaskStore:
    def __init__(self, dynamodb: Any, table: str, *, unindexed: Iterable[str] = ()) -> None:
        self.ddb = dynamodb
        self.table = table
        #: Task types kept out of the by_type index (see the module docstring).
        self.unindexed = frozenset(unindexed)

    def _item(self, record: TaskRecord) -> dict[str, Any]:
        item = to_item(record)
        if record.task_type in self.unindexed:
            item[UNINDEXED_TYPE] = item.pop(ATTR["task_type"])
        return item

    def create(self, record: TaskRecord, now_ms: int) -> tuple[TaskRecord, bool]:
        """Insert ``record`` unless its ID is taken; returns (the stored record, created).

        A PutItem whose reply is lost is sent again by botocore and then meets its own
        item. To tell that from someone else's, the caller gives the new record a random
        tag in ``owner`` (``Conveyor.submit`` does: 6 characters, 9 bytes of item; a
        start overwrites it, a finish removes it): a refusal that returns that tag on an
        unchanged item (same ``version``) was our own write, answered as created."""
        terminal = {f":t{i}": typed(s.value) for i, s in enumerate(sorted(TERMINAL))}
        try:
            self.ddb.put_item(
                TableName=self.table,
                Item=self._item(record),
                ConditionExpression=(
                    "attribute_not_exists(id) OR (#d < :now AND #s IN ("
                    + ", ".join(terminal)
                    + "))"
                ),
                ExpressionAttributeNames={"#d": "dedup", "#s": "state"},
                ExpressionAttributeValues={":now": typed(now_ms), **terminal},
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except self.ddb.exceptions.ConditionalCheckFailedException as exc:
            item = exc.response.get("Item")
            if item is None:  # pragma: no cover - AWS always returns it when asked
                existing = self.get(record.task_id)
                if existing is None:
                    raise
                return existing, False
            existing = from_item(item)
            return existing, existing.inserted_by(record)
        return record, True

    def get(self, task_id: str) -> TaskRecord | None:
        response = self.ddb.get_item(
            TableName=self.table, Key={"id": typed(task_id)}, ConsistentRead=True
        )
        item = response.get("Item")
        return from_item(item) if item else None

    def get_many(self, task_ids: Sequence[str]) -> dict[str, TaskRecord]:
        out: dict[str, TaskRecord] = {}
        ids = list(dict.fromkeys(task_ids))
        for start in range(0, len(ids), 100):
            keys: list[dict[str, Any]] = [{"id": typed(t)} for t in ids[start : start + 100]]
            while keys:
                response = self.ddb.batch_get_item(
                    RequestItems={self.table: {"Keys": keys, "ConsistentRead": True}}
                )
                for item in response.get("Responses", {}).get(self.table, []):
                    record = from_item(item)
                    out[record.task_id] = record
                keys = response.get("UnprocessedKeys", {}).get(self.table, {}).get("Keys", [])
        return out

    def _update(
        self,
        task_id: str,
        changes: Mapping[str, Any],
        condition: str,
        names: dict[str, str],
        values: dict[str, Any],
        increments: Mapping[str, int] | None = None,
    ) -> TaskRecord:
        sets, removes = ["ver = if_not_exists(ver, :zero) + :one"], []
        values = {**values, ":zero": typed(0), ":one": typed(1)}
        for index, (field, amount) in enumerate((increments or {}).items()):
            names[f"#i{index}"] = ATTR[field]
            values[f":i{index}"] = typed(amount)
            sets.append(f"#i{index} = if_not_exists(#i{index}, :zero) + :i{index}")
        for index, (field, value) in enumerate(changes.items()):
            attr = ATTR[field]
            names[f"#f{index}"] = attr
            stored = encode_value(field, value)
            if stored is None:
                removes.append(f"#f{index}")
            else:
                sets.append(f"#f{index} = :v{index}")
                values[f":v{index}"] = typed(stored)
        expression = "SET " + ", ".join(sets)
        if removes:
            expression += " REMOVE " + ", ".join(removes)
        try:
            response = self.ddb.update_item(
                TableName=self.table,
                Key={"id": typed(task_id)},
                UpdateExpression=expression,
                ConditionExpression="attribute_exists(id) AND " + condition,
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=values,
                ReturnValues="ALL_NEW",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except self.ddb.exceptions.ConditionalCheckFailedException as exc:
            item = exc.response.get("Item")
            if not item:
                raise TaskNotFound(f"no task {task_id!r}") from None
            current = from_item(item)
            raise InvalidTransition(
                f"task {task_id!r} is {current.state}; the change was refused", current
            ) from None
        return from_item(response["Attributes"])

    def transition(
        self,
        task_id: str,
        target: TaskState,
        changes: Mapping[str, Any],
        now_ms: int,
        *,
        expect_attempts: int | None = None,
        expect_starts: int | None = None,
        increments: Mapping[str, int] | None = None,
        lean: bool = False,
    ) -> TaskRecord:
        names = {"#s": "state"}
        values: dict[str, Any] = {}
        parts = []
        for i, source in enumerate(sorted(allowed_sources(target, lean=lean))):
            values[f":s{i}"] = typed(source.value)
            if source is TaskState.RUNNING and target is TaskState.RUNNING:
                names["#l"] = "lease"
                values[":now"] = typed(now_ms)
                parts.append(f"(#s = :s{i} AND #l < :now)")
            else:
                parts.append(f"#s = :s{i}")
        condition = _any(parts)
        if expect_attempts is not None:
            names["#a"] = "att"
            values[":att"] = typed(expect_attempts)
            condition += " AND #a = :att"
        condition += _token(expect_starts, names, values)
        all_changes = {"state": target, **changes}
        return self._update(task_id, all_changes, condition, names, values, increments)

    def update(
        self,
        task_id: str,
        changes: Mapping[str, Any],
        *,
        states: Iterable[TaskState],
        expect_starts: int | None = None,
    ) -> TaskRecord:
        names = {"#s": "state"}
        values: dict[str, Any] = {}
        parts = []
        for i, state in enumerate(states):
            values[f":s{i}"] = typed(state.value)
            parts.append(f"#s = :s{i}")
        condition = _any(parts) + _token(expect_starts, names, values)
        return self._update(task_id, changes, condition, names, values)

    def delete(self, task_id: str, *, state: TaskState) -> None:
        try:
            self.ddb.delete_item(
                TableName=self.table,
                Key={"id": typed(task_id)},
                ConditionExpression="#s = :s",
                ExpressionAttributeNames={"#s": "state"},
                ExpressionAttributeValues={":s": typed(state.value)},
            )
        except self.ddb.exceptions.ConditionalCheckFailedException:
            return

    def _read_page(
        self,
        params: dict[str, Any],
        task_type: str | None,
        state: TaskState | None,
        tenant: str | None,
    ) -> tuple[Sequence[TaskRecord], dict[str, Any] | None]:
        """One Query (indexed type) or Scan request: its task records and the next key."""
        if task_type is not None and task_type not in self.unindexed:
            response = self.ddb.query(
                IndexName=GSI_BY_TYPE,
                KeyConditionExpression="#t = :t",
                ExpressionAttributeNames={"#t": "type"},
                ExpressionAttributeValues={":t": typed(task_type)},
                **params,
            )
            ids = [item["id"]["S"] for item in response.get("Items", [])]
            records = self.peek_many(ids)
            batch = [records[i] for i in ids if i in records]
        else:
            response = self.ddb.scan(**params, **_scan_filter(task_type, state, tenant))
            batch = sorted(
                (from_item(i) for i in response.get("Items", []) if "state" in i),
                key=lambda r: r.task_id,
            )  # control items (pauses) have no state: they are not tasks
        return batch, response.get("LastEvaluatedKey")

    def list(
        self,
        *,
        task_type: str | None = None,
        state: TaskState | None = None,
        tenant: str | None = None,
        limit: int = 50,
        cursor: str | None = None,
    ) -> Page:
        found: list[TaskRecord] = []
        start, skipped = _cursor_in(cursor), 0
        while True:
            # Never evaluate more than the page can still return plus what it may still
            # skip: items read in all <= items returned + one page (``limit``).
            params: dict[str, Any] = {
                "TableName": self.table,
                "Limit": min(limit - len(found), limit - skipped),
            }
            if start:
                params["ExclusiveStartKey"] = start
            batch, start = self._read_page(params, task_type, state, tenant)
            matched = [
                r
                for r in batch
                if (state is None or r.state == state) and (tenant is None or r.tenant == tenant)
            ]
            found += matched
            skipped += params["Limit"] - len(matched)
            if not start or len(found) >= limit or skipped >= limit:
                return Page(found, _cursor_out(start))

    # -- pauses: one control item, two string sets ----------------------------------------

    _PAUSES = "ctl#pauses"

    def set_paused(self, kind: str, name: str, paused: bool) -> None:
        attr = {"type": "types", "tenant": "tenants"}[kind]
        self.ddb.update_item(
            TableName=self.table,
            Key={"id": typed(self._PAUSES)},
            UpdateExpression=("ADD " if paused else "DELETE ") + "#a :v",
            ExpressionAttributeNames={"#a": attr},
            ExpressionAttributeValues={":v": {"SS": [name]}},
        )

    def paused(self) -> frozenset[tuple[str, str]]:
        """The pause set, eventually consistent (0.5 RRU): dispatchers read it every
        couple of seconds while they pull, so a pause takes effect within that refresh
        plus DynamoDB's propagation (typically under a second) either way, at half the
        price of a consistent read."""
        item = self.ddb.get_item(TableName=self.table, Key={"id": typed(self._PAUSES)}).get(
            "Item", {}
        )
        return frozenset(
            [("type", n) for n in item.get("types", {}).get("SS", [])]
            + [("tenant", n) for n in item.get("tenants", {}).get("SS", [])]
        )

    # -- for the reconciler (``runtime.reconciler.ReconcileStore``) -----------------------

    def keys_by_type(
        self,
        task_type: str,
        *,
        lo: str | None = None,
        hi: str | None = None,
        cursor: str | None = None,
        limit: int = 1000,
    ) -> tuple[builtins.list[str], str | None]:
        """IDs of ``task_type`` in ``[lo, hi]``, in ID order, one page after ``cursor``.

        One eventually consistent Query of the KEYS_ONLY ``by_type`` index: ~60 bytes a
        key, so about 130 keys per read unit (0.5 RRU per 4 KB)."""
        condition = "#t = :t"
        values: dict[str, Any] = {":t": typed(task_type)}
        if lo is not None and hi is not None:
            condition += " AND #i BETWEEN :lo AND :hi"
            values.update({":lo": typed(lo), ":hi": typed(hi)})
        elif lo is not None:
            condition += " AND #i >= :lo"
            values[":lo"] = typed(lo)
        elif hi is not None:
            condition += " AND #i <= :hi"
            values[":hi"] = typed(hi)
        params: dict[str, Any] = {
            "TableName": self.table,
            "IndexName": GSI_BY_TYPE,
            "KeyConditionExpression": condition,
            "ExpressionAttributeNames": {
                "#t": "type",
                **({"#i": "id"} if "#i" in condition else {}),
            },
            "ExpressionAttributeValues": values,
            "Limit": limit,
        }
        start = _cursor_in(cursor)
        if start:
            params["ExclusiveStartKey"] = start
        response = self.ddb.query(**params)
        ids = [item["id"]["S"] for item in response.get("Items", [])]
        return ids, _cursor_out(response.get("LastEvaluatedKey"))

    def peek_many(self, task_ids: Sequence[str]) -> dict[str, TaskRecord]:
        """Like ``get_many`` but eventually consistent: half the read units (0.5 RRU per
        record up to 4 KB), for readers a second-old state cannot mislead."""
        out: dict[str, TaskRecord] = {}
        ids = list(dict.fromkeys(task_ids))
        for start in range(0, len(ids), 100):
            keys: builtins.list[dict[str, Any]] = [
                {"id": typed(t)} for t in ids[start : start + 100]
            ]
            while keys:
                response = self.ddb.batch_get_item(RequestItems={self.table: {"Keys": keys}})
                for item in response.get("Responses", {}).get(self.table, []):
                    record = from_item(item)
                    out[record.task_id] = record
                keys = response.get("UnprocessedKeys", {}).get(self.table, {}).get("Keys", [])
        return out

    _MARKER = "ctl#marker#"

    def read_marker(self, name: str) -> str | None:
        item = self.ddb.get_item(
            TableName=self.table, Key={"id": typed(self._MARKER + name)}, ConsistentRead=True
        ).get("Item")
        return str(item["v"]["S"]) if item and "v" in item else None

    def write_marker(self, name: str, value: str) -> None:
        self.ddb.put_item(
            TableName=self.table, Item={"id": typed(self._MARKER + name), "v": typed(value)}
        )

    def scan_unfinished(
        self, *, cursor: str | None = None, limit: int = 1000
    ) -> tuple[builtins.list[TaskRecord], str | None]:
        """One page of an eventually consistent Scan for the records QUEUED, SCHEDULED,
        RUNNING or FAILED. DynamoDB bills what the page reads (0.5 RRU per 4 KB of items,
        matching or not); ``limit`` caps the items read per page."""
        states = [TaskState.QUEUED, TaskState.SCHEDULED, TaskState.RUNNING, TaskState.FAILED]
        params: dict[str, Any] = {
            "TableName": self.table,
            "FilterExpression": "#s IN (" + ", ".join(f":s{i}" for i in range(len(states))) + ")",
            "ExpressionAttributeNames": {"#s": "state"},
            "ExpressionAttributeValues": {f":s{i}": typed(s.value) for i, s in enumerate(states)},
            "Limit": limit,
        }
        start = _cursor_in(cursor)
        if start:
            params["ExclusiveStartKey"] = start
        response = self.ddb.scan(**params)
        records = [from_item(item) for item in response.get("Items", [])]
        return records, _cursor_out(response.get("LastEvaluatedKey"))

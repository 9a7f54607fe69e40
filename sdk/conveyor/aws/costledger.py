"""Where attributed AWS units are kept: per process and hour, in the task table.

Each process that counts (``AttributingCounter``) owns one item per UTC hour,
``ctl#cost#<yyyymmddhh>#<process>``, holding its cumulative units for that hour per
(tenant, type) as compact JSON, rewritten by each flush (a put is idempotent: a retried
or repeated flush changes nothing). The hour's item ``ctl#cost#<yyyymmddhh>`` lists the
processes that wrote (a string set grown with ADD, which is atomic, so processes never
race). ``ctl#`` items are control items: listings skip them and they have no ``type``, so
no index holds them.

Cost: one PutItem per process per flush (every 60 s, ~1 WRU while the hour's JSON stays
under 1 KB, i.e. a few dozen (tenant, type) pairs; more pairs, more KB) plus one UpdateItem
per process per hour: about 1,500 WRU a month for a process, ~$0.001. Reading a day is
one BatchGetItem per 100 items. Units of a process that dies are lost since its last
flush (at most one interval).
"""

from __future__ import annotations

import json
import threading
import uuid
from abc import ABC, abstractmethod
from collections import defaultdict
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from .attribution import Key

PREFIX = "ctl#cost#"
HOUR_MS = 3_600_000


def hour_of(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y%m%d%H")


def hours_between(since_ms: int, until_ms: int) -> list[str]:
    """UTC hours touching [since, until], oldest first."""
    start = datetime.fromtimestamp(since_ms / 1000, UTC).replace(minute=0, second=0, microsecond=0)
    end = datetime.fromtimestamp(until_ms / 1000, UTC)
    out = []
    while start <= end:
        out.append(start.strftime("%Y%m%d%H"))
        start += timedelta(hours=1)
    return out


Units = dict[Key, dict[str, float]]


def _encode(units: Units) -> str:
    rows = [[t, ty, {k: round(v, 6) for k, v in u.items()}] for (t, ty), u in sorted(units.items())]
    return json.dumps(rows, separators=(",", ":"))


def _decode(text: str) -> Units:
    out: Units = {}
    for tenant, task_type, units in json.loads(text):
        out[(str(tenant), str(task_type))] = {str(k): float(v) for k, v in units.items()}
    return out


def merge(
    into: defaultdict[Key, defaultdict[str, float]], units: Mapping[Key, Mapping[str, float]]
) -> None:
    for key, named in units.items():
        for name, amount in named.items():
            into[key][name] += amount


def _table() -> defaultdict[Key, defaultdict[str, float]]:
    return defaultdict(lambda: defaultdict(float))


class CostLedger(ABC):
    """``add`` attributed units as they come, ``flush`` them, ``read`` a time range."""

    def __init__(self, process: str | None = None) -> None:
        self.process = process or uuid.uuid4().hex[:12]
        self._hours: dict[str, defaultdict[Key, defaultdict[str, float]]] = {}
        self._dirty: set[str] = set()
        self._registered: set[str] = set()
        self._lock = threading.Lock()

    def add(self, units: Mapping[Key, Mapping[str, float]], now_ms: int) -> None:
        if not units:
            return
        hour = hour_of(now_ms)
        with self._lock:
            merge(self._hours.setdefault(hour, _table()), units)
            self._dirty.add(hour)
            for old in [h for h in self._hours if h < hour and h not in self._dirty]:
                del self._hours[old]  # flushed and over: no longer written

    def flush(self) -> int:
        """Write every hour changed since the last flush; returns the items written. A
        failed write keeps its hour dirty for the next flush."""
        with self._lock:
            dirty = sorted(self._dirty)
            snapshot = {h: {k: dict(v) for k, v in self._hours[h].items()} for h in dirty}
        written = 0
        for hour in dirty:
            if hour not in self._registered:
                self._register(hour)
                self._registered.add(hour)
            self._put(hour, _encode(snapshot[hour]))
            with self._lock:
                self._dirty.discard(hour)
            written += 1
        return written

    def read(self, since_ms: int, until_ms: int) -> Units:
        """Units of every process in the hours touching [since, until] (whole hours)."""
        total = _table()
        for hour in hours_between(since_ms, until_ms):
            for text in self._texts(hour):
                merge(total, _decode(text))
        return {k: dict(v) for k, v in total.items()}

    # -- storage (the in-memory twin or the table) ------------------------------------------

    @abstractmethod
    def _register(self, hour: str) -> None: ...

    @abstractmethod
    def _put(self, hour: str, text: str) -> None: ...

    @abstractmethod
    def _texts(self, hour: str) -> list[str]: ...


class MemoryCostLedger(CostLedger):
    """The twin: processes sharing one ``shared`` dict see each other's flushes."""

    def __init__(
        self, process: str | None = None, shared: dict[str, dict[str, str]] | None = None
    ) -> None:
        super().__init__(process)
        self.shared: dict[str, dict[str, str]] = {} if shared is None else shared

    def _register(self, hour: str) -> None:
        self.shared.setdefault(hour, {})

    def _put(self, hour: str, text: str) -> None:
        self.shared.setdefault(hour, {})[self.process] = text

    def _texts(self, hour: str) -> list[str]:
        return list(self.shared.get(hour, {}).values())


class DynamoCostLedger(CostLedger):
    def __init__(self, dynamodb: Any, table: str, process: str | None = None) -> None:
        super().__init__(process)
        self.ddb = dynamodb
        self.table = table

    def _register(self, hour: str) -> None:
        self.ddb.update_item(
            TableName=self.table,
            Key={"id": {"S": PREFIX + hour}},
            UpdateExpression="ADD procs :p",
            ExpressionAttributeValues={":p": {"SS": [self.process]}},
        )

    def _put(self, hour: str, text: str) -> None:
        self.ddb.put_item(
            TableName=self.table,
            Item={"id": {"S": f"{PREFIX}{hour}#{self.process}"}, "u": {"S": text}},
        )

    def _texts(self, hour: str) -> list[str]:
        index = self.ddb.get_item(
            TableName=self.table, Key={"id": {"S": PREFIX + hour}}, ConsistentRead=True
        ).get("Item")
        procs = sorted(index.get("procs", {}).get("SS", [])) if index else []
        texts: list[str] = []
        for start in range(0, len(procs), 100):
            keys = [{"id": {"S": f"{PREFIX}{hour}#{p}"}} for p in procs[start : start + 100]]
            while keys:
                reply = self.ddb.batch_get_item(
                    RequestItems={self.table: {"Keys": keys, "ConsistentRead": True}}
                )
                texts += [i["u"]["S"] for i in reply.get("Responses", {}).get(self.table, [])]
                keys = reply.get("UnprocessedKeys", {}).get(self.table, {}).get("Keys", [])
        return texts


def ledger_of(store: Any) -> CostLedger | None:
    """The ledger a deployment's task store keeps (its table), for reading; None for a
    store without one (the in-memory store keeps no ledger unless given one)."""
    ledger = getattr(store, "cost_ledger", None)
    if isinstance(ledger, CostLedger):
        return ledger
    ddb, table = getattr(store, "ddb", None), getattr(store, "table", None)
    if ddb is None or not isinstance(table, str):
        return None
    return DynamoCostLedger(ddb, table, process="reader")

"""DynamoControl: the multi-tenant control plane, as a few small items in the tasks table.

Items (ids start with ``ctl#``, which no task ID can: task IDs have no ``#``):

* ``ctl#routes``   -- the dynamic pool's routing table: ``doc`` (JSON: tenant -> route),
  ``ver`` (bumped by every write) and ``by`` (a nonce of the write). Writes are
  conditional on ``ver``; a write whose reply was lost is recognised on botocore's retry
  by its nonce and the version it produced, so it is not mistaken for a lost race.
* ``ctl#members``  -- one attribute ``mem_<member>`` per live dispatcher: the epoch
  second its heartbeat expires. A heartbeat is one idempotent UpdateItem.
* ``ctl#signal``   -- one attribute ``sig_<member>`` per dispatcher: its back-pressure
  signal and the depths of the lanes it serves (JSON). Readers combine them (overloaded
  if any is; heavy tenants united; depths merged), so each dispatcher reports what it
  sees and nobody overwrites anybody. Producers read this one item to pick the shorter
  of a tenant's lanes, instead of asking SQS for every lane's depth themselves.
* ``ctl#lease#<lane>`` -- who serves a lane, until when. Acquire is conditional (free,
  expired, or already mine), so a retried acquire after a lost reply still succeeds and
  two members never hold one lane.

Costs (on-demand list prices): a heartbeat or lease renewal is 1 WRU; readers use one
eventually consistent GetItem (0.5 RRU) per cache period. With 24 lanes renewed every
10 s that is 207,360 WRU a day, $0.13/day, at any load.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from ..policy.backpressure import Signal, combine
from ..policy.pool import Route
from ..ports import ControlView, RouteTable
from .codec import typed

ROUTES = "ctl#routes"
MEMBERS = "ctl#members"
SIGNALS = "ctl#signal"
LEASE = "ctl#lease#"


def _seconds(value: float) -> dict[str, str]:
    """Epoch seconds as a DynamoDB number, to the millisecond."""
    return {"N": f"{value:.3f}"}


def _route_doc(routes: Mapping[str, Route]) -> str:
    return json.dumps(
        {
            t: {
                "lane": r.lane,
                "version": r.version,
                "since": r.since,
                "expires_at": r.expires_at,
                "draining": r.draining,
            }
            for t, r in sorted(routes.items())
        },
        separators=(",", ":"),
    )


def _routes_from(doc: str) -> dict[str, Route]:
    data = json.loads(doc)
    return {
        tenant: Route(
            tenant,
            str(r["lane"]),
            int(r["version"]),
            float(r["since"]),
            float(r["expires_at"]),
            bool(r.get("draining", False)),
        )
        for tenant, r in data.items()
    }


class DynamoControl:
    def __init__(self, dynamodb: Any, table: str) -> None:
        self.ddb = dynamodb
        self.table = table

    def _get(self, key: str, consistent: bool = False) -> dict[str, Any]:
        item: dict[str, Any] = self.ddb.get_item(
            TableName=self.table, Key={"id": typed(key)}, ConsistentRead=consistent
        ).get("Item", {})
        return item

    # -- routes ---------------------------------------------------------------------------

    def routes(self, consistent: bool = False) -> RouteTable:
        item = self._get(ROUTES, consistent)
        if not item:
            return RouteTable(0, {})
        return RouteTable(int(item["ver"]["N"]), _routes_from(item["doc"]["S"]))

    def put_routes(self, routes: Mapping[str, Route], expect_version: int) -> bool:
        """Replace the routing table iff it is still at ``expect_version``; False when
        another writer got there first."""
        new_version = expect_version + 1
        nonce = uuid.uuid4().hex  # botocore's retries of this call resend the same nonce
        condition = "attribute_not_exists(id)" if expect_version == 0 else "ver = :expected"
        values: dict[str, Any] = {} if expect_version == 0 else {":expected": typed(expect_version)}
        try:
            self.ddb.put_item(
                TableName=self.table,
                Item={
                    "id": typed(ROUTES),
                    "ver": typed(new_version),
                    "by": typed(nonce),
                    "doc": typed(_route_doc(routes)),
                },
                ConditionExpression=condition,
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
                **({"ExpressionAttributeValues": values} if values else {}),
            )
        except self.ddb.exceptions.ConditionalCheckFailedException as exc:
            old = exc.response.get("Item") or {}
            mine = old.get("by", {}).get("S") == nonce
            return mine and int(old.get("ver", {}).get("N", "0")) == new_version
        return True

    # -- members and signals --------------------------------------------------------------

    def _set_attr(self, key: str, attr: str, value: dict[str, Any]) -> None:
        self.ddb.update_item(
            TableName=self.table,
            Key={"id": typed(key)},
            UpdateExpression="SET #a = :v",
            ExpressionAttributeNames={"#a": attr},
            ExpressionAttributeValues={":v": value},
        )

    def _remove_attr(self, key: str, attr: str) -> None:
        self.ddb.update_item(
            TableName=self.table,
            Key={"id": typed(key)},
            UpdateExpression="REMOVE #a",
            ExpressionAttributeNames={"#a": attr},
        )

    def heartbeat(self, member: str, until: float) -> None:
        self._set_attr(MEMBERS, f"mem_{member}", _seconds(until))

    def leave(self, member: str) -> None:
        self._remove_attr(MEMBERS, f"mem_{member}")
        self._remove_attr(SIGNALS, f"sig_{member}")

    def members(self) -> dict[str, float]:
        item = self._get(MEMBERS, consistent=True)
        return {k[4:]: float(v["N"]) for k, v in item.items() if k.startswith("mem_")}

    def put_signal(
        self, member: str, signal: Signal, depths: Mapping[str, int] | None = None
    ) -> None:
        doc = {"signal": signal.to_dict(), "depths": dict(depths or {})}
        self._set_attr(SIGNALS, f"sig_{member}", typed(json.dumps(doc, separators=(",", ":"))))

    def view(self) -> ControlView:
        """Every dispatcher's signal combined and lane depths merged (one GetItem);
        malformed entries are skipped."""
        signals, depths = [], {}
        for key, value in self._get(SIGNALS).items():
            if not key.startswith("sig_"):
                continue
            try:
                doc = json.loads(value["S"])
                signals.append(Signal.from_dict(doc["signal"]))
                depths.update({str(k): int(v) for k, v in doc.get("depths", {}).items()})
            except (KeyError, ValueError, TypeError, AttributeError):
                continue
        return ControlView(combine(signals), depths)

    def signal(self) -> Signal | None:
        return self.view().signal

    # -- lane leases ----------------------------------------------------------------------

    def acquire(self, lane: str, member: str, now: float, until: float) -> bool:
        """Take or renew ``lane`` for ``member`` until ``until`` (epoch s). False when
        another member holds an unexpired lease."""
        try:
            self.ddb.put_item(
                TableName=self.table,
                Item={
                    "id": typed(LEASE + lane),
                    "owner": typed(member),
                    "until": _seconds(until),
                },
                ConditionExpression="attribute_not_exists(id) OR #u < :now OR #o = :me",
                ExpressionAttributeNames={"#u": "until", "#o": "owner"},
                ExpressionAttributeValues={":now": _seconds(now), ":me": typed(member)},
            )
        except self.ddb.exceptions.ConditionalCheckFailedException:
            return False
        return True

    def release(self, lane: str, member: str) -> None:
        """Give ``lane`` up at once (a no-op unless ``member`` holds it)."""
        try:
            self.ddb.delete_item(
                TableName=self.table,
                Key={"id": typed(LEASE + lane)},
                ConditionExpression="#o = :me",
                ExpressionAttributeNames={"#o": "owner"},
                ExpressionAttributeValues={":me": typed(member)},
            )
        except self.ddb.exceptions.ConditionalCheckFailedException:
            return

    def leases(self, lanes: Sequence[str]) -> dict[str, tuple[str, float]]:
        """Current holders: lane -> (owner, until), for the lanes that have a lease."""
        out: dict[str, tuple[str, float]] = {}
        keys = [{"id": typed(LEASE + lane)} for lane in lanes]
        for start in range(0, len(keys), 100):
            pending = keys[start : start + 100]
            while pending:
                response = self.ddb.batch_get_item(
                    RequestItems={self.table: {"Keys": pending, "ConsistentRead": True}}
                )
                for item in response.get("Responses", {}).get(self.table, []):
                    lane = item["id"]["S"][len(LEASE) :]
                    out[lane] = (item["owner"]["S"], float(item["until"]["N"]))
                pending = response.get("UnprocessedKeys", {}).get(self.table, {}).get("Keys", [])
        return out


__all__ = ["DynamoControl"]

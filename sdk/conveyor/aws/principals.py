"""DynamoPrincipals: who may act for which tenant at the HTTP edge, as one small item per
principal in the tasks table: ``ctl#principal#<arn>`` with ``tenant`` (S, optional) and
``admin`` (BOOL). Task IDs cannot contain ``#``, so these never collide with tasks.

Why an item and not the IAM principal tag ``conveyor:tenant``: API Gateway's IAM
authorizer passes the caller's ARN, not its tags, so reading a tag costs an IAM
``GetRole``/``GetUser`` per principal (a global, low-rate API, and an IAM read permission
for the submit function); the item costs one eventually consistent GetItem (0.5 RRU),
cached per function instance, and the platform owner manages it with their own
credentials. Writes are plain puts: the latest grant wins.
"""

from __future__ import annotations

from typing import Any

from ..ports import Grant
from .codec import typed

PRINCIPAL = "ctl#principal#"


class DynamoPrincipals:
    def __init__(self, dynamodb: Any, table: str) -> None:
        self.ddb = dynamodb
        self.table = table

    def lookup(self, principal: str) -> Grant | None:
        item = self.ddb.get_item(TableName=self.table, Key={"id": typed(PRINCIPAL + principal)})
        found = item.get("Item")
        if not found:
            return None
        tenant = found.get("tenant", {}).get("S")
        return Grant(tenant=tenant, admin=bool(found.get("admin", {}).get("BOOL", False)))

    def grant(self, principal: str, grant: Grant) -> None:
        item: dict[str, Any] = {"id": typed(PRINCIPAL + principal), "admin": {"BOOL": grant.admin}}
        if grant.tenant is not None:
            item["tenant"] = typed(grant.tenant)
        self.ddb.put_item(TableName=self.table, Item=item)

    def revoke(self, principal: str) -> None:
        self.ddb.delete_item(TableName=self.table, Key={"id": typed(PRINCIPAL + principal)})


__all__ = ["PRINCIPAL", "DynamoPrincipals"]

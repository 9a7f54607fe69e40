"""Lambda entry point of the HTTP submit API: thin by design (see conveyor.runtime.http_api).

The caller's tenant comes from the IAM principal API Gateway verified (``runtime.access``):
items ``ctl#principal#<arn>`` in the table, admins from ``CONVEYOR_ADMIN_PRINCIPALS``."""

from typing import Any

from aws_lambda_powertools import Logger

from conveyor.client import Conveyor
from conveyor.runtime.access import TenantAccess
from conveyor.runtime.http_api import handle

logger = Logger(service="conveyor-api")
_client: Conveyor | None = None
_access: TenantAccess | None = None


@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    global _client, _access
    if _client is None or _access is None:
        import os

        from conveyor.aws import AwsClients
        from conveyor.aws.principals import DynamoPrincipals
        from conveyor.catalog import load_catalog
        from conveyor.runtime.access import admins_from_env
        from conveyor.runtime.bootstrap import aws_runtime
        from conveyor.topology import Topology

        topology = Topology.from_env()
        clients = AwsClients()
        runtime = aws_runtime(load_catalog(os.environ["CONVEYOR_CATALOG"]), topology, clients)
        _client = runtime.client()
        _access = TenantAccess(
            DynamoPrincipals(clients.dynamodb, topology.table),
            runtime.clock,
            admins=admins_from_env(),
        )
    return handle(event, _client, _access)

"""Lambda entry point of the HTTP submit API: thin by design (see conveyor.runtime.http_api).

The caller's tenant comes from the IAM principal API Gateway verified (``runtime.access``):
items ``ctl#principal#<arn>`` in the table, admins from ``CONVEYOR_ADMIN_PRINCIPALS``."""

from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

from conveyor.client import Conveyor
from conveyor.runtime.access import TenantAccess
from conveyor.runtime.http_api import handle

logger = Logger(service="conveyor-api")
metrics = Metrics(namespace="Conveyor", service="conveyor-api")
_client: Conveyor | None = None
_access: TenantAccess | None = None
_meter: Any = None  # CostMeter: keeps what each tenant's submits cost


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    global _client, _access, _meter
    if _client is None or _access is None:
        import os

        from conveyor.aws.principals import DynamoPrincipals
        from conveyor.catalog import load_catalog
        from conveyor.runtime.access import admins_from_env
        from conveyor.runtime.bootstrap import aws_runtime
        from conveyor.runtime.costmeter import counting
        from conveyor.topology import Topology

        topology = Topology.from_env()
        clients, _meter = counting(topology)
        runtime = aws_runtime(load_catalog(os.environ["CONVEYOR_CATALOG"]), topology, clients)
        _client = runtime.client()
        _access = TenantAccess(
            DynamoPrincipals(clients.dynamodb, topology.table),
            runtime.clock,
            admins=admins_from_env(),
        )
    response = handle(event, _client, _access)
    if _meter is not None:
        _meter.maybe_flush()  # at most once a minute per container, never once per request
    status = int(response.get("statusCode", 0))
    metrics.add_metric(name="submits", unit=MetricUnit.Count, value=1 if status < 300 else 0)
    refused = int(status == 429)  # back-pressure: a heavy tenant's task, with Retry-After
    metrics.add_metric(name="backpressure_refusals", unit=MetricUnit.Count, value=refused)
    return response

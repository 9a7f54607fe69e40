"""Lambda entry point of the HTTP submit API: thin by design (see conveyor.runtime.http_api)."""

from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

from conveyor.client import Conveyor
from conveyor.runtime.http_api import handle

logger = Logger(service="conveyor-api")
metrics = Metrics(namespace="Conveyor", service="conveyor-api")
_client: Conveyor | None = None
_meter: Any = None  # CostMeter: keeps what each tenant's submits cost


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    global _client, _meter
    if _client is None:
        import os

        from conveyor.catalog import load_catalog
        from conveyor.runtime.bootstrap import aws_runtime
        from conveyor.runtime.costmeter import counting
        from conveyor.topology import Topology

        topology = Topology.from_env()
        clients, _meter = counting(topology)
        runtime = aws_runtime(load_catalog(os.environ["CONVEYOR_CATALOG"]), topology, clients)
        _client = runtime.client()
    response = handle(event, _client)
    if _meter is not None:
        _meter.maybe_flush()  # at most once a minute per container, never once per request
    status = int(response.get("statusCode", 0))
    metrics.add_metric(name="submits", unit=MetricUnit.Count, value=1 if status < 300 else 0)
    # back-pressure: a heavy tenant's task refused with Retry-After
    metrics.add_metric(
        name="backpressure_refusals", unit=MetricUnit.Count, value=int(status == 429)
    )
    return response

"""The one place that knows both the catalog and the constructs: it turns a task type
into construct props. The stack loops over the catalog and calls these."""

from __future__ import annotations

import math
from typing import Any

from conveyor.catalog import TaskType
from conveyor.local.provision import LANE_VISIBILITY, work_queue_visibility
from conveyor.policy.scaling import ScalingRule
from conveyor.runtime.executors import function_name
from conveyor.topology import Topology

from .constructs.worker_service import StepScaling

#: Seconds the Lambda function gets beyond the task's own timeout (runner overhead).
LAMBDA_GRACE = 10


def environment(topology: Topology, catalog_module: str, bucket_name: str) -> dict[str, str]:
    """What every Conveyor process reads to find the deployment."""
    return {
        "CONVEYOR_CATALOG": catalog_module,
        **topology.env(),
        "CONVEYOR_BUCKET": bucket_name,
        "POWERTOOLS_SERVICE_NAME": "conveyor",
        "POWERTOOLS_METRICS_NAMESPACE": "Conveyor",
    }


def queue_visibility(topology: Topology, task_types: list[TaskType]) -> dict[str, int]:
    """Every queue of the deployment and its visibility timeout (s): lanes, then the
    work queues of Fargate and direct types."""
    out = dict.fromkeys(topology.lanes, LANE_VISIBILITY)
    for task_type in task_types:
        if task_type.executor == "fargate" or task_type.direct:
            out[topology.work_queue(task_type.name)] = (
                direct_visibility(task_type)
                if task_type.direct
                else work_queue_visibility(task_type.timeout)
            )
    return out


def direct_visibility(task_type: TaskType) -> int:
    """For an SQS event source mapping AWS asks for at least 6x the function timeout."""
    return 6 * lambda_timeout(task_type)


def lambda_timeout(task_type: TaskType) -> int:
    return int(min(900, math.ceil(task_type.timeout) + LAMBDA_GRACE))


def lambda_props(task_type: TaskType, topology: Topology) -> dict[str, Any]:
    return {
        "function_name": function_name(topology.prefix, task_type.name),
        "timeout_seconds": lambda_timeout(task_type),
        "memory_mb": task_type.memory,
        "reserved_concurrency": task_type.concurrency,
    }


def worker_props(task_type: TaskType, topology: Topology) -> dict[str, Any]:
    rule = ScalingRule(max_workers=task_type.max_workers)
    return {
        "service_name": f"{topology.prefix}-{task_type.name}".replace("_", "-"),
        "cpu": task_type.cpu,
        "memory_mb": task_type.memory,
        "scaling": StepScaling(
            steps=rule.table(),
            max_workers=task_type.max_workers,
            age_boost_after_seconds=int(rule.age_boost_after),
        ),
    }

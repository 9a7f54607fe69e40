"""One construct per concern. None of them knows the catalog: they take keyword-only
props and expose what they create (``.queues``, ``.table``, ``.function``, ...)."""

from .bucket import PayloadBucket
from .code import conveyor_code
from .dispatcher_service import DispatcherService
from .lambda_executor import LambdaExecutor
from .monitoring import Monitoring
from .network import Network
from .queues import LaneQueues
from .table import TaskTable
from .worker_service import StepScaling, WorkerService

__all__ = [
    "DispatcherService",
    "LambdaExecutor",
    "LaneQueues",
    "Monitoring",
    "Network",
    "PayloadBucket",
    "StepScaling",
    "TaskTable",
    "WorkerService",
    "conveyor_code",
]

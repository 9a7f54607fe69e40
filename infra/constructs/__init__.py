"""One construct per concern. None of them knows the catalog: they take keyword-only
props and expose what they create (``.queues``, ``.table``, ``.function``, ...)."""

from .bucket import PayloadBucket
from .code import conveyor_code
from .depth_scaling import DepthScaling
from .dispatcher_service import DispatcherService
from .lambda_executor import LambdaExecutor
from .monitoring import Monitoring
from .network import Network
from .queues import LaneQueues
from .schedules import RecurringSchedule, SchedulerGroup
from .submit_api import SubmitApi
from .table import TaskTable
from .trigger_rule import QueueTriggerRule
from .worker_service import StepScaling, WorkerService

__all__ = [
    "DepthScaling",
    "DispatcherService",
    "LambdaExecutor",
    "LaneQueues",
    "Monitoring",
    "Network",
    "PayloadBucket",
    "QueueTriggerRule",
    "RecurringSchedule",
    "SchedulerGroup",
    "StepScaling",
    "SubmitApi",
    "TaskTable",
    "WorkerService",
    "conveyor_code",
]

"""Conveyor: asynchronous tasks on AWS, and the same platform on one laptop."""

from .admission import SubmitRequest
from .catalog import Catalog, EventTrigger, Retry, Schedule, TaskType, load_catalog, task
from .client import Conveyor, Submission
from .errors import (
    CatalogError,
    ConveyorError,
    DuplicateTaskId,
    Fatal,
    InvalidOption,
    InvalidPayload,
    InvalidPriority,
    InvalidTaskId,
    InvalidTenant,
    InvalidTiming,
    InvalidTransition,
    Overloaded,
    PayloadTooLarge,
    RetryLater,
    TaskConflict,
    TaskFailed,
    TaskNotFound,
    Throttled,
    UnknownTaskType,
    ValidationError,
    WaitTimeout,
)
from .model import TaskRecord, TaskState
from .topology import Topology

__version__ = "0.1.0"

__all__ = [
    "Catalog",
    "CatalogError",
    "Conveyor",
    "ConveyorError",
    "DuplicateTaskId",
    "EventTrigger",
    "Fatal",
    "InvalidOption",
    "InvalidPayload",
    "InvalidPriority",
    "InvalidTaskId",
    "InvalidTenant",
    "InvalidTiming",
    "InvalidTransition",
    "Overloaded",
    "PayloadTooLarge",
    "Retry",
    "RetryLater",
    "Schedule",
    "Submission",
    "SubmitRequest",
    "TaskConflict",
    "TaskFailed",
    "TaskNotFound",
    "TaskRecord",
    "TaskState",
    "TaskType",
    "Throttled",
    "Topology",
    "UnknownTaskType",
    "ValidationError",
    "WaitTimeout",
    "load_catalog",
    "task",
]

"""Conveyor: asynchronous tasks on AWS, and the same platform on one laptop.

Public names load on first use (PEP 562 ``__getattr__``): ``import conveyor`` costs almost
nothing, and a Lambda entry or worker that needs the catalog and the runner never loads the
SDK client, the CLI or their dependencies.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
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
        SubmitNotDeclared,
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

_ERRORS = [
    "CatalogError",
    "ConveyorError",
    "DuplicateTaskId",
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
    "RetryLater",
    "SubmitNotDeclared",
    "TaskConflict",
    "TaskFailed",
    "TaskNotFound",
    "Throttled",
    "UnknownTaskType",
    "ValidationError",
    "WaitTimeout",
]
#: public name -> the module (relative to this package) that defines it.
_WHERE: dict[str, str] = {
    "SubmitRequest": "admission",
    **dict.fromkeys(
        ("Catalog", "EventTrigger", "Retry", "Schedule", "TaskType", "load_catalog", "task"),
        "catalog",
    ),
    "Conveyor": "client",
    "Submission": "client",
    **dict.fromkeys(_ERRORS, "errors"),
    "TaskRecord": "model",
    "TaskState": "model",
    "Topology": "topology",
}


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'conveyor' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_WHERE])


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
    "SubmitNotDeclared",
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

"""The catalog: task types declared once, in Python, read by CDK, the dev cloud and workers.

```python
from conveyor import task, Retry

@task(executor="lambda", timeout=30, retry=Retry(max_attempts=5), rate_limit="50/s",
      concurrency=20, priority="normal", ttl="1h")
def send_welcome_email(payload, ctx): ...
```

Every option is a typed, frozen, validated field. A wrong declaration raises
``CatalogError`` at import, naming the task and the field. A catalog is found by module
path (``load_catalog("examples.catalog")``): the module either defines ``catalog =
Catalog(...)`` and decorates with ``@catalog.task``, or uses the default ``@task``.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator
from typing import Any

from .errors import CatalogError, UnknownTaskType
from .shares import PriorityShare, Tenant, build_priority, build_tenant
from .task_options import build_task_type
from .task_type import (
    EVENT_SETS,
    EVENT_STATES,
    EXECUTORS,
    FARGATE_CPU,
    FOREVER,
    LEAN_MAX_TIMEOUT,
    MAX_TIMEOUT,
    RESOURCE_RE,
    TASK_NAME_RE,
    EventTrigger,
    Retry,
    Schedule,
    TaskType,
)

__all__ = [
    "EVENT_SETS",
    "EVENT_STATES",
    "EXECUTORS",
    "FARGATE_CPU",
    "FOREVER",
    "LEAN_MAX_TIMEOUT",
    "MAX_TIMEOUT",
    "RESOURCE_RE",
    "TASK_NAME_RE",
    "Catalog",
    "EventTrigger",
    "Retry",
    "Schedule",
    "TaskHandle",
    "TaskType",
    "build_task_type",
    "default_catalog",
    "load_catalog",
    "task",
]


Submitter = Callable[..., Any]
_default_submitter: Callable[[], Submitter] | None = None


def bind_default_submitter(factory: Callable[[], Submitter]) -> None:
    """Called by the SDK so ``handle.submit(...)`` can reach a default client lazily."""
    global _default_submitter
    _default_submitter = factory


class TaskHandle:
    """What ``@task`` returns: still callable as the plain function, plus ``.submit``."""

    def __init__(self, task_type: TaskType) -> None:
        self.task_type = task_type
        self.__name__ = task_type.name
        self.__doc__ = getattr(task_type.handler, "__doc__", None)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        assert self.task_type.handler is not None
        return self.task_type.handler(*args, **kwargs)

    def submit(self, payload: Any = None, **options: Any) -> Any:
        """Submit one task of this type with the default client (see Conveyor.submit)."""
        if _default_submitter is None:
            importlib.import_module("conveyor.client")  # binds the default submitter
        if _default_submitter is None:  # pragma: no cover - the import always binds it
            raise RuntimeError("the SDK client could not be loaded")
        return _default_submitter()(self.task_type.name, payload, **options)


class Catalog:
    """A registry of task types, keyed by name. Iteration order is declaration order."""

    def __init__(self, name: str = "default") -> None:
        self.name = name
        self._types: dict[str, TaskType] = {}
        self._tenants: dict[str, Tenant] = {}
        self._priorities: dict[str, PriorityShare] = {}

    def tenant(self, name: str, **opts: Any) -> Tenant:
        """Declare a tenant's weight and limits (see ``conveyor.shares.Tenant``)."""
        declared = build_tenant(name, **opts)
        if name in self._tenants and self._tenants[name] != declared:
            raise CatalogError(f"tenant {name!r}: field 'name': declared twice, differently")
        self._tenants[name] = declared
        return declared

    def priority(self, name: str, **opts: Any) -> PriorityShare:
        """Declare a lower priority class's minimum share and aging bound."""
        declared = build_priority(name, **opts)
        others = sum(p.min_share for n, p in self._priorities.items() if n != name)
        if others + declared.min_share >= 1:
            raise CatalogError(
                f"priority {name!r}: field 'min_share': the lower classes' minimum shares "
                "must add up to less than 1"
            )
        self._priorities[name] = declared
        return declared

    def tenant_of(self, name: str) -> Tenant:
        """A tenant's declaration; weight 1 and no limits when it has none."""
        return self._tenants.get(name) or Tenant(name)

    @property
    def tenants(self) -> tuple[Tenant, ...]:
        return tuple(self._tenants.values())

    @property
    def priorities(self) -> tuple[PriorityShare, ...]:
        """Declared lower-class guarantees (undeclared classes keep the defaults)."""
        return tuple(self._priorities.values())

    def task(
        self, fn: Callable[..., Any] | None = None, /, *, name: str | None = None, **opts: Any
    ) -> Any:
        """Decorator: ``@catalog.task(...)`` or bare ``@catalog.task``."""

        def register(func: Callable[..., Any]) -> TaskHandle:
            task_type = build_task_type(name or func.__name__, func, **opts)
            self.add(task_type)
            return TaskHandle(task_type)

        return register(fn) if fn is not None else register

    def add(self, task_type: TaskType) -> None:
        existing = self._types.get(task_type.name)
        if existing is not None and existing.handler_path != task_type.handler_path:
            raise CatalogError(
                f"task {task_type.name!r}: field 'name': declared twice "
                f"({existing.handler_path} and {task_type.handler_path})"
            )
        self._types[task_type.name] = task_type

    def get(self, name: str) -> TaskType:
        try:
            return self._types[name]
        except KeyError:
            known = ", ".join(sorted(self._types)) or "none"
            raise UnknownTaskType(
                f"unknown task type {name!r}; this catalog ({self.name}) has: {known}"
            ) from None

    def __contains__(self, name: object) -> bool:
        return name in self._types

    def __iter__(self) -> Iterator[TaskType]:
        return iter(self._types.values())

    def __len__(self) -> int:
        return len(self._types)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self._types)


#: The catalog that the module-level ``@task`` decorator registers into.
default_catalog = Catalog("default")


def task(fn: Callable[..., Any] | None = None, /, **opts: Any) -> Any:
    """Declare a task type in the default catalog."""
    return default_catalog.task(fn, **opts)


def load_catalog(module_path: str) -> Catalog:
    """Import ``module_path`` and return its ``catalog`` (or the default catalog)."""
    try:
        module = importlib.import_module(module_path)
    except ModuleNotFoundError as exc:
        raise CatalogError(f"cannot import catalog module {module_path!r}: {exc}") from None
    found = getattr(module, "catalog", None)
    if isinstance(found, Catalog):
        return found
    if len(default_catalog) == 0:
        raise CatalogError(f"module {module_path!r} declares no task types")
    return default_catalog

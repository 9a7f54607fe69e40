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
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .durations import DurationError, Rate, parse_duration
from .errors import CatalogError, InvalidTiming, UnknownTaskType
from .model import PRIORITIES
from .payload import encode
from .policy.expressions import validate_expression
from .shares import PriorityShare, Tenant, build_priority, build_tenant, rate_and_burst

EXECUTORS = ("lambda", "fargate")
#: Maximum timeout per executor, seconds (Lambda's hard limit; a week for Fargate).
MAX_TIMEOUT = {"lambda": 900.0, "fargate": 7 * 86400.0}
FARGATE_CPU = (256, 512, 1024, 2048, 4096, 8192, 16384)
TASK_NAME_RE = re.compile(r"\A[a-z][a-z0-9_]{0,47}\Z")
RESOURCE_RE = re.compile(r"\A[a-z][a-z0-9_-]{0,47}\Z")
FOREVER = "forever"
#: Longest timeout of a lean type (seconds): nothing marks a lean task as running, so the
#: reconciler waits this long plus its grace before it re-sends a QUEUED one.
LEAN_MAX_TIMEOUT = 300.0
#: Terminal states that can publish a lifecycle event, and the named sets ``events=`` takes.
EVENT_STATES = ("SUCCEEDED", "FAILED", "CANCELLED", "EXPIRED")
EVENT_SETS: dict[object, frozenset[str]] = {
    True: frozenset(EVENT_STATES),
    "all": frozenset(EVENT_STATES),
    "failures": frozenset({"FAILED", "EXPIRED"}),
    False: frozenset(),
    None: frozenset(),
    "none": frozenset(),
}


@dataclass(frozen=True, slots=True)
class Retry:
    """How failed attempts are retried.

    Attributes:
        max_attempts: attempts in all, the first included (>= 1). Throttled attempts do
            not count.
        backoff_base: seconds before the first retry; doubles each attempt (> 0).
        backoff_cap: upper bound of one backoff, seconds (>= backoff_base).
        jitter: full jitter (a uniform draw in [0, backoff]) when True.
        non_retryable: exception classes, or their names, that fail the task at once.
        max_throttles: throttled attempts allowed before the task fails (>= 0).
    """

    max_attempts: int = 3
    backoff_base: float = 2.0
    backoff_cap: float = 900.0
    jitter: bool = True
    non_retryable: tuple[type[BaseException] | str, ...] = ()
    max_throttles: int = 100

    def non_retryable_names(self) -> frozenset[str]:
        return frozenset(n if isinstance(n, str) else n.__name__ for n in self.non_retryable)


@dataclass(frozen=True, slots=True)
class Schedule:
    """A cron or rate schedule that creates a task at each firing.

    ``expression`` is EventBridge Scheduler's grammar; ``timezone`` an IANA name.
    """

    expression: str
    name: str = ""
    timezone: str = "UTC"
    payload: Any = None
    tenant: str = "default"
    enabled: bool = True


@dataclass(frozen=True, slots=True)
class EventTrigger:
    """An EventBridge event pattern whose matching events each become one task.

    The event is the payload; its ``id`` dedups the task. ``tenant_field`` is a dotted
    path into the event (e.g. ``detail.tenant``) naming the tenant, else ``tenant``.
    """

    pattern: Mapping[str, Any]
    name: str = ""
    tenant_field: str | None = None
    tenant: str = "default"


@dataclass(frozen=True, slots=True)
class TaskType:
    """One declared task type. Seconds for times, MiB for memory, vCPU units for cpu.

    ``rate_limit`` with ``burst`` bounds its dispatches (at most rate * W + burst in any
    W seconds); ``resource`` names the downstream it calls, whose AIMD concurrency window
    it shares with every type naming the same resource (default: a window of its own).
    """

    name: str
    handler: Callable[..., Any] | None
    executor: str = "lambda"
    timeout: float = 60.0
    memory: int = 512
    cpu: int = 256
    retry: Retry = field(default_factory=Retry)
    rate_limit: Rate | None = None
    burst: float | None = None
    resource: str | None = None
    concurrency: int | None = None
    priority: str = "normal"
    ttl: float | None = None
    dedup_window: float | None = 7 * 86400.0
    result_retention: float = 7 * 86400.0
    schedules: tuple[Schedule, ...] = ()
    triggers: tuple[EventTrigger, ...] = ()
    #: Terminal states that publish an EventBridge event ($1.00 per million each). The
    #: default, ``"failures"``, is what needs someone's attention: FAILED (in the DLQ) and
    #: EXPIRED (never ran). ``True``/``"all"`` adds SUCCEEDED and CANCELLED.
    events: frozenset[str] = EVENT_SETS["failures"]
    #: Whether the type's tasks are in the ``by_type`` index, at one extra WRU per task
    #: ($0.625 per million). The index is how the reconciler finds tasks a crash stranded
    #: and how listing by type reads only that type. ``indexed=False`` gives both up for
    #: the type: no reconciler repair (re-submitting a stranded task's ID still repairs
    #: it), and listing it scans the table (0.5 RRU per 4 KB scanned).
    indexed: bool = True
    #: Lean attempts (``conveyor.runtime.lean``): no RUNNING write, so a task costs one
    #: consistent read (1 RRU) and one conditional outcome write instead of two writes
    #: (-1 WRU +1 RRU, $0.50 less per million). Given up: at most one concurrent run (no
    #: lease: two deliveries of one task may run the handler at the same time; the first
    #: outcome is recorded, the other discarded), crash detection by lease expiry (the
    #: dispatcher records a failed invocation as a spent attempt instead; a run lost with
    #: its dispatcher too runs again, uncounted, when its message's visibility ends), and
    #: the RUNNING state (the record stays QUEUED until the outcome; ``started_at`` and
    #: the clocks are written with it). Lambda behind the dispatcher only (not
    #: ``direct``), and the timeout must fit ``LEAN_MAX_TIMEOUT``.
    lean: bool = False
    max_workers: int = 10
    direct: bool = False
    #: Whether the handler submits follow-up tasks (``ctx.submit``): the deployment grants
    #: this type's executor the submit permissions (put a record, send to the lanes, put
    #: an offloaded payload, create a one-time schedule) only when it is declared.
    submits: bool = False
    module: str = ""

    @property
    def handler_path(self) -> str:
        """``module:function`` of the handler, as workers import it."""
        qualname = getattr(self.handler, "__name__", self.name)
        return f"{self.module}:{qualname}"


def _fail(task: str, fld: str, why: str) -> CatalogError:
    return CatalogError(f"task {task!r}: field {fld!r}: {why}")


def _seconds(task: str, fld: str, value: object, *, optional: bool = False) -> float | None:
    if value is None and optional:
        return None
    try:
        return parse_duration(value)
    except DurationError as exc:
        raise _fail(task, fld, str(exc)) from None


def _positive_int(task: str, fld: str, value: object, low: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise _fail(task, fld, f"must be a whole number >= {low}, got {value!r}")
    return value


def build_task_type(name: str, handler: Callable[..., Any] | None, **opts: Any) -> TaskType:
    """Validate every option and return the frozen TaskType (CatalogError on any fault)."""
    if not isinstance(name, str) or not TASK_NAME_RE.match(name):
        raise CatalogError(
            f"task {name!r}: field 'name': use 1-48 characters of [a-z0-9_], starting with a "
            "letter (it names queues, functions and log groups)"
        )
    known = set(TaskType.__dataclass_fields__) - {"name", "handler", "module"}
    unknown = set(opts) - known
    if unknown:
        raise _fail(name, sorted(unknown)[0], f"unknown option; known: {', '.join(sorted(known))}")

    executor = opts.get("executor", "lambda")
    if executor not in EXECUTORS:
        raise _fail(name, "executor", f"must be one of {EXECUTORS}, got {executor!r}")
    timeout = _seconds(name, "timeout", opts.get("timeout", 60.0))
    assert timeout is not None
    if timeout > MAX_TIMEOUT[executor]:
        raise _fail(
            name,
            "timeout",
            f"{timeout:g}s is over {executor}'s maximum of "
            f"{MAX_TIMEOUT[executor]:g}s; use executor='fargate' for long tasks",
        )
    memory = _positive_int(name, "memory", opts.get("memory", 512), 128)
    if executor == "lambda" and memory > 10240:
        raise _fail(name, "memory", "Lambda allows 128-10240 MiB")
    cpu = opts.get("cpu", 256)
    if cpu not in FARGATE_CPU:
        raise _fail(name, "cpu", f"must be one of {FARGATE_CPU} (vCPU units), got {cpu!r}")

    retry = opts.get("retry", Retry())
    if not isinstance(retry, Retry):
        raise _fail(name, "retry", f"must be a conveyor.Retry, got {type(retry).__name__}")
    _positive_int(name, "retry.max_attempts", retry.max_attempts)
    _positive_int(name, "retry.max_throttles", retry.max_throttles, 0)
    base = _seconds(name, "retry.backoff_base", retry.backoff_base)
    cap = _seconds(name, "retry.backoff_cap", retry.backoff_cap)
    assert base is not None
    assert cap is not None
    if cap < base:
        raise _fail(name, "retry.backoff_cap", f"{cap:g}s is below backoff_base {base:g}s")
    for err in retry.non_retryable:
        if not (isinstance(err, str) or (isinstance(err, type) and issubclass(err, BaseException))):
            raise _fail(name, "retry.non_retryable", f"{err!r} is not an exception class or name")
    retry = Retry(
        retry.max_attempts,
        base,
        cap,
        bool(retry.jitter),
        tuple(retry.non_retryable),
        retry.max_throttles,
    )

    rate_limit, burst = rate_and_burst(f"task {name!r}", opts.get("rate_limit"), opts.get("burst"))
    resource = opts.get("resource")
    if resource is not None and (not isinstance(resource, str) or not RESOURCE_RE.match(resource)):
        raise _fail(
            name,
            "resource",
            f"use 1-48 characters of [a-z0-9_-], starting with a letter, got {resource!r}",
        )
    concurrency = opts.get("concurrency")
    if concurrency is not None:
        concurrency = _positive_int(name, "concurrency", concurrency)
    priority = opts.get("priority", "normal")
    if priority not in PRIORITIES:
        raise _fail(name, "priority", f"must be one of {PRIORITIES}, got {priority!r}")
    ttl = _seconds(name, "ttl", opts.get("ttl"), optional=True)
    window = opts.get("dedup_window", 7 * 86400.0)
    dedup_window = None if window == FOREVER else _seconds(name, "dedup_window", window)
    retention = _seconds(name, "result_retention", opts.get("result_retention", 7 * 86400.0))
    assert retention is not None

    schedules = tuple(opts.get("schedules", ()))
    for index, sched in enumerate(schedules):
        label = f"schedules[{index}]"
        if not isinstance(sched, Schedule):
            raise _fail(name, label, f"must be a conveyor.Schedule, got {sched!r}")
        try:
            validate_expression(sched.expression)
        except InvalidTiming as exc:
            raise _fail(name, label, str(exc)) from None
        try:
            ZoneInfo(sched.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise _fail(name, label, f"unknown time zone {sched.timezone!r}") from None
        try:
            encode(sched.payload)
        except Exception as exc:
            raise _fail(name, label, f"payload: {exc}") from None
    names = [s.name or f"{name}-{i}" for i, s in enumerate(schedules)]
    if len(set(names)) != len(names):
        raise _fail(name, "schedules", "schedule names must be unique within a task type")
    schedules = tuple(
        Schedule(s.expression.strip(), n, s.timezone, s.payload, s.tenant, s.enabled)
        for s, n in zip(schedules, names, strict=True)
    )

    triggers = tuple(opts.get("triggers", ()))
    for index, trig in enumerate(triggers):
        label = f"triggers[{index}]"
        if not isinstance(trig, EventTrigger):
            raise _fail(name, label, f"must be a conveyor.EventTrigger, got {trig!r}")
        if not isinstance(trig.pattern, Mapping) or not trig.pattern:
            raise _fail(name, label, "pattern must be a non-empty EventBridge event pattern")
        for key, value in trig.pattern.items():
            if not isinstance(value, (list, Mapping)):
                raise _fail(name, label, f"pattern[{key!r}] must be a list or an object")
    triggers = tuple(
        EventTrigger(dict(t.pattern), t.name or f"{name}-{i}", t.tenant_field, t.tenant)
        for i, t in enumerate(triggers)
    )
    max_workers = _positive_int(name, "max_workers", opts.get("max_workers", 10))
    direct = bool(opts.get("direct", False))
    if direct and executor != "lambda":
        raise _fail(name, "direct", "direct SQS event-source mode is for executor='lambda'")
    submits = opts.get("submits", False)
    if not isinstance(submits, bool):
        raise _fail(name, "submits", f"must be True or False, got {submits!r}")
    lean = opts.get("lean", False)
    if not isinstance(lean, bool):
        raise _fail(name, "lean", f"must be True or False, got {lean!r}")
    if lean and executor != "lambda":
        raise _fail(
            name,
            "lean",
            "lean mode is for executor='lambda': a Fargate task's heartbeat and SIGTERM "
            "hand-back need the RUNNING record and its lease",
        )
    if lean and direct:
        raise _fail(
            name,
            "lean",
            "lean mode needs the dispatcher (direct=False): with no lease, it is the "
            "dispatcher that records a crashed or timed-out invocation as a spent attempt",
        )
    if lean and timeout > LEAN_MAX_TIMEOUT:
        raise _fail(
            name,
            "lean",
            f"timeout {timeout:g}s is over lean mode's {LEAN_MAX_TIMEOUT:g}s: with no lease, "
            "a longer run is found only by the reconciler's wait, and duplicate deliveries "
            "overlap longer; drop lean=True or shorten the timeout",
        )
    module = getattr(handler, "__module__", "") or ""
    return TaskType(
        name=name,
        handler=handler,
        executor=executor,
        timeout=timeout,
        memory=memory,
        cpu=cpu,
        retry=retry,
        rate_limit=rate_limit,
        burst=burst,
        resource=resource,
        concurrency=concurrency,
        priority=priority,
        ttl=ttl,
        dedup_window=dedup_window,
        result_retention=retention,
        schedules=schedules,
        triggers=triggers,
        events=_event_states(name, opts.get("events", "failures")),
        indexed=bool(opts.get("indexed", True)),
        lean=lean,
        max_workers=max_workers,
        direct=direct,
        submits=submits,
        module=module,
    )


def _event_states(task: str, value: object) -> frozenset[str]:
    """``events=``: True/"all", "failures" (default), False/"none", or state names."""
    if isinstance(value, bool | str) or value is None:
        named = EVENT_SETS.get(value.lower() if isinstance(value, str) else value)
        if named is None:
            raise _fail(
                task, "events", f"use True, False, 'all', 'failures' or state names; got {value!r}"
            )
        return named
    try:
        states = frozenset(str(v).upper() for v in value)  # type: ignore[attr-defined]
    except TypeError:
        raise _fail(
            task, "events", f"must be a bool, a name or state names, got {value!r}"
        ) from None
    unknown = sorted(states - set(EVENT_STATES))
    if unknown:
        raise _fail(task, "events", f"{unknown[0]!r} is not one of {', '.join(EVENT_STATES)}")
    return states


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

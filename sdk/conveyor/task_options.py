"""Validating a task type's options: ``build_task_type`` turns ``@task(...)`` keyword
arguments into a frozen ``TaskType`` or raises ``CatalogError`` naming the task and the
field. Nothing is registered here (``catalog`` does that)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .durations import DurationError, parse_duration
from .errors import CatalogError, InvalidTiming
from .model import PRIORITIES
from .payload import encode
from .policy.expressions import validate_expression
from .shares import rate_and_burst
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

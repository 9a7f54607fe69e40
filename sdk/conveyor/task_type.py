"""A task type's declaration: the options ``@task`` takes, as typed frozen values.

Seconds for every time, MiB for memory, vCPU units for cpu. ``catalog`` builds these
(validating each option with ``task_options``) and registers them.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .durations import Rate

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

"""The dispatcher's and the reconciler's metrics (EMF through ``MetricsSink``).

``DispatcherMetrics.attach`` wraps the dispatcher's executor (``MeteredExecutor``: counts
each hand-over and times it until its outcome is back) and ``report`` -- every
``interval`` seconds on its own thread while the service runs -- writes:

* ``backlog`` / ``in_flight`` / ``delayed`` per lane and ``dlq_depth`` (one
  GetQueueAttributes per queue per interval: 17 queues at 60 s are ~25,000 requests a
  day, $0.01);
* ``oldest_age_received`` per lane: the age of the oldest message the pullers received in
  the interval (from SQS's SentTimestamp);
* ``oldest_age`` per priority: the largest queue age (ms since the message was enqueued)
  among the tasks handed over in the interval (CloudWatch's own
  ``ApproximateAgeOfOldestMessage`` per lane is free and is what the alarm watches);
* ``dispatched`` per type (the dispatch rate is its Sum per period), ``received``;
* ``aimd_window`` per executor target (the fair scheduler's AIMD limit, calls in flight);
* ``held`` per lane: messages in the look-ahead (received, hidden in SQS, not started);
  ``held_extended`` / ``held_dropped``: visibility extensions made, and held messages
  dropped because theirs failed or ran out (SQS delivers those again);
* ``settled`` per outcome kind -- ``paused`` (held), ``quota`` (over its concurrency
  limit), ``throttled``, ``busy``, ... -- as deltas of the dispatcher's counters;
* ``tenant_dispatches`` and ``tenant_executor_seconds`` for the top tenants
  (``TopTenants``: k with their own dimension, the rest as ``other``);
* the reconciler's pass counters (``reconciler_<name>``), as deltas.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from concurrent.futures import Future
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger

from ..catalog import TaskType
from ..envelope import Envelope
from ..ports import InMessage
from .metrics import MetricsSink, TopTenants
from .outcome import Outcome

if TYPE_CHECKING:
    from .dispatcher import Dispatcher
    from .executors import Executor

logger = Logger(service="conveyor-dispatcher")


class MeteredExecutor:
    """An Executor that counts what goes through it; everything else is the inner one's."""

    def __init__(self, inner: Executor, sink: MetricsSink, *, top_k: int = 10) -> None:
        self.inner = inner
        self.sink = sink
        self.dispatches = TopTenants(top_k)
        self.seconds = TopTenants(top_k)
        self._oldest: dict[str, float] = {}
        self._lock = threading.Lock()

    def submit(self, task_type: TaskType, body: str, env: Envelope) -> Future[Outcome]:
        age = max(0.0, time.time() * 1000 - env.enqueued_at)
        with self._lock:
            self._oldest[env.priority] = max(self._oldest.get(env.priority, 0.0), age)
        self.sink.count("dispatched", type=task_type.name)
        self.dispatches.add(env.tenant)
        started = time.monotonic()
        future = self.inner.submit(task_type, body, env)
        future.add_done_callback(lambda _: self.seconds.add(env.tenant, time.monotonic() - started))
        return future

    def oldest(self) -> dict[str, float]:
        """Largest queue age (ms) handed over per priority since the last call."""
        with self._lock:
            out, self._oldest = self._oldest, {}
        return out

    def shutdown(self) -> None:
        self.inner.shutdown()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


class DispatcherMetrics:
    def __init__(self, dispatcher: Dispatcher, sink: MetricsSink, reconciler: Any = None) -> None:
        self.dispatcher = dispatcher
        self.sink = sink
        self.reconciler = reconciler
        executor = dispatcher.executor
        if not isinstance(executor, MeteredExecutor):
            executor = MeteredExecutor(executor, sink)
            dispatcher.executor = executor
        self.executor: MeteredExecutor = executor
        self._kinds: Counter[str] = Counter()
        self._received = 0
        self._holding: Counter[str] = Counter()
        self._reconciled: Counter[str] = Counter()
        self._oldest_lane: dict[str, float] = {}
        self._lock = threading.Lock()
        #: The reporting thread, once ``attach`` started it.
        self.thread: threading.Thread | None = None

    @classmethod
    def attach(
        cls, dispatcher: Dispatcher, stop: threading.Event, reconciler: Any = None
    ) -> DispatcherMetrics:
        """Meter ``dispatcher`` and report every interval on a daemon thread, the first
        time one interval after the start and a last time when ``stop`` is set."""
        reporter = cls(dispatcher, MetricsSink("conveyor-dispatcher"), reconciler)
        reporter.thread = threading.Thread(
            target=reporter.serve, args=(stop,), daemon=True, name="metrics"
        )
        reporter.thread.start()
        return reporter

    def serve(self, stop: threading.Event) -> None:
        """Report every interval until ``stop``, then once more; never raises."""
        while True:
            stopping = stop.wait(self.sink.interval)
            try:
                self.report()
            except Exception:
                logger.exception("could not report the dispatcher's metrics")
            if stopping:
                return

    def received(self, lane: str, messages: list[InMessage]) -> None:
        """Note the age of the oldest of ``messages`` (ms since SQS accepted it)."""
        sent = [m.sent_at_ms for m in messages if m.sent_at_ms > 0]
        if not sent:
            return
        age = max(0.0, time.time() * 1000 - min(sent))
        with self._lock:
            self._oldest_lane[lane] = max(self._oldest_lane.get(lane, 0.0), age)

    def report(self) -> int:
        """Record this interval's metrics and flush them; returns EMF documents written."""
        d, sink = self.dispatcher, self.sink
        for lane in d.topology.lanes:
            self._depth(lane, "backlog", lane=lane)
        self._depth(d.topology.dlq, "dlq_depth")
        stats = d.stats
        for kind, total in stats.kinds.items():
            if total > self._kinds[kind]:
                sink.count("settled", total - self._kinds[kind], kind=kind)
        self._kinds = Counter(stats.kinds)
        sink.count("received", stats.received - self._received)
        self._received = stats.received
        with self._lock:
            oldest, self._oldest_lane = self._oldest_lane, {}
        for lane, age in oldest.items():
            sink.gauge("oldest_age_received", age, "Milliseconds", lane=lane)
        for priority, age in self.executor.oldest().items():
            sink.gauge("oldest_age", age, "Milliseconds", priority=priority)
        for lane in d.topology.lanes:
            sink.gauge("held", len(d.buffers.get(lane, ())), lane=lane)
        holding = (("held_extended", stats.extended), ("held_dropped", stats.extend_failed))
        for name, total in holding:
            if total > self._holding[name]:
                sink.count(name, total - self._holding[name])
            self._holding[name] = total
        fair = getattr(d, "fair", None)
        windows = getattr(fair, "windows", None)
        if callable(windows):
            for target, limit in windows().items():
                sink.gauge("aimd_window", limit, target=str(target))
        for tenant, n in self.executor.dispatches.report().items():
            sink.count("tenant_dispatches", n, tenant=tenant)
        for tenant, seconds in self.executor.seconds.report().items():
            sink.count("tenant_executor_seconds", seconds, "Seconds", tenant=tenant)
        counters = getattr(self.reconciler, "stats", None)
        if isinstance(counters, Counter):
            for name, total in counters.items():
                if total > self._reconciled[name]:
                    sink.count(f"reconciler_{name}", total - self._reconciled[name])
            self._reconciled = Counter(counters)
        return sink.flush()

    def _depth(self, queue: str, name: str, **dims: str) -> None:
        try:
            depth = self.dispatcher.lanes.depth(queue)
        except Exception:
            return  # this interval goes without it; the next read tries again
        if name == "dlq_depth":
            self.sink.gauge(name, depth.visible + depth.in_flight + depth.delayed)
            return
        self.sink.gauge(name, depth.visible, **dims)
        self.sink.gauge("in_flight", depth.in_flight, **dims)
        self.sink.gauge("delayed", depth.delayed, **dims)

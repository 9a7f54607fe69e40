"""A metrics sink for long-running processes: Powertools Metrics as EMF lines on stdout.

CloudWatch turns EMF log lines into metrics, so no ``PutMetricData`` request is ever made
($10 per million avoided); the only cost is log ingestion (~300 bytes a line, one line per
dimension set per flush). Outside Lambda nothing flushes by itself, so a ``MetricsSink``
buffers what the process records and ``maybe_flush`` writes it every ``interval`` seconds
(60 by default: CloudWatch's standard resolution), one EMF document per dimension set:

* ``count`` sums within an interval, ``gauge`` keeps the last value, ``sample`` keeps up
  to 100 values (EMF's limit per metric per document; CloudWatch computes percentiles);
* ``TopTenants`` bounds tenant cardinality: per interval, the ``k`` largest tenants get a
  ``tenant`` dimension of their own and the rest are summed under ``tenant=other``, so a
  metric has at most k + 1 tenant series per interval however many tenants there are.

Thread-safe; never raises (a metric is never worth a failed loop).
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Mapping

from aws_lambda_powertools import Logger
from aws_lambda_powertools.metrics import EphemeralMetrics

logger = Logger(service="conveyor")

NAMESPACE = "Conveyor"
#: Values kept per sampled metric per flush (EMF's array limit).
MAX_SAMPLES = 100
#: Tenants with a dimension of their own per interval.
TOP_TENANTS = 10
OTHER = "other"

Dims = tuple[tuple[str, str], ...]
#: Env var: seconds between flushes in long-running processes (default 60).
INTERVAL_ENV = "CONVEYOR_METRICS_SECONDS"
#: Env var: a file to append EMF lines to instead of stdout (the dev cloud's processes).
OUTPUT_ENV = "CONVEYOR_METRICS_FILE"


def interval_from_env(default: float = 60.0) -> float:
    try:
        value = float(os.environ.get(INTERVAL_ENV, default))
    except ValueError:
        return default
    return value if value > 0 else default


def _floats() -> defaultdict[str, float]:
    return defaultdict(float)


def _dims(dimensions: Mapping[str, str]) -> Dims:
    return tuple(sorted((k, str(v)) for k, v in dimensions.items()))


class MetricsSink:
    def __init__(
        self,
        service: str,
        *,
        namespace: str = NAMESPACE,
        interval: float | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.service = service
        self.namespace = namespace
        #: Seconds between flushes (default: ``CONVEYOR_METRICS_SECONDS`` or 60).
        self.interval = interval_from_env() if interval is None else interval
        self.monotonic = monotonic
        self._lock = threading.Lock()
        self._units: dict[str, str] = {}
        self._values: defaultdict[Dims, dict[str, list[float]]] = defaultdict(dict)
        self._counts: defaultdict[Dims, defaultdict[str, float]] = defaultdict(_floats)
        self._next = monotonic() + self.interval
        #: EMF documents written so far.
        self.flushed = 0

    def count(self, name: str, value: float = 1, unit: str = "Count", **dims: str) -> None:
        with self._lock:
            self._units[name] = unit
            self._counts[_dims(dims)][name] += value

    def gauge(self, name: str, value: float, unit: str = "Count", **dims: str) -> None:
        with self._lock:
            self._units[name] = unit
            self._values[_dims(dims)][name] = [float(value)]

    def sample(self, name: str, value: float, unit: str = "Milliseconds", **dims: str) -> None:
        with self._lock:
            self._units[name] = unit
            values = self._values[_dims(dims)].setdefault(name, [])
            if len(values) < MAX_SAMPLES:
                values.append(float(value))

    def due(self) -> bool:
        """``interval`` seconds passed since the last flush."""
        return self.monotonic() >= self._next

    def maybe_flush(self) -> bool:
        """Flush if ``interval`` seconds passed since the last flush."""
        if not self.due():
            return False
        self.flush()
        return True

    def flush(self) -> int:
        """Write every buffered metric as EMF now; returns the documents written."""
        with self._lock:
            counts, self._counts = self._counts, defaultdict(_floats)
            values, self._values = self._values, defaultdict(dict)
            units = dict(self._units)
            self._next = self.monotonic() + self.interval
        merged: defaultdict[Dims, dict[str, list[float]]] = defaultdict(dict)
        for dims, named in values.items():
            merged[dims].update(named)
        for dims, counter in counts.items():
            for name, total in counter.items():
                merged[dims][name] = [float(total)]
        written = 0
        for dims, named in merged.items():
            if not named:
                continue
            try:
                metrics = EphemeralMetrics(namespace=self.namespace, service=self.service)
                for key, value in dims:
                    metrics.add_dimension(name=key, value=value)
                for name, points in named.items():
                    for point in points:
                        metrics.add_metric(name=name, unit=units.get(name, "Count"), value=point)
                emit(json.dumps(metrics.serialize_metric_set(), separators=(",", ":")))
                written += 1
            except Exception:
                logger.exception("could not write metrics", extra={"dimensions": dict(dims)})
        self.flushed += written
        return written


_output: list[str | None] = [None]


def use_output(path: str | None) -> None:
    """Append this process's EMF lines to ``path`` instead of stdout (the dev cloud does,
    so a terminal is not flooded); None: stdout again."""
    _output[0] = path


def emit(line: str) -> None:
    """One EMF document: a line on stdout (CloudWatch Logs parses it), or in the file set by
    ``use_output`` (or ``CONVEYOR_METRICS_FILE``)."""
    path = _output[0] or os.environ.get(OUTPUT_ENV)
    if not path:
        print(line, flush=True)
        return
    try:
        with open(path, "a", encoding="utf-8") as fh:
            fh.write(line + "\n")
    except OSError:
        return


class TopTenants:
    """Per-tenant totals of one interval, reported with bounded cardinality (top k plus
    ``other``). ``add`` is O(1); ``report`` sorts once per interval and resets."""

    def __init__(self, k: int = TOP_TENANTS) -> None:
        self.k = k
        self._totals: defaultdict[str, float] = defaultdict(float)
        self._lock = threading.Lock()

    def add(self, tenant: str, value: float = 1) -> None:
        with self._lock:
            self._totals[tenant] += value

    def report(self) -> dict[str, float]:
        """``{tenant: total}`` for the top ``k`` and ``other`` for the rest (if any)."""
        with self._lock:
            totals, self._totals = self._totals, defaultdict(float)
        top = dict(sorted(totals.items(), key=lambda kv: -kv[1])[: self.k])
        rest = sum(v for t, v in totals.items() if t not in top)
        if rest or len(totals) > len(top):
            top[OTHER] = top.get(OTHER, 0) + rest
        return top

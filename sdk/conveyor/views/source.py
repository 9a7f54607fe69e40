"""Where the screens get their data: one SDK client, read at a bounded cost per refresh.

* Lane depths: one GetQueueAttributes per lane, work queue and the DLQ per snapshot.
* Records: a *rolling* scan -- each snapshot reads one page (``page_size`` items) of the
  task table where the previous one stopped, and keeps the latest copy of each record in a
  bounded window (``window_cap``). A small table is covered on every refresh; a large one
  is sampled, never scanned whole per refresh. Figures computed from records say how many
  they were computed from.
* Snapshots are cached for ``min_interval`` seconds, so several open tabs cost what one
  does. Nothing here raises on one failing AWS call: the failure is reported in
  ``Snapshot.errors`` and the rest is shown.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..model import TaskRecord
from ..ports import Depth, now_ms
from .costs import CostPanels


def describe_error(exc: BaseException) -> str:
    """A one-line, human-readable account of an AWS (or other) failure."""
    response = getattr(exc, "response", None)
    if isinstance(response, Mapping) and "Error" in response:
        err = response["Error"]
        op = getattr(exc, "operation_name", "") or "AWS call"
        return f"{op}: {err.get('Code', 'Error')}: {err.get('Message', '')}".strip()
    return f"{type(exc).__name__}: {exc}"


class RecordWindow:
    """The latest copy of up to ``cap`` records, refreshed one page per ``advance``; when
    full, the records read least recently are forgotten first."""

    def __init__(self, list_page: Callable[[str | None], Any], *, cap: int = 20_000) -> None:
        self.list_page = list_page
        self.cap = cap
        self.records: dict[str, TaskRecord] = {}
        self.cursor: str | None = None
        self.passes = 0

    def advance(self) -> int:
        """Read the next page; returns how many records it held."""
        page = self.list_page(self.cursor)
        for record in page.records:  # re-read records move to the end (freshest)
            self.records.pop(record.task_id, None)
            self.records[record.task_id] = record
        self.cursor = page.cursor
        if not page.cursor:
            self.passes += 1
        while len(self.records) > self.cap:  # forget the least recently read
            del self.records[next(iter(self.records))]
        return len(page.records)


@dataclass(frozen=True, slots=True)
class Snapshot:
    """One refresh: ``now_ms`` (epoch ms), queue depths by queue name, the paused set, the
    records window, and the errors met while reading (one line each)."""

    now_ms: int
    depths: dict[str, Depth]
    paused: frozenset[tuple[str, str]]
    records: list[TaskRecord]
    passes: int
    probe: Mapping[str, Any] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)


class DashboardSource:
    """Snapshots of one deployment through ``client`` (a ``Conveyor``).

    ``probe`` (optional) returns in-process figures only a co-located platform knows, e.g.
    ``{"aimd": {executor: window}, "workers": {type: running}}`` in ``conveyor dev``.
    """

    def __init__(
        self,
        client: Any,
        *,
        page_size: int = 200,
        window_cap: int = 20_000,
        history_len: int = 180,
        min_interval: float = 2.0,
        probe: Callable[[], Mapping[str, Any]] | None = None,
    ) -> None:
        self.client = client
        self.catalog = client.catalog
        self.topology = client.topology
        self.min_interval = min_interval
        self.probe = probe
        self.window = RecordWindow(
            lambda cursor: client.list(limit=page_size, cursor=cursor), cap=window_cap
        )
        #: (epoch ms, {queue: backlog}) per snapshot, oldest first.
        self.history: deque[tuple[int, dict[str, int]]] = deque(maxlen=history_len)
        self._lock = threading.Lock()
        self._last: Snapshot | None = None
        #: Serializes DLQ reads and redrives: a listing holds entries invisible briefly.
        self.dlq_lock = threading.Lock()
        #: Dollars per tenant and type (the cost ledger, read at most once a minute).
        self.costs = CostPanels(client)

    def queues(self) -> list[str]:
        work = [self.topology.work_queue(t.name) for t in self.catalog if t.executor == "fargate"]
        return [*self.topology.lanes, *work, self.topology.dlq]

    def snapshot(self, *, fresh: bool = False) -> Snapshot:
        with self._lock:
            now = now_ms(self.client.clock)
            last = self._last
            if last and not fresh and now - last.now_ms < self.min_interval * 1000:
                return last
            errors: list[str] = []
            depths: dict[str, Depth] = {}
            for queue in self.queues():
                try:
                    depths[queue] = self.client.lanes.depth(queue)
                except Exception as exc:
                    errors.append(f"{queue}: {describe_error(exc)}")
            paused: frozenset[tuple[str, str]] = frozenset()
            try:
                paused = self.client.paused()
            except Exception as exc:
                errors.append(f"pauses: {describe_error(exc)}")
            try:
                self.window.advance()
            except Exception as exc:
                errors.append(f"task records: {describe_error(exc)}")
            probe: Mapping[str, Any] = {}
            if self.probe is not None:
                try:
                    probe = self.probe()
                except Exception as exc:
                    errors.append(f"platform probe: {describe_error(exc)}")
            self.history.append(
                (now, {q: d.visible + d.in_flight + d.delayed for q, d in depths.items()})
            )
            self._last = Snapshot(
                now_ms=now,
                depths=depths,
                paused=paused,
                records=list(self.window.records.values()),
                passes=self.window.passes,
                probe=probe,
                errors=errors,
            )
            return self._last

    def forget(self) -> None:
        """Drop the cached snapshot (after a control action, so the next view is fresh)."""
        with self._lock:
            self._last = None

    def remember(self, record: TaskRecord) -> None:
        """Put a freshly read record into the window (e.g. after a task page read it)."""
        with self._lock:
            self.window.records[record.task_id] = record

"""The reconciler: finds the tasks a crash stranded and repairs them. Runs on its own
thread in the dispatcher service (``Dispatcher.run``), one pass every ``interval`` s.

What to do about one record is ``policy.reconcile.decide`` (pure). This module finds the
records to ask about, cheaply, and carries the verdicts out:

* **The window** (fast, for tasks in the ``by_type`` index). Generated task IDs are
  ULIDs, sorted by creation time, and the index (KEYS_ONLY, sort key ``id``) holds their
  IDs. Each pass queries, per task type, the IDs created between the last pass's end and
  ``now - settle_age``, so every such task is looked at once, ``settle_age`` after its
  creation, when nearly all have finished. The window's start is kept in a marker item,
  so a restart goes on from there (at most ``horizon`` back).
* **The watch list.** A task not finished when looked at is watched (in memory, at most
  ``watch_limit``) and read again only when its verdict says (``Verdict.next_ms``), until
  it is finished, repaired or reported.
* **The sweep** (everything else: custom IDs, types kept out of the index). On start
  and every ``full_sweep_every`` seconds (default 6 h; None: never), a paced, eventually
  consistent Scan of the table returns the QUEUED, SCHEDULED, RUNNING and FAILED
  records, ``sweep_pages`` pages of up to 1,000 items a pass. Re-submitting a stranded task's ID
  repairs it at once anyway (``Conveyor.submit``).
* **The DLQ** is only read when a FAILED task is due a check (rare), at most
  ``dlq_read_limit`` entries; a deeper DLQ leaves those checks for a later pass. A FAILED
  task is second-guessed for one sweep period only (``failed_max_age``).

Cost (list prices, ``aws-prices.md``; T task types, a pass a minute):
  idle: per pass T Queries (0.5 RRU each) + 1 marker PutItem (1 WRU): 1,440 x (T x 0.5
  RRU + 1 WRU) a day = about $0.0014 a day for T = 5; no SQS request, no record read;
  the sweep of an empty table, 4 Scans a day.
  100 tasks/s (8.64 M tasks/day): window, for indexed types: each record read once,
  eventually consistent (BatchGetItem, <= 4 KB: 0.5 RRU) = 4.32 M RRU = $0.54/day
  ($0.0625 per million tasks); key Queries ~66 k RRU ($0.01/day). Sweep: a Scan bills all
  it reads, 0.5 RRU per 4 KB: with 7 days of records (60 M items of ~0.4 KB, 24 GB) that
  is ~2.9 M RRU = $0.37 per sweep, $1.48/day at one per 6 h ($0.17 per million tasks;
  $0.04 at one a day). Open tasks are read again only when their verdict is due. A
  restart re-reads at most ``horizon`` (24 h) of window records once (<= $0.54). Re-sends
  and dead letters cost only for stranded tasks (1 SQS request per 10, batched).
Worst-case time to repair (defaults, interval 60 s): indexed types: a stranded QUEUED
  task, due + ``queued_grace`` (600 s) + one interval (~11 min); a RUNNING one, lease end
  + ``lease_grace`` (120 s) + one interval (never before ``settle_age`` after creation);
  a FAILED one, failure + ``failed_grace`` (300 s) + one interval (~6 min). Custom IDs
  and unindexed types: the same plus up to one sweep period and its duration (6 h + the
  time to read the table at ``sweep_pages`` pages a minute). A second re-send of the same
  task waits twice as long, and so on, up to ``max_resends`` (3); then the task is
  reported (once, logged and counted) and never re-sent again by this process.
Limits: the watch list lives in memory; after a restart, a task is re-sent at most
  ``max_resends`` more times. Several dispatcher services each run a reconciler: the work
  repeats and a stranded task may be re-sent by each (harmless, bounded). A task whose
  inline payload travelled only in its lost message cannot be re-sent: it is logged
  once, and failed as lost (``LOST``, with a DLQ entry saying to submit it again) when
  it has been due for ``lost_after`` (4 days: no lane message outlives that); a
  re-submit with its payload repairs it at once, before or after.
"""

from __future__ import annotations

import os
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import replace
from typing import Protocol, runtime_checkable

from aws_lambda_powertools import Logger

from ..catalog import Catalog
from ..envelope import Envelope
from ..errors import InvalidTransition, TaskNotFound
from ..model import TaskError, TaskRecord, TaskState
from ..policy.reconcile import (
    INLINE,
    Action,
    ReconcileSettings,
    Verdict,
    decide,
    lost_error,
    ulid_bounds,
    ulid_ms,
)
from ..ports import Clock, Lanes, OutMessage, SystemClock, now_ms
from ..topology import Topology
from .deadletter import dead_letter, dead_lettered_ids
from .finish import purge_at
from .outcome import DLQ, Outcome

logger = Logger(service="conveyor-reconciler")
MARKER = "reconcile-window"
#: ``Dispatcher(reconcile_every=FROM_ENV)``: read the interval from the environment.
FROM_ENV = -1.0


def interval_from_env() -> float | None:
    """``CONVEYOR_RECONCILE_SECONDS`` (default 60); 0 or ``off``: no reconciler."""
    raw = os.environ.get("CONVEYOR_RECONCILE_SECONDS", "60").strip().lower()
    if raw in ("0", "off", "none", ""):
        return None
    try:
        seconds = float(raw)
    except ValueError:
        logger.warning("CONVEYOR_RECONCILE_SECONDS is not a number; using 60")
        return 60.0
    return seconds if seconds > 0 else None


@runtime_checkable
class ReconcileStore(Protocol):
    """The reads the reconciler needs (``DynamoTaskStore`` and ``MemoryTaskStore``)."""

    def peek_many(self, task_ids: Sequence[str]) -> dict[str, TaskRecord]:
        """Records by ID, eventually consistent (half the read units of ``get_many``)."""
        ...

    def paused(self) -> frozenset[tuple[str, str]]: ...

    def keys_by_type(
        self,
        task_type: str,
        *,
        lo: str | None = None,
        hi: str | None = None,
        cursor: str | None = None,
        limit: int = 1000,
    ) -> tuple[list[str], str | None]: ...

    def scan_unfinished(
        self, *, cursor: str | None = None, limit: int = 1000
    ) -> tuple[list[TaskRecord], str | None]: ...

    def read_marker(self, name: str) -> str | None: ...

    def transition(
        self,
        task_id: str,
        target: TaskState,
        changes: dict[str, object],
        now_ms: int,
        *,
        expect_starts: int | None = None,
    ) -> TaskRecord: ...

    def write_marker(self, name: str, value: str) -> None: ...


class Reconciler:
    def __init__(
        self,
        catalog: Catalog,
        topology: Topology,
        store: ReconcileStore,
        lanes: Lanes,
        *,
        clock: Clock | None = None,
        settings: ReconcileSettings | None = None,
        interval: float = 60.0,
        settle_age: float = 60.0,
        horizon: float = 86400.0,
        full_sweep_every: float | None = 6 * 3600.0,
        sweep_pages: int = 200,
        sweep_on_start: bool = True,
        watch_limit: int = 100_000,
        dlq_read_limit: int = 1000,
    ) -> None:
        self.catalog = catalog
        self.topology = topology
        self.store = store
        self.lanes = lanes
        self.clock = clock or SystemClock()
        self.settings = settings or ReconcileSettings()
        #: Seconds between passes.
        self.interval = interval
        #: Seconds after its creation a task is first looked at.
        self.settle_age = settle_age
        #: Seconds back the window may start (after a long stop, or on a first start).
        self.horizon = horizon
        #: Seconds between the starts of two sweeps of the whole table (None: no sweep).
        self.full_sweep_every = full_sweep_every
        #: Scan pages (up to 1,000 items each) a pass reads of a sweep in progress.
        self.sweep_pages = sweep_pages
        if self.settings.failed_max_age is None:  # each FAILED task: one sweep's look
            longest = self.settings.failed_grace + (full_sweep_every or 0) + 3600.0
            self.settings = replace(self.settings, failed_max_age=longest)
        self.watch_limit = watch_limit
        self.dlq_read_limit = dlq_read_limit
        #: task ID -> epoch ms of its next look.
        self.watch: dict[str, int] = {}
        #: task ID -> re-sends made by this process.
        self.resends: Counter[str] = Counter()
        #: Tasks reported stuck (logged once; never re-sent again by this process).
        self.reported: set[str] = set()
        #: Stranded tasks with an inline payload, logged once while they wait for
        #: ``lost_after``.
        self.suspected: set[str] = set()
        self.stats: Counter[str] = Counter()
        self._window_ms: int | None = None
        #: A first sweep right away: a restart is often what stranded something.
        self._sweep_started = -float("inf") if sweep_on_start else time.monotonic()
        self._sweep_cursor: str | None = None
        self._sweeping = False

    def __call__(self) -> float:
        """One pass; returns the seconds until the next (for the service loop)."""
        self.run_once()
        return self.interval

    def run_once(self, *, full_sweep: bool = False) -> Counter[str]:
        """Look at the new window, the watched tasks due a look, and the next pages of
        the sweep in progress (``full_sweep``: start one and finish it in this pass);
        repair what is stranded. Returns this pass's counts."""
        now = now_ms(self.clock)
        done: Counter[str] = Counter()
        start = self._window_start(now)
        end = now - int(self.settle_age * 1000)
        ids: list[str] = []
        if end > start:
            lo, hi = ulid_bounds(start, end)
            for task_type in self.catalog:
                ids += self._keys(task_type.name, lo, hi)
        ids += [t for t, at in self.watch.items() if at <= now]
        swept = self._sweep(full_sweep)
        done["swept"] += len(swept)
        self._look(list(dict.fromkeys(ids)), now, done, swept)
        if end > start:
            self._window_ms = end
            self._save_window(now)
        self.stats.update(done)
        return done

    # -- finding ----------------------------------------------------------------------------

    def _keys(self, task_type: str, lo: str | None = None, hi: str | None = None) -> list[str]:
        out: list[str] = []
        cursor = None
        while True:
            page, cursor = self.store.keys_by_type(task_type, lo=lo, hi=hi, cursor=cursor)
            out += page
            if not cursor:
                return out

    def _sweep(self, whole: bool) -> list[TaskRecord]:
        """The next pages of the table sweep: every unfinished or FAILED record, whatever
        its ID or type (custom IDs, and types kept out of the ``by_type`` index, are
        found only here). A sweep starts every ``full_sweep_every`` seconds and reads
        ``sweep_pages`` pages a pass; ``whole`` starts one and reads it to the end."""
        due = self.full_sweep_every is not None and (
            time.monotonic() - self._sweep_started >= self.full_sweep_every
        )
        if whole or (due and not self._sweeping):
            self._sweeping, self._sweep_cursor = True, None
            self._sweep_started = time.monotonic()
        found: list[TaskRecord] = []
        pages = 0
        while self._sweeping and (whole or pages < self.sweep_pages):
            page, self._sweep_cursor = self.store.scan_unfinished(cursor=self._sweep_cursor)
            found += page
            pages += 1
            self._sweeping = self._sweep_cursor is not None
        return found

    def _window_start(self, now: int) -> int:
        floor = now - int(self.horizon * 1000)
        if self._window_ms is None:
            saved = self.store.read_marker(MARKER)
            self._window_ms = int(saved) if saved and saved.isdigit() else floor
        return max(self._window_ms, floor)

    def _save_window(self, now: int) -> None:
        """Persist where a restarted reconciler should start: the window's end, or the
        creation of the oldest watched ULID task (watching is in memory), whichever is
        older."""
        assert self._window_ms is not None
        oldest = min((ulid_ms(t) or self._window_ms for t in self.watch), default=self._window_ms)
        self.store.write_marker(MARKER, str(min(self._window_ms, oldest)))

    # -- deciding and repairing -------------------------------------------------------------

    def _look(self, ids: list[str], now: int, done: Counter[str], known: list[TaskRecord]) -> None:
        ids = [t for t in ids if t not in {r.task_id for r in known}]
        if not ids and not known:
            return
        paused = self.store.paused()
        records: list[TaskRecord] = list(known)
        for start in range(0, len(ids), 100):
            read = self.store.peek_many(ids[start : start + 100])
            records += read.values()
            for task_id in set(ids[start : start + 100]) - set(read):
                self._forget(task_id)  # purged
        done["examined"] += len(records)
        verdicts = {r.task_id: self._decide(r, now, paused, False) for r in records}
        suspects = [r for r in records if verdicts[r.task_id].action is Action.DEAD_LETTER]
        if suspects:
            in_dlq = dead_lettered_ids(self.lanes, self.topology.dlq, self.dlq_read_limit)
            for record in suspects:
                lettered = None if in_dlq is None else record.task_id in in_dlq
                verdicts[record.task_id] = self._decide(record, now, paused, lettered)
        resend: list[TaskRecord] = []
        dead: list[TaskRecord] = []
        for record in records:
            verdict = verdicts[record.task_id]
            if verdict.action is Action.WAIT:
                self._watch(record.task_id, verdict.next_ms, done)
                if verdict.reason.endswith(INLINE) and record.task_id not in self.suspected:
                    self.suspected.add(record.task_id)
                    logger.warning(
                        "stranded task with an inline payload: failed as lost if still "
                        "QUEUED at next_ms, unless re-submitted",
                        extra={"task_id": record.task_id, "next_ms": verdict.next_ms},
                    )
                    done["suspected"] += 1
            elif verdict.action is Action.FAIL_LOST:
                lost = self._fail_lost(record, now)
                if lost is not None:  # watched until its DLQ entry is sent
                    self._watch(lost.task_id, now + int(self.settings.failed_grace * 1000), done)
                    dead.append(lost)
                    done["failed_lost"] += 1
            elif verdict.action is Action.RESEND:
                resend.append(record)
            elif verdict.action is Action.DEAD_LETTER:
                dead.append(record)
            elif verdict.action is Action.REPORT:
                self.watch.pop(record.task_id, None)
                if record.task_id not in self.reported:
                    self.reported.add(record.task_id)
                    self.resends[record.task_id] = self.settings.max_resends  # none more
                    logger.error(
                        "stranded task, not repaired",
                        extra={"task_id": record.task_id, "reason": verdict.reason},
                    )
                    done["reported"] += 1
            else:
                self._forget(record.task_id)
        self._resend(resend, now, done)
        self._dead_letter(dead, now, done)

    def _decide(
        self,
        record: TaskRecord,
        now: int,
        paused: frozenset[tuple[str, str]],
        in_dlq: bool | None,
    ) -> Verdict:
        known = record.task_type in self.catalog
        task_type = self.catalog.get(record.task_type) if known else None
        return decide(
            record,
            now,
            resends=self.resends[record.task_id],
            paused=("type", record.task_type) in paused or ("tenant", record.tenant) in paused,
            payload_known=record.payload_ref is not None,
            in_dlq=in_dlq,
            settings=self.settings,
            lean_timeout=task_type.timeout if task_type and task_type.lean else None,
        )

    def _watch(self, task_id: str, at: int, done: Counter[str]) -> None:
        if task_id in self.watch or len(self.watch) < self.watch_limit:
            self.watch[task_id] = at
        else:
            done["unwatched"] += 1  # the list is full: seen again after a restart or sweep

    def _forget(self, task_id: str) -> None:
        self.watch.pop(task_id, None)
        self.resends.pop(task_id, None)
        self.reported.discard(task_id)
        self.suspected.discard(task_id)

    def _fail_lost(self, record: TaskRecord, now: int) -> TaskRecord | None:
        """QUEUED -> FAILED (``LOST``), if the task is still never started; the FAILED
        record (to dead-letter), or None when it changed meanwhile (looked at again)."""
        changes: dict[str, object] = {"finished_at": now, "error": lost_error(), "owner": None}
        if record.task_type in self.catalog:
            changes["purge_at"] = purge_at(self.catalog.get(record.task_type), record, now)
        try:
            failed = self.store.transition(
                record.task_id, TaskState.FAILED, changes, now, expect_starts=0
            )
        except (InvalidTransition, TaskNotFound):
            self._forget(record.task_id)
            return None
        logger.error(
            "stranded task failed as lost",
            extra={"task_id": record.task_id, "reason": failed.error and failed.error.message},
        )
        return failed

    def _resend(self, records: list[TaskRecord], now: int, done: Counter[str]) -> None:
        by_lane: dict[str, list[OutMessage]] = {}
        for record in records:
            body = Envelope.for_record(record, None, now).to_json()
            by_lane.setdefault(record.lane, []).append(
                OutMessage(body=body, group=record.tenant, id=record.task_id)
            )
        for lane, messages in by_lane.items():
            failed = set(self.lanes.send(lane, messages))
            for message in messages:
                if message.id in failed:
                    continue
                self.resends[message.id] += 1
                done["resent"] += 1
                grace = self.settings.queued_grace * 2 ** self.resends[message.id]
                self._watch(message.id, now + int(grace * 1000), done)
                logger.warning("re-sent a stranded task", extra={"task_id": message.id})

    def _dead_letter(self, records: list[TaskRecord], now: int, done: Counter[str]) -> None:
        if not records:
            return
        letters = []
        for i, record in enumerate(records):
            error = record.error or TaskError("failed", "Failed", "failed")
            body = Envelope.for_record(record, None, now).to_json()
            outcome = Outcome(
                DLQ,
                record.task_id,
                error.kind,
                state=TaskState.FAILED.value,
                reason=error.message,
                attempts=record.attempts,
            )
            letter = dead_letter(body, outcome, record.lane, now)
            letters.append(OutMessage(letter.body, letter.group, id=str(i)))
        failed = set(self.lanes.send(self.topology.dlq, letters))
        for i, record in enumerate(records):
            if str(i) not in failed:
                done["dead_lettered"] += 1
                self._forget(record.task_id)

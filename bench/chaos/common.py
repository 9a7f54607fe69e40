"""What every chaos scenario shares: the task mix, the verdict, the table.

A scenario submits ``tasks`` tasks of the ledger catalog (tests/support/ledger.py), whose
handlers append one line per completed run to a side-effect ledger, runs the platform
under its faults, stops the faults, and waits for repair. The verdict:

* **lost** -- a task not terminal at the end, FAILED with no DLQ entry, FAILED as lost
  by the reconciler (its inline payload went with its message: terminal and
  dead-lettered, but it never runs), or SUCCEEDED without its handler ever completing (a
  stranded task the reconciler reports instead of repairing is lost too);
* **doubled** -- a record that succeeded twice (two ``Task Succeeded`` events);
* **re-runs** -- handler runs that completed more than once for one task; allowed only
  where a process died between the handler's return and the durable write, so at most
  ``allowed_reruns`` (0 when no process died);
* **repair** -- seconds from the end of the faults until every task was settled:
  terminal, and dead-lettered if FAILED (0 if all were already; None: not within the
  scenario's window);
* **unexpected** -- terminal, but not the state the payload asks for (e.g. attempts spent
  by crashes): reported, not a loss.
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from conveyor import TaskState
from conveyor.policy.reconcile import ReconcileSettings, is_lost
from conveyor.runtime import service
from conveyor.runtime.reconciler import Reconciler

#: (weight, task type, payload, the state the payload asks for)
MIX: tuple[tuple[int, str, dict[str, Any], TaskState], ...] = (
    (60, "work", {"mode": "ok"}, TaskState.SUCCEEDED),
    (10, "work", {"mode": "flaky", "ok_at": 2}, TaskState.SUCCEEDED),
    (5, "work", {"mode": "throttle", "throttles": 1}, TaskState.SUCCEEDED),
    (10, "work", {"mode": "fatal"}, TaskState.FAILED),
    (15, "other", {}, TaskState.SUCCEEDED),
)


@dataclass
class Result:
    scenario: str
    tasks: int
    lost: int
    doubled: int
    reruns: int
    allowed_reruns: int
    repair_seconds: float | None
    unexpected: int = 0
    injected: str = ""
    notes: list[str] = field(default_factory=list)
    #: "stranded task, not repaired" reports the reconciler logged (a task may be reported
    #: on several passes; None where the reconciler runs in another process).
    reported: int | None = None

    @property
    def passed(self) -> bool:
        return self.lost == 0 and self.doubled == 0 and self.reruns <= self.allowed_reruns

    @property
    def repair(self) -> str:
        return "never" if self.repair_seconds is None else f"{self.repair_seconds:.1f} s"


def task_mix(count: int, rng: random.Random) -> list[tuple[dict[str, Any], TaskState]]:
    """``count`` submit requests drawn from MIX, each with the state it should end in."""
    weights = [w for w, *_ in MIX]
    out = []
    for i in range(count):
        _, task_type, payload, expected = rng.choices(MIX, weights)[0]
        request = {
            "task_type": task_type,
            "payload": dict(payload, n=i),
            "tenant": f"t{i % 5}",
        }
        out.append((request, expected))
    return out


def wait_settled(runtime: Any, ids: list[str], timeout: float) -> bool:
    """Poll until every task is terminal and every FAILED one has its DLQ entry (True),
    or ``timeout`` seconds pass (False). ``runtime`` reads with clean clients."""
    deadline = time.monotonic() + timeout
    client = runtime.client()
    while True:
        records = read(runtime.store.get_many, ids)
        if len(records) == len(ids) and all(r.terminal for r in records.values()):
            failed = {i for i, r in records.items() if r.state is TaskState.FAILED}
            if not failed or failed <= dead_letters(client, len(ids)):
                return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.5)


def dead_letters(client: Any, tasks: int) -> set[str]:
    """The task IDs the DLQ holds entries for."""
    return {d.task_id for d in read(client.dlq_list, limit=10 * tasks)}


def read(fn: Callable[..., Any], *args: Any, tries: int = 5, **kwargs: Any) -> Any:
    """An observer's read, tried again on any error: in-process moto can fail a read that
    races a write on another thread (its BatchGetItem iterates the item being changed),
    and the verdict must not depend on that."""
    for attempt in range(tries):
        try:
            return fn(*args, **kwargs)
        except Exception:
            if attempt == tries - 1:
                raise
            time.sleep(0.2)
    raise AssertionError("unreachable")


def judge(
    scenario: str,
    ids: Sequence[str],
    expected: Sequence[TaskState],
    records: dict[str, Any],
    dead: set[str],
    effects: Counter[str],
    succeeded_events: Counter[str],
    *,
    allowed_reruns: int,
    repair_seconds: float | None,
    injected: str,
    reported: int | None = None,
) -> Result:
    lost, notes, unexpected = 0, [], 0
    if reported:
        notes.append(f"the reconciler logged {reported} 'stranded task, not repaired' reports")
    for task_id, want in zip(ids, expected, strict=True):
        record = records.get(task_id)
        why = ""
        if record is None:
            why = "record missing"
        elif not record.terminal:
            why = f"stuck {record.state.value} (attempts {record.attempts})"
        elif record.state is TaskState.FAILED and task_id not in dead:
            why = "FAILED with no DLQ entry"
        elif is_lost(record):
            why = "failed as lost: its payload went with its message"
        elif record.state is TaskState.SUCCEEDED and effects[task_id] == 0:
            why = "SUCCEEDED without a completed run"
        if why:
            lost += 1
            notes.append(f"{task_id}: {why}")
        elif record.state is not want:
            unexpected += 1
            error = record.error.message if record.error else ""
            notes.append(f"{task_id}: {record.state.value}, wanted {want.value} ({error})")
    return Result(
        scenario=scenario,
        tasks=len(ids),
        lost=lost,
        doubled=sum(1 for n in succeeded_events.values() if n > 1),
        reruns=sum(n - 1 for n in effects.values() if n > 1),
        allowed_reruns=allowed_reruns,
        repair_seconds=repair_seconds,
        unexpected=unexpected,
        injected=injected,
        notes=notes,
        reported=reported,
    )


def table(results: Sequence[Result]) -> str:
    """The results as a Markdown table (pasteable into a note)."""
    head = "| scenario | tasks | lost | doubled | re-runs (allowed) | repair time | unexpected |"
    rows = [head, "|---|---:|---:|---:|---:|---:|---:|"]
    for r in results:
        rows.append(
            f"| {r.scenario} | {r.tasks} | {r.lost} | {r.doubled} | "
            f"{r.reruns} ({r.allowed_reruns}) | {r.repair} | {r.unexpected} |"
        )
    return "\n".join(rows)


#: Compressed time, so a scenario's repairs take seconds: lanes hide a received message
#: for LANE_VISIBILITY seconds (60 when deployed) and a lease outlives the type's timeout
#: by LEASE_MARGIN seconds (30 by default).
LANE_VISIBILITY = 6
LEASE_MARGIN = 2.0
DISPATCHER_OPTIONS: dict[str, Any] = {
    "lane_visibility": LANE_VISIBILITY,
    "buffer_seconds": LANE_VISIBILITY * 0.6,
    "hold_seconds": 1.0,
    "pause_refresh": 0.5,
}
EXECUTOR_THREADS = 8
#: The reconciler's thresholds, compressed the same way (deployed: a pass a minute, 600 s
#: before a QUEUED task without a message is re-sent, 120 s after a lease, 300 s after a
#: failure, a daily sweep for custom task IDs). ``lost_after`` keeps its 4 days: a
#: task waiting in a lane through a dispatcher's death must not be failed as lost, and a
#: stranded one counts as lost whether it stays QUEUED or is failed as lost.
RECONCILE_SETTINGS = ReconcileSettings(queued_grace=30.0, lease_grace=3.0, failed_grace=5.0)
RECONCILE_OPTIONS: dict[str, Any] = {
    "interval": 1.0,
    "settle_age": 3.0,
    "full_sweep_every": 5.0,
    "settings": RECONCILE_SETTINGS,
}


def reconciler(dispatcher: Any) -> Reconciler:
    """The reconciler ``Dispatcher.run`` would run, with the compressed thresholds."""
    return Reconciler(
        dispatcher.catalog,
        dispatcher.topology,
        dispatcher.store,
        dispatcher.lanes,
        clock=dispatcher.clock,
        **RECONCILE_OPTIONS,
    )


def serve(dispatcher: Any, stop: threading.Event, repairs: Reconciler | None = None) -> None:
    """The dispatcher service as ``Dispatcher.run`` serves it, with ``repairs`` (default:
    ``reconciler(dispatcher)``) and short long-polls, so a stop is quick."""
    service.serve(dispatcher, stop, wait_seconds=1, reconcile=repairs or reconciler(dispatcher))


def shorten_lanes(sqs: Any, topology: Any, seconds: int = LANE_VISIBILITY) -> None:
    """Give every lane of ``topology`` a visibility timeout of ``seconds``."""
    for lane in topology.lanes:
        url = sqs.get_queue_url(QueueName=lane)["QueueUrl"]
        sqs.set_queue_attributes(QueueUrl=url, Attributes={"VisibilityTimeout": str(seconds)})

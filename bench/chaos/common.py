"""What every chaos scenario shares: the task mix, the verdict, the table.

A scenario submits ``tasks`` tasks of the ledger catalog (tests/support/ledger.py), whose
handlers append one line per completed run to a side-effect ledger, runs the platform
under its faults, stops the faults, and waits for repair. The verdict:

* **lost** -- a task not terminal at the end, FAILED with no DLQ entry, or SUCCEEDED
  without its handler ever completing;
* **doubled** -- a record that succeeded twice (two ``Task Succeeded`` events);
* **re-runs** -- handler runs that completed more than once for one task; allowed only
  where a process died between the handler's return and the durable write, so at most
  ``allowed_reruns`` (0 when no process died);
* **repair** -- seconds from the end of the faults until every task was terminal (0 if
  all were already; None: not within the scenario's window);
* **unexpected** -- terminal, but not the state the payload asks for (e.g. attempts spent
  by crashes): reported, not a loss.
"""

from __future__ import annotations

import random
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from conveyor import TaskState

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


def wait_terminal(
    get_many: Callable[[list[str]], dict[str, Any]], ids: list[str], timeout: float
) -> bool:
    """Poll until every task is terminal (True) or ``timeout`` seconds pass (False)."""
    deadline = time.monotonic() + timeout
    while True:
        records = get_many(ids)
        if all(r.terminal for r in records.values()) and len(records) == len(ids):
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.25)


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
) -> Result:
    lost, notes, unexpected = 0, [], 0
    for task_id, want in zip(ids, expected, strict=True):
        record = records.get(task_id)
        why = ""
        if record is None:
            why = "record missing"
        elif not record.terminal:
            why = f"stuck {record.state.value} (attempts {record.attempts})"
        elif record.state is TaskState.FAILED and task_id not in dead:
            why = "FAILED with no DLQ entry"
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


def shorten_lanes(sqs: Any, topology: Any, seconds: int = LANE_VISIBILITY) -> None:
    """Give every lane of ``topology`` a visibility timeout of ``seconds``."""
    for lane in topology.lanes:
        url = sqs.get_queue_url(QueueName=lane)["QueueUrl"]
        sqs.set_queue_attributes(QueueUrl=url, Attributes={"VisibilityTimeout": str(seconds)})

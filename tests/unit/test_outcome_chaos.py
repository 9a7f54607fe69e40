"""Hundreds of tasks through the TaskRunner on the in-memory twins under seeded faults:
state writes and SQS calls that fail, lose their reply or are spuriously refused, and
processes that die. Asserts the core promise: nothing lost, nothing succeeds twice, and a
handler re-runs only where a process died holding a computed, unwritten outcome.

The driver is a message holder like the worker: receive, run, then ack / hide / dead-letter
(deleting only after the dead letter was accepted). A "process death" drops the runner
(and what it remembered) and leaves its message in flight until its visibility ends.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pytest

from conveyor.memory.faulty import Faults, FaultyLanes, FaultyTaskStore
from conveyor.model import TaskState
from conveyor.ports import FakeClock, InMessage
from conveyor.runtime.bootstrap import memory_runtime
from conveyor.runtime.deadletter import dead_letter
from conveyor.runtime.outcome import ACK, DLQ, RETRY, Outcome
from conveyor.runtime.runner import TaskRunner
from tests.support import ledger

VISIBILITY = 60  # seconds a received message stays hidden (longer than the 40 s lease)


class ProcessDied(BaseException):
    """Raised through the runner (no ``except Exception`` catches it), like kill -9."""


class Dying:
    """A TaskStore whose outcome writes (anything but a start) kill the process with
    probability ``p``: half the time before the write, half right after it."""

    def __init__(self, inner: Any, rng: random.Random, p: float) -> None:
        self.inner, self.rng, self.p = inner, rng, p
        self.enabled = True
        self.before = Counter[str]()
        self.after = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def transition(self, task_id: str, target: TaskState, *args: Any, **kw: Any) -> Any:
        dies = self.enabled and target is not TaskState.RUNNING and self.rng.random() < self.p
        if dies and self.rng.random() < 0.5:
            self.before[target.value] += 1
            raise ProcessDied(f"died before writing {target}")
        result = self.inner.transition(task_id, target, *args, **kw)
        if dies:
            self.after += 1
            raise ProcessDied(f"died after writing {target}")
        return result


@dataclass
class Report:
    tasks: int
    lost: int
    doubled: int
    reruns: int
    stranded_ok: int
    deaths: int
    faults: int
    extra_letters: int


def run_scenario(
    tmp_path: Any, seed: int, n: int, rates: Mapping[str, float], die: float = 0.0
) -> Report:
    clock = FakeClock()
    rt = memory_runtime(ledger.catalog, clock=clock, seed=seed)
    client = rt.client()
    raw_lanes = rt.lanes
    faults = Faults(random.Random(seed), enabled=False, **rates)
    dying = Dying(FaultyTaskStore(rt.store, faults), random.Random(seed + 1), die)
    lanes = FaultyLanes(raw_lanes, faults)
    rng = random.Random(seed + 2)
    modes = ["ok"] * 80 + ["flaky"] * 8 + ["throttle"] * 6 + ["fatal"] * 6
    ids = [
        r.task_id
        for r in client.submit_many(
            [
                {"task_type": "work", "payload": {"mode": rng.choice(modes)}, "tenant": f"t{i % 7}"}
                for i in range(n)
            ]
        )
    ]

    def new_runner() -> TaskRunner:
        return TaskRunner(
            ledger.catalog,
            dying,  # type: ignore[arg-type]
            rt.payloads,
            events=rt.events,
            clock=clock,
            rng=random.Random(rng.random()),
            enforce_timeout=False,
            sleep=clock.advance,
            write_budget=3.0,
        )

    def settle(lane: str, message: InMessage, outcome: Outcome) -> None:
        try:
            if outcome.action == ACK:
                lanes.delete(lane, [message.receipt])
            elif outcome.action == DLQ:
                letter = dead_letter(message.body, outcome, lane, int(clock.now() * 1000))
                if not lanes.send(rt.topology.dlq, [letter]):
                    lanes.delete(lane, [message.receipt])
            else:
                lanes.change_visibility(lane, message.receipt, round(outcome.delay))
        except ConnectionError:
            pass  # the message comes back when its visibility ends

    runner, deaths = new_runner(), 0
    faults.enabled = True
    for round_ in range(600):
        if round_ == 400:  # a final calm: faults stop so that everything can settle
            faults.enabled = dying.enabled = False
        for lane in rt.topology.lanes:
            for message in raw_lanes.receive(lane, max_messages=10, visibility=VISIBILITY):
                try:
                    outcome = runner.run_body(message.body)
                except ProcessDied:
                    deaths += 1
                    runner = new_runner()
                    continue
                except Exception as exc:  # as the dispatcher treats a failed executor
                    outcome = Outcome(RETRY, "", "retryable", delay=5.0, reason=str(exc))
                settle(lane, message, outcome)
        clock.advance(5)
        if round_ >= 400 and all(raw_lanes.depth(q) == (0, 0, 0) for q in rt.topology.lanes):
            break

    records = rt.store.get_many(ids)
    letters = Counter(m.body for m in raw_lanes.receive(rt.topology.dlq, max_messages=10**6))
    dead_ids = Counter(dead_letter_id(body) for body in letters)
    lost = [
        i
        for i in ids
        if not records[i].terminal or (records[i].state is TaskState.FAILED and dead_ids[i] == 0)
    ]
    succeeded = Counter(d["id"] for d in rt.events.of_type("Task Succeeded"))
    effects = ledger.effects()
    return Report(
        tasks=n,
        lost=len(lost),
        doubled=sum(1 for i in ids if succeeded[i] > 1),
        reruns=sum(max(0, effects[i] - 1) for i in ids),
        stranded_ok=dying.before["SUCCEEDED"],
        deaths=deaths,
        faults=sum(faults.counts.values()),
        extra_letters=sum(dead_ids.values()) - len(dead_ids),
    )


def dead_letter_id(body: str) -> str:
    import json

    return str(json.loads(body)["task_id"])


SCENARIOS = {
    # name: (fault rates, death probability per outcome write)
    "reply-lost 5%, refused 3%": ({"lost": 0.05, "refuse": 0.03}, 0.0),
    "errors 10%, reply-lost 5%": ({"error": 0.10, "lost": 0.05}, 0.0),
    "all faults + deaths 3%": ({"error": 0.05, "lost": 0.05, "refuse": 0.03}, 0.03),
}


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_nothing_lost_nothing_succeeds_twice(name, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("LEDGER_DIR", str(tmp_path))
    rates, die = SCENARIOS[name]
    report = run_scenario(tmp_path, seed=8, n=240, rates=rates, die=die)
    with capsys.disabled():
        print(f"\n{name:28} {report}")
    assert report.faults > 20  # the faults really happened
    assert report.lost == 0
    assert report.doubled == 0
    if die == 0:
        assert report.reruns == 0
    else:
        assert report.deaths > 0
        assert report.reruns <= report.stranded_ok


def test_through_the_dispatcher_with_a_faulty_task_store(tmp_path, monkeypatch):
    """The same promise on the real Dispatcher and LocalExecutor (wall clock), with 5%
    reply-lost, 3% spuriously refused and 3% failed state writes."""
    from conveyor.runtime.executors import LocalExecutor

    monkeypatch.setenv("LEDGER_DIR", str(tmp_path))
    rt = memory_runtime(ledger.catalog, seed=3)
    client = rt.client()
    for q in [*rt.topology.lanes, rt.topology.dlq]:
        rt.lanes.queues.setdefault(q, [])
    faults = Faults(random.Random(5), lost=0.05, refuse=0.03, error=0.03)
    rt.store = FaultyTaskStore(rt.store, faults)
    rng = random.Random(2)
    modes = ["ok"] * 80 + ["flaky"] * 8 + ["throttle"] * 6 + ["fatal"] * 6
    submitted = client.submit_many(
        [
            {"task_type": "work", "payload": {"mode": rng.choice(modes)}, "tenant": f"t{i % 5}"}
            for i in range(200)
        ]
    )
    ids = [r.task_id for r in submitted]
    runner = rt.runner(enforce_timeout=False, write_budget=2.0)
    dispatcher = rt.dispatcher(LocalExecutor(runner), runner=runner, pause_refresh=0)
    assert dispatcher.drain(idle_passes=5, timeout=120)
    records = client.store.get_many(ids)
    failed = {i for i, r in records.items() if r.state is TaskState.FAILED}
    assert all(r.terminal for r in records.values())
    assert {d.task_id for d in client.dlq_list(limit=1000)} == failed
    effects = ledger.effects()
    assert all(effects[i] == 1 for i, r in records.items() if r.state is TaskState.SUCCEEDED)
    assert sum(faults.counts.values()) > 20

"""TaskRunner under store faults (in-memory twins wrapped by conveyor.memory.faulty):
outcome writes are fenced by the attempt token, retried, recognised when already applied,
and never acked before they are durable."""

from __future__ import annotations

import random
import threading
from collections import Counter

import pytest

from conveyor import Catalog, Conveyor, Fatal, Retry, Throttled
from conveyor.envelope import parse
from conveyor.memory import MemoryEvents
from conveyor.memory.faulty import Faults, FaultyTaskStore, InjectedFault
from conveyor.model import TaskState
from conveyor.ports import FakeClock
from conveyor.runtime.runner import TaskRunner

LEDGER: Counter[str] = Counter()
GATES: dict[str, threading.Event] = {}
catalog = Catalog("runner-faults")


@catalog.task(retry=Retry(max_attempts=3, backoff_base=2, jitter=False), timeout=5, events=True)
def job(payload, ctx):
    LEDGER[ctx.task_id] += 1
    gate = GATES.get(f"{ctx.task_id}/{ctx.attempt}")
    if gate is not None:
        gate.wait(10)
    if payload.get("mode") == "fatal":
        raise Fatal("bad input")
    if payload.get("mode") == "throttle" and ctx.throttles < 1:
        raise Throttled("429")
    if payload.get("mode") == "beat":
        ctx.heartbeat()
        assert not ctx.cancelled
    return {"attempt": ctx.attempt}


class Setup:
    def __init__(self, **faults) -> None:
        LEDGER.clear()
        GATES.clear()
        self.clock = FakeClock()
        self.client = Conveyor.in_memory(catalog, clock=self.clock)
        self.faults = Faults(random.Random(7), enabled=False, **faults)
        self.store = FaultyTaskStore(self.client.store, self.faults)
        self.events = MemoryEvents()
        self.runner = self.new_runner()

    def new_runner(self, **kwargs) -> TaskRunner:
        return TaskRunner(
            catalog,
            self.store,
            self.client.payloads,
            events=self.events,
            clock=self.clock,
            rng=random.Random(1),
            enforce_timeout=False,
            sleep=self.clock.advance,
            write_budget=kwargs.pop("write_budget", 5.0),
            **kwargs,
        )

    def submit(self, task_id: str, **payload) -> str:
        self.client.submit("job", payload, task_id=task_id)
        record = self.client.get(task_id)
        (message,) = self.client.lanes.receive(record.lane, max_messages=10)
        assert parse(message.body).task_id == task_id
        return message.body

    def fault_the_outcome(self) -> None:
        """Faults start once the handler runs, i.e. they hit the outcome write."""
        GATES["arm"] = threading.Event()
        self.faults.enabled = True


def test_a_stale_attempt_from_before_a_hand_back_cannot_write_its_outcome():
    """Attempt 1 is handed back (attempts 1 -> 0, as a SIGTERM release does) and attempt
    2 starts with the same ``attempts`` value; attempt 1 finishing late must not succeed
    the task over attempt 2 (with ``expect_attempts`` it could)."""
    s = Setup()
    body = s.submit("a")
    GATES["a/1"] = threading.Event()
    box = {}
    late = threading.Thread(target=lambda: box.update(outcome=s.runner.run_body(body)))
    late.start()
    try:
        while s.client.get("a").state is not TaskState.RUNNING:
            threading.Event().wait(0.01)
        now = int(s.clock.now() * 1000)
        s.client.store.transition(
            "a", TaskState.QUEUED, {"lease_until": None}, now, increments={"attempts": -1}
        )
        second = s.client.store.transition(
            "a",
            TaskState.RUNNING,
            {"lease_until": now + 60_000},
            now,
            increments={"attempts": 1, "starts": 1},
        )
        assert second.attempts == 1  # the same attempts value the late attempt holds
    finally:
        GATES["a/1"].set()
        late.join(10)
    assert box["outcome"].kind == "busy"  # not "ok": the newer attempt holds the task
    record = s.client.get("a")
    assert (record.state, record.starts) == (TaskState.RUNNING, 2)
    assert s.events.of_type("Task Succeeded") == []


class _Arm:
    """A gate the handler passes: it turns the faults on, so they hit the outcome write."""

    def __init__(self, faults: Faults) -> None:
        self.faults = faults

    def wait(self, _timeout: float) -> bool:
        self.faults.enabled = True
        return True


def arm(s: Setup, task_id: str, attempt: int = 1) -> None:
    GATES[f"{task_id}/{attempt}"] = _Arm(s.faults)  # type: ignore[assignment]


@pytest.mark.parametrize("mode", ["lost", "refuse", "error"])
def test_a_faulted_success_write_is_retried_or_recognised_and_acked_once(mode):
    """reply lost: the retry is refused and the record shows the write was ours;
    spurious refusal: still RUNNING under our token, so it is retried; error: retried."""
    s = Setup(**{mode: 1.0}, remaining=1)
    body = s.submit("a")
    arm(s, "a")
    outcome = s.runner.run_body(body)
    assert (outcome.action, outcome.kind, outcome.state) == ("ack", "ok", "SUCCEEDED")
    assert s.faults.counts[f"transition:{mode}"] == 1
    assert LEDGER["a"] == 1
    assert len(s.events.of_type("Task Succeeded")) == 1
    assert s.client.get("a").state is TaskState.SUCCEEDED


def test_a_failed_write_whose_reply_is_lost_still_dead_letters():
    s = Setup(lost=1.0, remaining=1)
    body = s.submit("f", mode="fatal")
    arm(s, "f")
    outcome = s.runner.run_body(body)
    assert (outcome.action, outcome.kind, outcome.state) == ("dlq", "fatal", "FAILED")
    assert outcome.reason == "bad input"


def test_a_throttle_hand_back_whose_reply_is_lost_is_applied_once():
    s = Setup(lost=1.0, remaining=1)
    body = s.submit("t", mode="throttle")
    arm(s, "t")
    outcome = s.runner.run_body(body)
    assert (outcome.action, outcome.kind, outcome.state) == ("retry", "throttled", "QUEUED")
    record = s.client.get("t")
    assert (record.attempts, record.throttles, record.starts) == (0, 1, 1)


def test_an_outcome_that_cannot_be_written_is_released_and_not_computed_again():
    """The write fails past its budget: the message is released (hold), not acked; when
    it comes back to this runner only the write is retried -- the handler does not run
    again -- and the result is the one computed the first time."""
    s = Setup(error=1.0)
    body = s.submit("a")
    arm(s, "a")
    first = s.runner.run_body(body)
    assert (first.action, first.kind) == ("hold", "unsettled")
    assert s.client.get("a").state is TaskState.RUNNING
    assert s.runner.writer.owed() == 1
    s.faults.enabled = False
    s.clock.advance(first.delay)
    second = s.runner.run_body(body)
    assert (second.action, second.kind, second.state) == ("ack", "ok", "SUCCEEDED")
    assert LEDGER["a"] == 1
    assert s.client.get("a").result == {"attempt": 1}
    assert s.runner.writer.owed() == 0


def test_a_redelivery_that_finds_the_task_failed_dead_letters_it_again():
    s = Setup()
    body = s.submit("f", mode="fatal")
    assert s.runner.run_body(body).action == "dlq"
    again = s.runner.run_body(body)
    assert (again.action, again.kind, again.reason) == ("dlq", "fatal", "bad input")
    assert LEDGER["f"] == 1


def test_a_start_whose_reply_is_lost_is_recognised_as_ours():
    s = Setup(lost=1.0, remaining=1)
    body = s.submit("a")
    s.faults.enabled = True
    outcome = s.runner.run_body(body)
    assert (outcome.kind, outcome.state) == ("ok", "SUCCEEDED")
    record = s.client.get("a")
    assert (record.attempts, record.starts, LEDGER["a"]) == (1, 1, 1)


def test_a_start_refused_spuriously_is_held_not_acked():
    s = Setup(refuse=1.0, remaining=1)
    body = s.submit("a")
    s.faults.enabled = True
    held = s.runner.run_body(body)
    assert held.action == "hold"
    assert s.runner.run_body(body).state == "SUCCEEDED"


def test_heartbeat_and_cancel_check_failures_never_reach_the_handler():
    s = Setup(error=1.0)
    body = s.submit("h", mode="beat")
    s.faults.enabled = True
    s.faults.error = 0.0

    def beat() -> None:
        raise InjectedFault("ChangeMessageVisibility failed")

    broken_get = s.store.get
    s.store.get = lambda task_id: (_ for _ in ()).throw(InjectedFault("GetItem"))  # type: ignore[method-assign]
    try:
        outcome = s.runner.run_body(body, on_heartbeat=beat)
    finally:
        s.store.get = broken_get  # type: ignore[method-assign]
    assert (outcome.kind, outcome.state) == ("ok", "SUCCEEDED")

"""Lean attempts on the in-memory twins (fake clock): one write per attempt, fenced by
``starts``; throttles, cancels, owed writes, spurious refusals and a pre-lean RUNNING
record."""

from __future__ import annotations

import random
from collections import Counter

from conveyor import Catalog, Conveyor, Retry, Throttled
from conveyor.envelope import parse
from conveyor.memory import MemoryEvents
from conveyor.memory.faulty import Faults, FaultyTaskStore
from conveyor.model import TaskState
from conveyor.ports import FakeClock
from conveyor.runtime.runner import TaskRunner

RUNS: Counter[str] = Counter()
HOOKS: dict[str, object] = {}
catalog = Catalog("runner-lean")


@catalog.task(lean=True, timeout=5, retry=Retry(max_attempts=3, backoff_base=2, jitter=False))
def slim(payload, ctx):
    RUNS[ctx.task_id] += 1
    hook = HOOKS.pop(ctx.task_id, None)
    if callable(hook):
        hook(ctx)
    if payload.get("mode") == "throttle" and ctx.throttles < 1:
        raise Throttled("429")
    return {"attempt": ctx.attempt, "cancelled": ctx.cancelled}


class Setup:
    def __init__(self, **faults) -> None:
        RUNS.clear()
        HOOKS.clear()
        self.clock = FakeClock()
        self.client = Conveyor.in_memory(catalog, clock=self.clock)
        self.faults = Faults(random.Random(7), enabled=False, **faults)
        self.store = FaultyTaskStore(self.client.store, self.faults)
        self.runner = TaskRunner(
            catalog,
            self.store,
            self.client.payloads,
            events=MemoryEvents(),
            clock=self.clock,
            rng=random.Random(1),
            enforce_timeout=False,
            sleep=self.clock.advance,
            write_budget=1.0,
        )

    def submit(self, task_id: str, **payload) -> str:
        self.client.submit("slim", payload, task_id=task_id)
        (message,) = self.client.lanes.receive(self.client.get(task_id).lane, max_messages=10)
        assert parse(message.body).task_id == task_id
        return message.body


def test_a_lean_attempt_is_one_write_and_the_record_never_shows_running():
    s = Setup()
    body = s.submit("a")
    seen = []
    HOOKS["a"] = lambda ctx: seen.append(s.client.get("a").state)
    before = s.client.store.writes
    outcome = s.runner.run_body(body)
    assert (outcome.kind, outcome.attempts) == ("ok", 1)
    assert s.client.store.writes - before == 1
    assert seen == [TaskState.QUEUED]  # while the handler ran
    record = s.client.get("a")
    assert (record.state, record.starts, record.lease_until) == (TaskState.SUCCEEDED, 1, None)
    assert record.owner is not None  # the write's tag, by which a lost reply is recognised


def test_a_throttle_hands_the_attempt_back_and_counts_a_throttle():
    s = Setup()
    body = s.submit("t", mode="throttle")
    first = s.runner.run_body(body)
    assert first.kind == "throttled"
    record = s.client.get("t")
    assert (record.state, record.attempts, record.throttles, record.starts) == (
        TaskState.QUEUED,
        0,
        1,
        1,
    )
    second = s.runner.run_body(body)
    assert (second.kind, second.attempts) == ("ok", 1)
    assert s.client.get("t").starts == 2


def test_a_cancel_while_running_wins_over_the_lean_outcome():
    s = Setup()
    body = s.submit("c")
    HOOKS["c"] = lambda ctx: s.client.cancel("c")  # QUEUED: cancelled at once
    outcome = s.runner.run_body(body)
    assert (outcome.action, outcome.kind, outcome.state) == ("ack", "duplicate", "CANCELLED")
    assert s.client.get("c").state is TaskState.CANCELLED


def test_a_spurious_refusal_is_retried_and_the_handler_runs_once():
    s = Setup(refuse=1.0)
    body = s.submit("r")
    s.faults.remaining = 2
    HOOKS["r"] = lambda ctx: setattr(s.faults, "enabled", True)
    outcome = s.runner.run_body(body)
    assert outcome.kind == "ok"
    assert s.faults.counts["transition:refuse"] == 2
    assert (RUNS["r"], s.client.get("r").starts) == (1, 1)


def test_an_owed_write_is_replayed_without_running_the_handler_again():
    s = Setup(error=1.0)
    body = s.submit("o")
    HOOKS["o"] = lambda ctx: setattr(s.faults, "enabled", True)
    held = s.runner.run_body(body)
    assert (held.action, held.kind) == ("hold", "unsettled")
    assert s.client.get("o").state is TaskState.QUEUED
    s.faults.enabled = False
    again = s.runner.run_body(body)
    assert (again.kind, again.state) == ("ok", "SUCCEEDED")
    assert RUNS["o"] == 1


def test_a_lost_reply_is_recognised_by_the_tag():
    s = Setup(lost=1.0)
    body = s.submit("l")
    s.faults.remaining = 1
    HOOKS["l"] = lambda ctx: setattr(s.faults, "enabled", True)
    outcome = s.runner.run_body(body)  # applied, reply lost; the retry meets its own tag
    assert (outcome.action, outcome.kind, outcome.state) == ("ack", "ok", "SUCCEEDED")
    record = s.client.get("l")
    assert (record.attempts, record.starts, len(record.history)) == (1, 1, 1)


def test_a_running_record_from_before_the_type_was_lean_is_retaken_the_ordinary_way():
    s = Setup()
    body = s.submit("p")
    now = int(s.clock.now() * 1000)
    s.client.store.transition(
        "p", TaskState.RUNNING, {"lease_until": now + 1000}, now, increments={"starts": 1}
    )
    busy = s.runner.run_body(body)
    assert (busy.action, busy.kind) == ("hold", "busy")  # its lease is live
    s.clock.advance(2)
    outcome = s.runner.run_body(body)
    assert outcome.kind == "ok"
    assert s.client.get("p").starts == 2

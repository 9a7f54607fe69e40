"""The pure parts of settling an outcome: reading a refusal, and the backoff budget."""

from __future__ import annotations

import random

import pytest

from conveyor.model import TaskRecord, TaskState
from conveyor.runtime.settle import Verdict, backoff_delays, judge


def rec(state: TaskState, starts: int) -> TaskRecord:
    return TaskRecord("t", "job", "acme", "normal", state, "lane", "ab", 1, 0, starts=starts)


@pytest.mark.parametrize(
    ("current", "verdict"),
    [
        (rec(TaskState.SUCCEEDED, 3), Verdict.APPLIED),  # our write, reply lost
        (rec(TaskState.RUNNING, 3), Verdict.OURS),  # spurious refusal: try again
        (rec(TaskState.RUNNING, 4), Verdict.SUPERSEDED),  # retaken by a newer attempt
        (rec(TaskState.SUCCEEDED, 4), Verdict.SUPERSEDED),  # finished by a newer attempt
        (rec(TaskState.CANCELLED, 3), Verdict.SUPERSEDED),  # cancelled under us
        (rec(TaskState.QUEUED, 3), Verdict.SUPERSEDED),  # released (SIGTERM) under us
        (None, Verdict.SUPERSEDED),  # the record is gone
    ],
)
def test_a_refused_success_write_is_read_by_the_record_it_carries(current, verdict):
    assert judge(current, TaskState.SUCCEEDED, 3) is verdict


@pytest.mark.parametrize("budget", [0.0, 0.01, 1.0, 30.0])
def test_backoff_delays_grow_and_never_exceed_the_budget(budget):
    delays = list(backoff_delays(budget, random.Random(4), first=0.05, cap=2.0))
    assert sum(delays) <= budget
    assert all(0 < d <= 2.0 for d in delays)
    if budget >= 30:
        assert len(delays) > 10 and max(delays) > 1.0

"""The reconciler's pure decisions, and the ULID window bounds."""

from __future__ import annotations

from conveyor.ids import new_task_id
from conveyor.model import TaskError, TaskRecord, TaskState
from conveyor.policy.reconcile import (
    Action,
    ReconcileSettings,
    decide,
    is_lost,
    lean_grace,
    lost_error,
    resubmit_repairs,
    ulid_bounds,
    ulid_ms,
)

T0 = 1_800_000_000_000
S = ReconcileSettings(queued_grace=600, lease_grace=120, failed_grace=300, max_resends=3)


def record(state: TaskState, **changes) -> TaskRecord:
    base = TaskRecord("t", "work", "default", "normal", state, "lane", "sha", 2, T0, queued_at=T0)
    return base.replace(**changes)


def test_queued_waits_its_grace_then_is_resent_with_doubling_waits_then_reported():
    queued = record(TaskState.QUEUED)
    assert decide(queued, T0 + 599_000, settings=S).action is Action.WAIT
    assert decide(queued, T0 + 599_000, settings=S).next_ms == T0 + 600_000
    assert decide(queued, T0 + 600_000, settings=S).action is Action.RESEND
    assert decide(queued, T0 + 1_100_000, resends=1, settings=S).action is Action.WAIT
    assert decide(queued, T0 + 1_200_000, resends=1, settings=S).action is Action.RESEND
    assert decide(queued, T0 + 10**9, resends=3, settings=S).action is Action.REPORT


def test_delayed_paused_and_inline_tasks():
    delayed = record(TaskState.QUEUED, not_before=T0 + 900_000)
    assert decide(delayed, T0 + 1_400_000, settings=S).action is Action.WAIT
    assert decide(delayed, T0 + 1_500_000, settings=S).action is Action.RESEND
    queued = record(TaskState.QUEUED)
    paused = decide(queued, T0 + 700_000, paused=True, settings=S)
    assert (paused.action, paused.next_ms) == (Action.WAIT, T0 + 700_000 + 3_600_000)
    lost_at = T0 + int(S.lost_after * 1000)
    inline = decide(queued, T0 + 700_000, payload_known=False, settings=S)
    assert (inline.action, inline.next_ms) == (Action.WAIT, lost_at)
    assert decide(queued, lost_at, payload_known=False, settings=S).action is Action.FAIL_LOST
    started = queued.replace(starts=1, attempts=0)  # handed back: not "never enqueued"
    assert decide(started, lost_at, payload_known=False, settings=S).action is Action.REPORT
    running = record(TaskState.RUNNING, starts=1, lease_until=T0)
    assert decide(running, T0 + 10**6, payload_known=False, settings=S).action is Action.REPORT


def test_running_is_resent_only_after_its_lease_and_the_grace():
    running = record(TaskState.RUNNING, started_at=T0, lease_until=T0 + 60_000)
    assert decide(running, T0 + 179_000, settings=S).action is Action.WAIT
    assert decide(running, T0 + 180_000, settings=S).action is Action.RESEND


def test_failed_needs_the_dlq_answer_and_finished_tasks_are_done():
    failed = record(TaskState.FAILED, finished_at=T0)
    assert decide(failed, T0 + 299_000, in_dlq=False, settings=S).action is Action.WAIT
    assert decide(failed, T0 + 300_000, in_dlq=None, settings=S).action is Action.WAIT
    assert decide(failed, T0 + 300_000, in_dlq=True, settings=S).action is Action.DONE
    assert decide(failed, T0 + 300_000, in_dlq=False, settings=S).action is Action.DEAD_LETTER
    for state in (TaskState.SUCCEEDED, TaskState.CANCELLED, TaskState.EXPIRED):
        assert decide(record(state), T0 + 10**9, settings=S).action is Action.DONE


def test_resubmit_repairs_only_stranded_records():
    queued = record(TaskState.QUEUED)
    assert not resubmit_repairs(queued, T0 + 9_000)
    assert resubmit_repairs(queued, T0 + 10_000)
    assert not resubmit_repairs(queued.replace(attempts=1, started_at=T0), T0 + 10**6)
    running = record(TaskState.RUNNING, started_at=T0, lease_until=T0 + 60_000)
    assert not resubmit_repairs(running, T0 + 89_000)
    assert resubmit_repairs(running, T0 + 90_000)
    assert not resubmit_repairs(record(TaskState.SUCCEEDED), T0 + 10**9)


def test_resubmit_after_an_error_repairs_at_once_and_a_lost_task_is_revived():
    queued = record(TaskState.QUEUED)
    assert resubmit_repairs(queued, T0, after_error=True)
    started = queued.replace(attempts=1, started_at=T0)
    assert not resubmit_repairs(started, T0 + 1, after_error=True)
    lost = record(TaskState.FAILED, finished_at=T0, error=lost_error())
    assert is_lost(lost) and resubmit_repairs(lost, T0 + 1)
    failed = lost.replace(error=TaskError("fatal", "ValueError", "bad"))
    assert not is_lost(failed) and not resubmit_repairs(failed, T0 + 1, after_error=True)
    assert not is_lost(lost.replace(starts=1))


def test_ulid_bounds_enclose_exactly_the_ids_of_their_window():
    lo, hi = ulid_bounds(T0, T0 + 1000)
    inside = [new_task_id(T0, b"\x00" * 10), new_task_id(T0 + 1000, b"\xff" * 10)]
    outside = [new_task_id(T0 - 1, b"\xff" * 10), new_task_id(T0 + 1001, b"\x00" * 10)]
    assert all(lo <= i <= hi for i in inside)
    assert not any(lo <= i <= hi for i in outside)
    assert ulid_ms(inside[0]) == T0
    assert ulid_ms("order-1") is None


def test_the_service_reads_its_reconcile_interval_from_the_environment(monkeypatch):
    from conveyor.runtime.bootstrap import memory_runtime
    from tests.support import ledger

    rt = memory_runtime(ledger.catalog)
    monkeypatch.setenv("CONVEYOR_RECONCILE_SECONDS", "15")
    assert rt.dispatcher().reconciler().interval == 15.0
    monkeypatch.setenv("CONVEYOR_RECONCILE_SECONDS", "off")
    assert rt.dispatcher().reconciler() is None
    monkeypatch.delenv("CONVEYOR_RECONCILE_SECONDS")
    assert rt.dispatcher().reconciler().interval == 60.0
    assert rt.dispatcher(reconcile_every=None).reconciler() is None


def test_a_lean_task_queued_while_it_may_be_running_is_not_resent():
    # 300 s timeout: a run and its write (330 s), a failed invoke's hold (330 s) and the
    # lanes' visibility (60 s): 720 s during which a live message keeps it QUEUED.
    assert lean_grace(300) == 720
    queued = record(TaskState.QUEUED)
    assert decide(queued, T0 + 600_000, settings=S).action is Action.RESEND  # ordinary
    waiting = decide(queued, T0 + 719_000, settings=S, lean_timeout=300)
    assert (waiting.action, waiting.next_ms) == (Action.WAIT, T0 + 720_000)
    assert decide(queued, T0 + 720_000, settings=S, lean_timeout=300).action is Action.RESEND
    # A second re-send waits twice as long, then the task is reported, not re-sent again.
    second = decide(queued, T0 + 1_439_000, resends=1, settings=S, lean_timeout=300)
    assert second.action is Action.WAIT
    assert decide(queued, T0 + 10**9, resends=3, settings=S, lean_timeout=300).action is (
        Action.REPORT
    )
    # A short lean timeout keeps the ordinary grace (the larger of the two).
    assert decide(queued, T0 + 599_000, settings=S, lean_timeout=10).action is Action.WAIT
    assert decide(queued, T0 + 600_000, settings=S, lean_timeout=10).action is Action.RESEND


def test_a_resubmit_of_a_lean_task_resends_only_once_it_cannot_be_running():
    queued = record(TaskState.QUEUED)
    assert resubmit_repairs(queued, T0 + 10_000)  # ordinary: 10 s
    assert not resubmit_repairs(queued, T0 + 10_000, lean_timeout=300)
    assert not resubmit_repairs(queued, T0 + 719_000, lean_timeout=300)
    assert resubmit_repairs(queued, T0 + 720_000, lean_timeout=300)
    assert resubmit_repairs(queued, T0, after_error=True, lean_timeout=300)  # never sent

"""The reconciler's pure decisions, and the ULID window bounds."""

from __future__ import annotations

from conveyor.ids import new_task_id
from conveyor.model import TaskRecord, TaskState
from conveyor.policy.reconcile import (
    Action,
    ReconcileSettings,
    decide,
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
    assert decide(queued, T0 + 700_000, paused=True, settings=S).action is Action.WAIT
    inline = decide(queued, T0 + 700_000, payload_known=False, settings=S)
    assert inline.action is Action.REPORT


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

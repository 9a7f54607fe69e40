"""One contract suite for every port, run against the in-memory twin and against moto."""

from __future__ import annotations

import pytest

from conveyor.aws import DynamoTaskStore, S3PayloadStore, SqsLanes
from conveyor.errors import InvalidTransition, TaskNotFound
from conveyor.memory import MemoryLanes, MemoryPayloadStore, MemoryTaskStore
from conveyor.model import TaskError, TaskRecord, TaskState
from conveyor.ports import FakeClock, OutMessage

NOW = 1_800_000_000_000


def record(task_id: str = "t-1", **kw) -> TaskRecord:
    base = {
        "task_id": task_id,
        "task_type": "make_thumbnail",
        "tenant": "acme",
        "priority": "normal",
        "state": TaskState.QUEUED,
        "lane": "lane",
        "payload_sha256": "ab" * 32,
        "payload_size": 10,
        "created_at": NOW,
        "queued_at": NOW,
        "dedup_until": NOW + 1000,
    }
    base.update(kw)
    return TaskRecord(**base)


@pytest.fixture(params=["memory", "moto"])
def store(request, topology):
    if request.param == "memory":
        return MemoryTaskStore()
    aws = request.getfixturevalue("aws")
    request.getfixturevalue("provisioned")
    return DynamoTaskStore(aws.dynamodb, topology.table)


@pytest.fixture(params=["memory", "moto"])
def lanes(request, topology):
    if request.param == "memory":
        return MemoryLanes(FakeClock()), "lane"
    aws = request.getfixturevalue("aws")
    request.getfixturevalue("provisioned")
    return SqsLanes(aws.sqs), topology.lanes[0]


@pytest.fixture(params=["memory", "moto"])
def payloads(request, topology):
    if request.param == "memory":
        return MemoryPayloadStore()
    aws = request.getfixturevalue("aws")
    request.getfixturevalue("provisioned")
    return S3PayloadStore(aws.s3, topology.bucket)


def test_create_is_conditional_and_returns_the_existing_record(store):
    first = record(tags=("a", "b"))
    assert store.create(first, NOW) == (first, True)
    other = record(payload_sha256="cd" * 32)
    existing, created = store.create(other, NOW + 1)
    assert not created
    assert existing == first
    assert store.get("t-1") == first


def test_finished_record_is_replaced_only_after_its_dedup_window(store):
    store.create(record(), NOW)
    store.transition("t-1", TaskState.RUNNING, {"attempts": 1, "lease_until": NOW + 10}, NOW)
    done = store.transition("t-1", TaskState.SUCCEEDED, {"result": {"n": 1.5}}, NOW)
    assert done.result == {"n": 1.5}
    assert store.create(record(created_at=NOW + 500), NOW + 500)[1] is False
    fresh = record(created_at=NOW + 2000, dedup_until=NOW + 9000)
    assert store.create(fresh, NOW + 2000) == (fresh, True)


def test_forever_dedup_is_never_replaced(store):
    store.create(record(dedup_until=None), NOW)
    store.transition("t-1", TaskState.CANCELLED, {"finished_at": NOW}, NOW)
    assert store.create(record(), NOW + 10**9)[1] is False


def test_transition_follows_the_table_and_only_one_racer_wins(store):
    store.create(record(), NOW)
    with pytest.raises(InvalidTransition) as info:
        store.transition("t-1", TaskState.SUCCEEDED, {}, NOW)
    assert info.value.current.state is TaskState.QUEUED
    running = store.transition(
        "t-1", TaskState.RUNNING, {"attempts": 1, "lease_until": NOW + 100}, NOW
    )
    assert (running.state, running.attempts, running.version) == (TaskState.RUNNING, 1, 1)
    # A second delivery while the lease is live does not get the task.
    with pytest.raises(InvalidTransition):
        store.transition("t-1", TaskState.RUNNING, {"attempts": 2}, NOW + 50)
    # After the lease expires it may be retaken, once.
    retaken = store.transition(
        "t-1", TaskState.RUNNING, {"attempts": 2, "lease_until": NOW + 500}, NOW + 101
    )
    assert retaken.attempts == 2
    # The stale first attempt cannot finish the task.
    with pytest.raises(InvalidTransition):
        store.transition("t-1", TaskState.SUCCEEDED, {}, NOW + 102, expect_attempts=1)
    failed = store.transition(
        "t-1",
        TaskState.FAILED,
        {
            "error": TaskError("fatal", "Fatal", "boom"),
            "purge_at": NOW + 86_400_000,
            "lease_until": None,
        },
        NOW + 103,
        expect_attempts=2,
    )
    assert failed.error == TaskError("fatal", "Fatal", "boom")
    assert failed.lease_until is None
    assert failed.purge_at == NOW + 86_400_000
    with pytest.raises(TaskNotFound):
        store.transition("nope", TaskState.RUNNING, {}, NOW)


def test_update_and_delete_are_conditional_on_state(store):
    store.create(record(), NOW)
    with pytest.raises(InvalidTransition):
        store.update("t-1", {"cancel_requested": True}, states=[TaskState.RUNNING])
    updated = store.update("t-1", {"cancel_requested": True}, states=[TaskState.QUEUED])
    assert updated.cancel_requested
    store.delete("t-1", state=TaskState.RUNNING)
    assert store.get("t-1") is not None
    store.delete("t-1", state=TaskState.QUEUED)
    assert store.get("t-1") is None


def test_list_filters_and_pages(store):
    for i in range(7):
        store.create(
            record(
                f"t-{i}",
                tenant="a" if i % 2 else "b",
                task_type="make_thumbnail" if i < 5 else "call_webhook",
            ),
            NOW,
        )
    store.transition("t-2", TaskState.CANCELLED, {}, NOW)
    page = store.list(task_type="make_thumbnail", limit=2)
    seen = [r.task_id for r in page.records]
    while page.cursor:
        page = store.list(task_type="make_thumbnail", limit=2, cursor=page.cursor)
        seen += [r.task_id for r in page.records]
    assert sorted(seen) == ["t-0", "t-1", "t-2", "t-3", "t-4"]
    assert len(set(seen)) == 5
    assert [r.task_id for r in store.list(task_type="make_thumbnail", tenant="a").records] == [
        "t-1",
        "t-3",
    ]
    assert [r.task_id for r in store.list(state=TaskState.CANCELLED).records] == ["t-2"]
    assert store.get_many(["t-0", "t-6", "missing"]).keys() == {"t-0", "t-6"}


def test_lanes_send_receive_delete_and_visibility(lanes):
    impl, queue = lanes
    messages = [OutMessage(body=f'{{"n":{i}}}', group="acme", id=str(i)) for i in range(13)]
    assert impl.send(queue, messages) == []
    got = []
    for _ in range(5):
        got += impl.receive(queue, max_messages=10, visibility=30)
    assert sorted(m.body for m in got) == sorted(m.body for m in messages)
    assert all(m.receive_count == 1 for m in got)
    assert impl.receive(queue, max_messages=10) == []
    impl.change_visibility(queue, got[0].receipt, 0)
    again = impl.receive(queue, max_messages=10, visibility=30)
    assert [m.body for m in again] == [got[0].body]
    assert again[0].receive_count == 2
    impl.delete(queue, [m.receipt for m in got[1:]] + [again[0].receipt])
    impl.change_visibility  # noqa: B018 - attribute exists on both
    depth = impl.depth(queue)
    assert (depth.visible, depth.in_flight) == (0, 0)


def test_lanes_delay_hides_a_message(lanes):
    impl, queue = lanes
    impl.send(queue, [OutMessage(body="{}", group="g", delay=600, id="d")])
    assert impl.receive(queue) == []
    assert impl.depth(queue).delayed == 1


def test_payload_store_roundtrip(payloads):
    payloads.put("payloads/x/1.json", b'{"a":1}')
    assert payloads.get("payloads/x/1.json") == b'{"a":1}'
    payloads.delete("payloads/x/1.json")
    with pytest.raises(KeyError):
        payloads.get("payloads/x/1.json")


def test_increments_are_atomic_and_start_from_zero(store):
    store.create(record(), NOW)
    running = store.transition(
        "t-1", TaskState.RUNNING, {"lease_until": NOW + 5}, NOW, increments={"attempts": 1}
    )
    assert running.attempts == 1
    back = store.transition(
        "t-1",
        TaskState.QUEUED,
        {},
        NOW,
        expect_attempts=1,
        increments={"attempts": -1, "throttles": 1},
    )
    assert (back.attempts, back.throttles) == (0, 1)


def test_the_fencing_token_never_goes_down_and_refuses_a_stale_attempt(store):
    """A hand-back gives the attempt back (``attempts`` - 1) but ``starts`` stays, so the
    attempt from before it cannot write over the attempt after it; a refused write
    carries the record as it is now."""
    store.create(record(), NOW)
    start = {"attempts": 1, "starts": 1}
    first = store.transition(
        "t-1", TaskState.RUNNING, {"lease_until": NOW + 5, "owner": "a"}, NOW, increments=start
    )
    assert (first.attempts, first.starts, first.owner) == (1, 1, "a")
    store.transition(
        "t-1",
        TaskState.QUEUED,
        {"lease_until": None, "owner": None},
        NOW,
        expect_starts=1,
        increments={"attempts": -1},
    )
    second = store.transition(
        "t-1", TaskState.RUNNING, {"lease_until": NOW + 5, "owner": "b"}, NOW, increments=start
    )
    assert (second.attempts, second.starts) == (1, 2)
    with pytest.raises(InvalidTransition) as info:
        store.transition("t-1", TaskState.SUCCEEDED, {}, NOW, expect_starts=1)
    assert (info.value.current.state, info.value.current.owner) == (TaskState.RUNNING, "b")
    with pytest.raises(InvalidTransition):
        store.update("t-1", {"lease_until": NOW + 9}, states=[TaskState.RUNNING], expect_starts=1)
    extended = store.update(
        "t-1", {"lease_until": NOW + 9}, states=[TaskState.RUNNING], expect_starts=2
    )
    assert extended.lease_until == NOW + 9
    done = store.transition("t-1", TaskState.SUCCEEDED, {"owner": None}, NOW, expect_starts=2)
    assert (done.state, done.starts, done.owner) == (TaskState.SUCCEEDED, 2, None)


def test_pauses_by_type_and_tenant(store):
    assert store.paused() == frozenset()
    store.set_paused("type", "make_thumbnail", True)
    store.set_paused("tenant", "acme", True)
    store.set_paused("tenant", "globex", True)
    store.set_paused("tenant", "globex", False)
    assert store.paused() == {("type", "make_thumbnail"), ("tenant", "acme")}
    store.create(record(), NOW)
    assert [r.task_id for r in store.list().records] == ["t-1"]


def test_concurrent_starts_have_exactly_one_winner(store):
    """DynamoDB lets at most one conditional write win; moto needs conveyor.local.atomic
    for that (without it, most rounds below have several winners)."""
    import sys

    switch = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # interleave threads as much as possible
    try:
        _race_rounds(store)
    finally:
        sys.setswitchinterval(switch)


def _race_rounds(store):
    import threading

    for round_ in range(10):
        task_id = f"race-{round_}"
        store.create(record(task_id), NOW)
        wins, barrier = [], threading.Barrier(6)

        def start(task_id=task_id, wins=wins, barrier=barrier):
            barrier.wait()
            try:
                store.transition(
                    task_id,
                    TaskState.RUNNING,
                    {"lease_until": NOW + 10_000},
                    NOW,
                    increments={"attempts": 1},
                )
                wins.append(1)
            except InvalidTransition:
                pass

        threads = [threading.Thread(target=start) for _ in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert len(wins) == 1, round_
        assert store.get(task_id).attempts == 1


def test_a_lean_outcome_write_goes_from_queued_fenced_by_the_token_read(store):
    store.create(record("lean-1"), NOW)
    with pytest.raises(InvalidTransition):  # not without lean: SUCCEEDED needs RUNNING
        store.transition("lean-1", TaskState.SUCCEEDED, {}, NOW, expect_starts=0)
    retried = store.transition(
        "lean-1",
        TaskState.QUEUED,
        {"owner": "tag-a"},
        NOW,
        expect_starts=0,
        increments={"attempts": 1, "starts": 1},
        lean=True,
    )
    assert (retried.state, retried.attempts, retried.starts) == (TaskState.QUEUED, 1, 1)
    with pytest.raises(InvalidTransition) as stale:  # a run that read starts=0: refused
        store.transition("lean-1", TaskState.SUCCEEDED, {}, NOW, expect_starts=0, lean=True)
    assert (stale.value.current.starts, stale.value.current.owner) == (1, "tag-a")
    done = store.transition(
        "lean-1",
        TaskState.SUCCEEDED,
        {"owner": "tag-b"},
        NOW,
        expect_starts=1,
        increments={"attempts": 1, "starts": 1},
        lean=True,
    )
    assert (done.state, done.attempts, done.starts) == (TaskState.SUCCEEDED, 2, 2)
    store.create(record("lean-2", state=TaskState.RUNNING), NOW)
    with pytest.raises(InvalidTransition):  # a lean write never leaves RUNNING
        store.transition("lean-2", TaskState.SUCCEEDED, {}, NOW, lean=True)


def test_lanes_change_visibility_in_batches_and_report_refused_receipts(lanes):
    impl, queue = lanes
    impl.send(queue, [OutMessage(body=f'{{"n":{i}}}', group="g", id=str(i)) for i in range(12)])
    got = []
    for _ in range(5):
        got += impl.receive(queue, max_messages=10, visibility=30)
    assert len(got) == 12
    assert impl.change_visibility_batch(queue, [(m.receipt, 0) for m in got]) == []
    again = []
    for _ in range(5):
        again += impl.receive(queue, max_messages=10, visibility=30)
    assert sorted(m.body for m in again) == sorted(m.body for m in got)
    entries = [(again[0].receipt, 0), ("not-a-receipt", 0)]
    assert impl.change_visibility_batch(queue, entries) == ["not-a-receipt"]
    assert impl.depth(queue).visible == 1

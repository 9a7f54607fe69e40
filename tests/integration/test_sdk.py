"""The SDK against the in-memory twins and against moto: submit, dedup, list, cancel,
large payloads, and every bad input (typed error, nothing written)."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from conveyor import (
    Conveyor,
    DuplicateTaskId,
    InvalidOption,
    InvalidPayload,
    InvalidPriority,
    InvalidTaskId,
    InvalidTenant,
    InvalidTiming,
    PayloadTooLarge,
    SubmitRequest,
    TaskConflict,
    TaskNotFound,
    TaskState,
    UnknownTaskType,
)
from conveyor.aws import DynamoTaskStore, S3PayloadStore, SqsLanes
from conveyor.memory import MemoryLanes, MemoryPayloadStore, MemoryTaskStore
from conveyor.payload import INLINE_LIMIT, MAX_PAYLOAD
from conveyor.ports import FakeClock

EMAIL = {"email": "ada@example.com", "name": "Ada"}


@pytest.fixture(params=["memory", "moto"])
def client(request, topology, example_catalog):
    clock = FakeClock()
    if request.param == "memory":
        return Conveyor(
            example_catalog,
            topology=topology,
            store=MemoryTaskStore(),
            lanes=MemoryLanes(clock),
            payloads=MemoryPayloadStore(),
            clock=clock,
        )
    aws = request.getfixturevalue("aws")
    request.getfixturevalue("provisioned")
    return Conveyor(
        example_catalog,
        topology=topology,
        clock=clock,
        store=DynamoTaskStore(aws.dynamodb, topology.table),
        lanes=SqsLanes(aws.sqs),
        payloads=S3PayloadStore(aws.s3, topology.bucket),
    )


def footprint(client: Conveyor) -> tuple[int, int, int]:
    """(task records, queued messages, payload objects) -- what a bad input must not touch."""
    if isinstance(client.store, MemoryTaskStore):
        return (
            len(client.store.records),
            sum(len(q) for q in client.lanes.queues.values()),
            len(client.payloads.objects),
        )
    ddb = client.store.ddb
    items = ddb.scan(TableName=client.topology.table, Select="COUNT")["Count"]
    queues = [*list(client.topology.lanes), client.topology.work_queue("reindex_catalog")]
    messages = 0
    for q in queues:
        d = client.lanes.depth(q)
        messages += d.visible + d.in_flight + d.delayed
    s3 = client.payloads.s3
    objects = s3.list_objects_v2(Bucket=client.topology.bucket).get("KeyCount", 0)
    return items, messages, objects


def test_submit_get_and_dedup(client):
    first = client.submit("send_welcome_email", EMAIL, task_id="welcome-ada", tenant="acme")
    assert first.status == "created"
    record = client.get("welcome-ada")
    assert (record.state, record.tenant, record.priority, record.attempts) == (
        TaskState.QUEUED,
        "acme",
        "high",
        0,
    )
    assert record.queued_at == record.created_at
    assert record.expires_at == record.created_at + 3_600_000
    before = footprint(client)
    again = client.submit(
        "send_welcome_email",
        dict(reversed(list(EMAIL.items()))),
        task_id="welcome-ada",
        tenant="acme",
    )
    assert again.status == "duplicate"
    assert footprint(client) == before
    with pytest.raises(TaskConflict, match="different payload"):
        client.submit("send_welcome_email", {"email": "eve@example.com"}, task_id="welcome-ada")
    with pytest.raises(TaskConflict, match="different type"):
        client.submit("nightly_report", EMAIL, task_id="welcome-ada")
    assert footprint(client) == before


def test_generated_ids_are_sortable_ulids(client):
    a = client.submit("nightly_report", None).task_id
    client.clock.advance(0.01)
    b = client.submit("nightly_report", None).task_id
    assert len(a) == 26
    assert a < b


def test_message_reaches_the_tenant_lane(client):
    client.submit(
        "make_thumbnail",
        {"key": "k", "width": 1, "height": 1},
        task_id="th-1",
        tenant="globex",
        priority="low",
    )
    lane = client.topology.lane_for("low", "globex")
    (message,) = client.lanes.receive(lane)
    assert '"id":"th-1"' in message.body
    assert '"tenant":"globex"' in message.body


def test_submit_many_batches_and_reports_each_outcome(client):
    client.submit("nightly_report", {"n": 1}, task_id="r-1")
    requests = [SubmitRequest("nightly_report", {"n": i}, task_id=f"r-{i}") for i in range(1, 25)]
    requests.append(SubmitRequest("nightly_report", {"n": 999}, task_id="r-1-x"))
    results = client.submit_many(requests)
    assert [r.status for r in results[:2]] == ["duplicate", "created"]
    assert sum(r.created for r in results) == 24
    assert footprint(client)[:2] == (25, 25)
    client.submit("nightly_report", {"n": 5}, task_id="clash")
    mixed = client.submit_many(
        [{"task_type": "nightly_report", "payload": {"n": 6}, "task_id": "clash"}]
    )
    assert mixed[0].status == "conflict"
    assert "different payload" in mixed[0].error


def test_large_payload_goes_to_s3_transparently(client):
    big = {"blob": "x" * (INLINE_LIMIT + 10)}
    client.submit("nightly_report", big, task_id="big-1")
    record = client.get("big-1")
    assert record.payload_ref == f"payloads/big-1/{record.payload_sha256}.json"
    assert record.payload_size > INLINE_LIMIT
    assert footprint(client)[2] == 1
    (message,) = client.lanes.receive(record.lane)
    assert '"ref":"payloads/big-1/' in message.body
    assert "xxxx" not in message.body


def test_list_by_type_state_and_tenant(client):
    for i in range(6):
        client.submit(
            "make_thumbnail",
            {"key": str(i), "width": 1, "height": 1},
            task_id=f"th-{i}",
            tenant="a" if i % 2 else "b",
        )
    client.submit("nightly_report", None, task_id="rep")
    client.cancel("th-4")
    assert {r.task_id for r in client.list(task_type="make_thumbnail", tenant="a").records} == {
        "th-1",
        "th-3",
        "th-5",
    }
    assert [r.task_id for r in client.list(state="cancelled").records] == ["th-4"]
    page = client.list(task_type="make_thumbnail", limit=4)
    rest = client.list(task_type="make_thumbnail", limit=4, cursor=page.cursor)
    assert len(page.records) == 4
    assert len({r.task_id for r in page.records + rest.records}) == 6
    with pytest.raises(InvalidOption):
        client.list(state="DONE")
    with pytest.raises(UnknownTaskType):
        client.list(task_type="nope")


def test_cancel_queued_task_and_unknown_id(client):
    client.submit("make_thumbnail", {"key": "k", "width": 1, "height": 1}, task_id="c-1")
    cancelled = client.cancel("c-1")
    assert cancelled.state is TaskState.CANCELLED
    assert cancelled.finished_at is not None
    assert client.cancel("c-1").state is TaskState.CANCELLED  # idempotent
    with pytest.raises(TaskNotFound):
        client.cancel("missing")
    with pytest.raises(TaskNotFound):
        client.get("missing")


def test_cancel_running_task_requests_cancellation(client):
    client.submit("reindex_catalog", {}, task_id="long-1")
    client.store.transition("long-1", TaskState.RUNNING, {"attempts": 1, "lease_until": 1}, 0)
    assert client.cancel("long-1").cancel_requested is True
    assert client.get("long-1").state is TaskState.RUNNING


def test_short_delay_uses_sqs_delay(client):
    client.submit("nightly_report", None, task_id="d-1", delay=timedelta(minutes=5))
    record = client.get("d-1")
    assert record.state is TaskState.QUEUED
    assert record.not_before == record.created_at + 300_000
    assert client.lanes.receive(record.lane) == []


class Weird:
    pass


BAD_INPUTS = [
    (UnknownTaskType, ("no_such_task", {}), {}),
    (InvalidPayload, ("nightly_report", {"when": datetime.now(UTC)}), {}),
    (InvalidPayload, ("nightly_report", {"raw": b"\x00"}), {}),
    (InvalidPayload, ("nightly_report", {"tags": {"a"}}), {}),
    (InvalidPayload, ("nightly_report", {"price": Decimal("1.5")}), {}),
    (InvalidPayload, ("nightly_report", {"x": math.nan}), {}),
    (InvalidPayload, ("nightly_report", {"x": math.inf}), {}),
    (InvalidPayload, ("nightly_report", {1: "a"}), {}),
    (InvalidPayload, ("nightly_report", (1, 2)), {}),
    (InvalidPayload, ("nightly_report", Weird()), {}),
    (InvalidTaskId, ("nightly_report", {}), {"task_id": ""}),
    (InvalidTaskId, ("nightly_report", {}), {"task_id": "x" * 129}),
    (InvalidTaskId, ("nightly_report", {}), {"task_id": "has space"}),
    (InvalidTaskId, ("nightly_report", {}), {"task_id": "slash/id"}),
    (InvalidTaskId, ("nightly_report", {}), {"task_id": 42}),
    (InvalidTiming, ("nightly_report", {}), {"delay": -1}),
    (InvalidTiming, ("nightly_report", {}), {"delay": "10"}),
    (InvalidTiming, ("nightly_report", {}), {"delay": True}),
    (InvalidTiming, ("nightly_report", {}), {"delay": math.nan}),
    (InvalidTiming, ("nightly_report", {}), {"delay": 5, "at": datetime(2030, 1, 1, tzinfo=UTC)}),
    (InvalidTiming, ("nightly_report", {}), {"at": datetime(2030, 1, 1)}),
    (InvalidTiming, ("nightly_report", {}), {"at": "2030-01-01T00:00:00Z"}),
    (InvalidPriority, ("nightly_report", {}), {"priority": "urgent"}),
    (InvalidPriority, ("nightly_report", {}), {"priority": True}),
    (InvalidTiming, ("nightly_report", {}), {"ttl": 0}),
    (InvalidTiming, ("nightly_report", {}), {"ttl": -5}),
    (InvalidTiming, ("nightly_report", {}), {"ttl": 60, "delay": 120}),
    (InvalidTenant, ("nightly_report", {}), {"tenant": ""}),
    (InvalidTenant, ("nightly_report", {}), {"tenant": "-acme"}),
    (InvalidTenant, ("nightly_report", {}), {"tenant": "a b"}),
    (InvalidTenant, ("nightly_report", {}), {"tenant": 7}),
    (InvalidOption, ("nightly_report", {}), {"tags": ["x" * 65]}),
    (InvalidTaskId, ("nightly_report", {}), {"task_id": "job-1\n"}),
    (InvalidTenant, ("nightly_report", {}), {"tenant": "acme\n"}),
    (InvalidOption, ("nightly_report", {}), {"tags": ["\ud800"]}),
    (InvalidOption, ("nightly_report", {}), {"tags": "abc"}),
    (InvalidOption, ("nightly_report", {}), {"tags": 5}),
    (InvalidOption, ("nightly_report", {}), {"tags": {"k": "v"}}),
    (InvalidPayload, ("nightly_report", {"text": "a\udfffb"}), {}),
    (InvalidPayload, ("nightly_report", {"\ud800": 1}), {}),
    (InvalidPayload, ("nightly_report", ["ok", ["\ud83d"]]), {}),
]


@pytest.mark.parametrize(
    ("error", "args", "kwargs"),
    BAD_INPUTS,
    ids=[f"{e.__name__}-{i}" for i, (e, _, _) in enumerate(BAD_INPUTS)],
)
def test_bad_input_raises_a_typed_error_and_writes_nothing(client, error, args, kwargs):
    before = footprint(client)
    with pytest.raises(error) as info:
        client.submit(*args, **kwargs)
    assert str(info.value)
    assert footprint(client) == before


def test_payload_too_large_writes_nothing(client, monkeypatch):
    monkeypatch.setattr("conveyor.admission.MAX_PAYLOAD", 300_000)
    before = footprint(client)
    with pytest.raises(PayloadTooLarge, match="maximum"):
        client.submit("nightly_report", {"blob": "x" * 300_001})
    assert footprint(client) == before
    assert MAX_PAYLOAD == 32 * 1024 * 1024


def test_submit_many_is_all_or_nothing_on_bad_input(client):
    good = {"task_type": "nightly_report", "payload": {}}
    before = footprint(client)
    with pytest.raises(DuplicateTaskId):
        client.submit_many([{**good, "task_id": "a"}, {**good, "task_id": "a"}])
    with pytest.raises(InvalidTenant, match="request #2"):
        client.submit_many([good, good, {**good, "tenant": ""}])
    assert footprint(client) == before


def test_failed_enqueue_leaves_nothing_behind(client, monkeypatch):
    def broken_send(queue, messages):
        raise ConnectionError("SQS unreachable")

    monkeypatch.setattr(client.lanes, "send", broken_send)
    before = footprint(client)
    with pytest.raises(Exception, match="could not be enqueued"):
        client.submit("nightly_report", {"blob": "y" * (INLINE_LIMIT + 1)}, task_id="lost")
    assert footprint(client) == before
    with pytest.raises(TaskNotFound):
        client.get("lost")


def test_a_client_built_from_aws_settings_has_every_adapter(provisioned, topology, example_catalog):
    client = Conveyor(example_catalog, topology=topology, region="us-east-1")
    task_id = client.submit("nightly_report", {}, delay=timedelta(hours=2)).task_id
    assert client.get(task_id).state is TaskState.SCHEDULED
    names = {s["Name"] for s in client.scheduler.list()}
    assert names == {f"t-{task_id}", "nightly"}  # its own, and the catalog's cron schedule
    assert client.cancel(task_id).state is TaskState.CANCELLED
    assert {s["Name"] for s in client.scheduler.list()} == {"nightly"}
    assert client.events is not None


@pytest.mark.parametrize("task_id", ["\ud800", "job-1\n", "has space", 5, ""])
def test_get_and_cancel_of_a_malformed_id_raise_a_typed_error(client, task_id):
    before = footprint(client)
    for call in (client.get, client.cancel):
        with pytest.raises(InvalidTaskId):
            call(task_id)
    assert footprint(client) == before

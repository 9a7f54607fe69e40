"""The dispatcher's look-ahead on moto: a deep buffer per lane whose visibility is
extended in batches of 10 while held, handed back only when given up; extensions that
fail (throttled, or performed with the reply lost) neither lose nor double a task; a
single tenant's backlog is held without a request more than before, and a quiet tenant
behind a noisy one in the same lane is reached and started first."""

from __future__ import annotations

import time

import pytest

from conveyor import SubmitRequest, TaskState
from conveyor.aws import AwsClients
from conveyor.aws.accounting import RequestCounter
from conveyor.local.faults import FAIL_AFTER, THROTTLE, FaultInjector, Rule
from conveyor.local.provision import provision
from conveyor.memory import MemoryEvents
from conveyor.runtime.bootstrap import aws_runtime
from tests.support import ledger
from tests.support.waiting import wait_terminal

#: Seconds a received lane message stays hidden (the lanes are set to it).
VIS = 5
BATCH_CALL = ("sqs", "ChangeMessageVisibilityBatch")


@pytest.fixture
def rig(aws, topology, tmp_path, monkeypatch):
    """A runtime on its own boto3 clients, counted and with a fault injector attached
    (no rule fires until a test adds one), lanes hiding a message for ``VIS`` seconds."""
    monkeypatch.setenv("LEDGER_DIR", str(tmp_path))
    provision(aws, topology, ledger.catalog)
    for lane in topology.lanes:
        url = aws.sqs.get_queue_url(QueueName=lane)["QueueUrl"]
        aws.sqs.set_queue_attributes(QueueUrl=url, Attributes={"VisibilityTimeout": str(VIS)})
    counter = RequestCounter()
    clients = AwsClients(region="us-east-1", counter=counter)
    injector = FaultInjector([], seed=7)
    injector.attach(clients.client("sqs"))
    rt = aws_runtime(ledger.catalog, topology, clients)
    rt.events = MemoryEvents()
    return rt, counter, injector


def _submit(rt, n, tenant="default"):
    client = rt.client()
    ids = [
        s.task_id
        for s in client.submit_many(
            [SubmitRequest("work", {"mode": "ok"}, tenant=tenant) for _ in range(n)]
        )
    ]
    return client, ids, client.get(ids[0]).lane


def _pull_all(dispatcher, lane, n):
    """Receive ``n`` messages into the buffer without starting any."""
    for _ in range(2 * n // 10 + 5):
        if sum(map(len, dispatcher.buffers.values())) >= n:
            break
        dispatcher.ingest(lane, dispatcher.lanes.receive(lane, max_messages=dispatcher.room(lane)))
    assert len(dispatcher.buffers[lane]) == n


def _until_due(dispatcher, lane):
    """Sleep until the held messages have under a third of their visibility left."""
    soonest = min(h.hidden_until for h in dispatcher.buffers[lane])
    time.sleep(max(0.0, soonest - VIS / 3 - dispatcher.clock.now()) + 0.1)


def test_held_messages_stay_hidden_past_their_visibility_at_one_batch_call_per_10(rig):
    rt, counter, _ = rig
    _, _, lane = _submit(rt, 25)
    dispatcher = rt.dispatcher(lane_visibility=VIS, pause_refresh=3600)
    _pull_all(dispatcher, lane, 25)
    assert dispatcher.extend_held() == 0  # nothing due yet: no request
    counter.reset()
    _until_due(dispatcher, lane)
    assert dispatcher.extend_held() == 25
    assert counter.requests[BATCH_CALL] == 3  # 10 + 10 + 5
    time.sleep(VIS * 2 / 3 + 0.3)  # past the visibility they were received with
    depth = rt.lanes.depth(lane)
    assert (depth.visible, depth.in_flight) == (0, 25)
    counter.reset()
    dispatcher.settle_running()  # giving up: handed back at once, in batches
    assert counter.requests[BATCH_CALL] == 3
    assert sum(counter.requests.values()) == 3
    assert rt.lanes.depth(lane).visible == 25
    assert dispatcher.stats.released == 25


@pytest.mark.parametrize("kind", [THROTTLE, FAIL_AFTER])
def test_a_failed_extension_drops_the_batch_and_sqs_delivers_it_again_once(rig, kind):
    """THROTTLE: the call was refused (the messages reappear at their old time);
    FAIL_AFTER: it was performed and the reply lost (they reappear one visibility later).
    Either way the dispatcher forgets them and runs each task exactly once."""
    rt, _, injector = rig
    client, ids, lane = _submit(rt, 15)
    dispatcher = rt.dispatcher(lane_visibility=VIS, pause_refresh=0)
    _pull_all(dispatcher, lane, 15)
    _until_due(dispatcher, lane)
    injector.rules = (Rule(kind, 1.0, ("ChangeMessageVisibilityBatch",), limit=1),)
    assert dispatcher.extend_held() == 5  # the first batch of 10 failed
    assert injector.total(kind) == 1
    assert len(dispatcher.buffers[lane]) == 5
    assert dispatcher.stats.extend_failed == 10
    assert dispatcher.drain(idle_passes=3, timeout=30)
    records = wait_terminal(client, ids, timeout=30)
    assert {r.state for r in records} == {TaskState.SUCCEEDED}
    assert set(ledger.effects().values()) == {1} and len(ledger.effects()) == 15


def test_a_message_that_reappeared_while_held_is_dropped_and_run_once_elsewhere(rig):
    rt, _, _ = rig
    client, (task_id,), lane = _submit(rt, 1)
    stalled = rt.dispatcher(lane_visibility=VIS, pause_refresh=0)
    _pull_all(stalled, lane, 1)
    time.sleep(VIS + 0.2)  # the first dispatcher stalls past the visibility
    other = rt.dispatcher(lane_visibility=VIS, pause_refresh=0)
    assert other.drain(idle_passes=3, timeout=30)
    assert stalled.extend_held() == 0
    assert not stalled.buffers[lane] and stalled.stats.extend_failed == 1
    assert stalled.drain(idle_passes=2, timeout=10)
    (record,) = wait_terminal(client, [task_id], timeout=10)
    assert record.state is TaskState.SUCCEEDED and ledger.effects()[task_id] == 1


def test_a_single_tenant_backlog_is_held_deep_without_sidelining_or_extra_receives(rig):
    rt, counter, _ = rig
    _, _, lane = _submit(rt, 150)
    dispatcher = rt.dispatcher(lane_visibility=60, pause_refresh=3600, max_in_flight=4)
    counter.reset()
    for _ in range(20):
        dispatcher.ingest(lane, dispatcher.lanes.receive(lane, max_messages=dispatcher.room(lane)))
    assert len(dispatcher.buffers[lane]) == 150
    assert dispatcher.stats.kinds["sidelined"] == 0
    # 15 full receives, then empty ones, and the pause set read once; no hide, no extension
    assert counter.requests == {("sqs", "ReceiveMessage"): 20, ("dynamodb", "GetItem"): 1}
    dispatcher.settle_running()


def test_a_quiet_tenant_behind_a_noisy_backlog_in_one_lane_starts_first(rig):
    rt, _, _ = rig
    _, _, lane = _submit(rt, 120, tenant="noisy")
    _, quiet, quiet_lane = _submit(rt, 2, tenant="quiet")
    assert quiet_lane == lane  # one lane: no sharding in this topology
    dispatcher = rt.dispatcher(lane_visibility=60, pause_refresh=0, max_in_flight=4)
    for _ in range(14):
        dispatcher.ingest(lane, dispatcher.lanes.receive(lane, max_messages=dispatcher.room(lane)))
    assert {h.env.tenant for h in dispatcher.buffers[lane]} == {"noisy", "quiet"}
    dispatcher.dispatch()
    started = {_id(item.message) for item in dispatcher.running}
    assert len(started) == 4 and set(quiet) <= started  # both among the first 4 of 122
    assert dispatcher.drain(idle_passes=3, timeout=60)
    assert len(ledger.effects()) == 122 and set(ledger.effects().values()) == {1}


def _id(message) -> str:
    from conveyor.envelope import parse

    return parse(message.body).task_id


def test_a_tenant_over_its_cap_is_sidelined_in_batches_while_another_waits(rig):
    rt, counter, _ = rig
    _, _, lane = _submit(rt, 2, tenant="quiet")
    _submit(rt, 28, tenant="noisy")
    # 20 per lane, so 10 per tenant while another tenant is held
    dispatcher = rt.dispatcher(lane_visibility=60, pause_refresh=3600, buffer_per_lane=20)
    counter.reset()
    for _ in range(3):
        dispatcher.ingest(lane, dispatcher.lanes.receive(lane, max_messages=dispatcher.room(lane)))
    tenants = [h.env.tenant for h in dispatcher.buffers[lane]]
    assert (tenants.count("quiet"), tenants.count("noisy")) == (2, 10)
    # received 10 + 10 + 8: the 16 noisy ones past the cap went back hidden, 10 a request
    assert dispatcher.stats.kinds["sidelined"] == 16
    assert counter.requests[BATCH_CALL] == 2
    assert counter.requests[("sqs", "ChangeMessageVisibility")] == 0
    depth = rt.lanes.depth(lane)
    assert (depth.visible, depth.in_flight) == (2, 28)
    dispatcher.settle_running()

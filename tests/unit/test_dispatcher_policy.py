"""Pure pieces of the dispatcher: the lane picker and the visibility extension."""

from __future__ import annotations

import time
from collections import Counter
from concurrent.futures import Future

from conveyor.model import PRIORITY_WEIGHTS
from conveyor.policy.picker import WeightedLanePicker
from conveyor.ports import InMessage
from conveyor.runtime.bootstrap import memory_runtime
from conveyor.runtime.dispatcher import _Running
from tests.support import ledger


def test_picker_leads_in_proportion_and_never_starves_low():
    picker = WeightedLanePicker({"high": ["h"], "normal": ["n"], "low": ["l"]}, PRIORITY_WEIGHTS)
    leads = Counter(picker.order()[0] for _ in range(100))
    assert leads == {"h": 60, "n": 30, "l": 10}
    window = [picker.order()[0] for _ in range(10)]
    assert "l" in window  # low leads at least once in every window of 10


def test_picker_rotates_shards_of_a_class():
    picker = WeightedLanePicker({"high": ["h0", "h1"], "low": ["l0"]}, {"high": 1, "low": 1})
    firsts = [picker.order()[0] for _ in range(4)]
    assert sorted(firsts) == ["h0", "h1", "l0", "l0"]


def test_long_attempts_get_their_lane_message_extended():
    rt = memory_runtime(ledger.catalog)
    dispatcher = rt.dispatcher(lane_visibility=60)
    calls = []
    rt.lanes.change_visibility_batch = lambda lane, entries: calls.append(list(entries)) or []
    message = InMessage("m", "r-1", "{}", 1, 0)
    future: Future = Future()
    item = _Running(
        "lane", message, ledger.catalog.get("work"), future, extended_at=time.monotonic() - 31
    )
    dispatcher.running.append(item)
    dispatcher.collect()
    assert calls == [[("r-1", 60)]]
    dispatcher.collect()
    assert calls == [[("r-1", 60)]]  # not again before another 30 s


def test_long_attempts_are_extended_ten_per_request_topped_up_with_the_next_due():
    """12 attempts due and 10 at 20 s (over half of the 30 s): two full batches of 10;
    the 2 that ran 5 s wait for their own turn."""
    rt = memory_runtime(ledger.catalog)
    dispatcher = rt.dispatcher(lane_visibility=60)
    calls = []
    rt.lanes.change_visibility_batch = lambda lane, entries: calls.append(list(entries)) or []
    now, work = time.monotonic(), ledger.catalog.get("work")
    ages = [31] * 12 + [20] * 10 + [5] * 2
    for n, age in enumerate(ages):
        message = InMessage(f"m{n}", f"r-{n}", "{}", 1, 0)
        dispatcher.running.append(_Running("lane", message, work, Future(), extended_at=now - age))
    dispatcher.collect()
    assert [len(c) for c in calls] == [10, 10]
    extended = {receipt for c in calls for receipt, _ in c}
    assert {f"r-{n}" for n in range(12)} <= extended
    assert {"r-22", "r-23"}.isdisjoint(extended)


def test_a_failed_extension_is_tried_again_on_the_next_pass():
    rt = memory_runtime(ledger.catalog)
    dispatcher = rt.dispatcher(lane_visibility=60)
    calls = []

    def flaky(lane, entries):
        calls.append(list(entries))
        if len(calls) == 1:
            raise ConnectionError("SQS did not answer")
        return []

    rt.lanes.change_visibility_batch = flaky
    message = InMessage("m", "r-1", "{}", 1, 0)
    item = _Running(
        "lane", message, ledger.catalog.get("work"), Future(), extended_at=time.monotonic() - 31
    )
    dispatcher.running.append(item)
    dispatcher.collect()
    dispatcher.collect()
    assert calls == [[("r-1", 60)], [("r-1", 60)]]


def test_paused_tasks_come_back_spread_over_the_hold_window():
    rt = memory_runtime(ledger.catalog)
    client = rt.client()
    client.pause(task_type="work")
    for _ in range(10):
        client.submit("work", {"mode": "ok"})
    dispatcher = rt.dispatcher(hold_seconds=20, pause_refresh=0)
    calls = []
    rt.lanes.change_visibility_batch = lambda lane, entries: calls.append(list(entries)) or []
    dispatcher.step()
    assert len(calls) == 1  # the 10 paused messages hidden in one request
    delays = [seconds for _, seconds in calls[0]]
    assert len(delays) == 10
    assert all(20 <= d <= 30 for d in delays)
    assert len(set(delays)) >= 4  # jittered: resume does not release a herd at once


def test_a_message_received_50_times_is_recycled_not_left_to_sqs_redrive():
    from conveyor.runtime.outcome import HOLD, Outcome

    rt = memory_runtime(ledger.catalog)
    client = rt.client()
    task_id = client.submit("work", {"mode": "ok"}).task_id
    lane = client.get(task_id).lane
    (message,) = rt.lanes.receive(lane)
    worn = InMessage(message.message_id, message.receipt, message.body, 50, 0)
    dispatcher = rt.dispatcher()
    dispatcher._settle(lane, worn, Outcome(HOLD, task_id, "paused", delay=5))
    dispatcher.flush()
    (fresh,) = rt.lanes.queues[lane]
    assert fresh.body == message.body
    assert fresh.receive_count == 0  # a new message: the receive count starts again
    assert fresh.message_id != message.message_id


def test_held_messages_are_extended_on_the_clock_and_a_stale_receipt_is_dropped():
    from conveyor.ports import FakeClock

    clock = FakeClock()
    rt = memory_runtime(ledger.catalog, clock=clock)  # lanes hide a message for 30 s
    client = rt.client()
    lane = client.get(client.submit("work", {"mode": "ok"}).task_id).lane
    for _ in range(11):
        client.submit("work", {"mode": "ok"})
    dispatcher = rt.dispatcher(lane_visibility=30, pause_refresh=3600)
    for _ in range(2):
        dispatcher.ingest(lane, rt.lanes.receive(lane, max_messages=dispatcher.room(lane)))
    buffer = dispatcher.buffers[lane]
    assert len(buffer) == 12
    clock.advance(15)
    assert dispatcher.extend_held() == 0  # half its visibility left: not yet
    stolen = buffer[0].message
    rt.lanes.change_visibility(lane, stolen.receipt, 0)
    (again,) = rt.lanes.receive(lane, max_messages=1)  # received elsewhere: a new receipt
    assert again.message_id == stolen.message_id
    clock.advance(6)  # 9 s left: under a third
    assert dispatcher.extend_held() == 11
    assert len(buffer) == 11 and stolen not in [h.message for h in buffer]
    assert dispatcher.stats.extend_failed == 1
    clock.advance(10)  # past the visibility they were received with: still hidden
    depth = rt.lanes.depth(lane)
    assert (depth.visible, depth.in_flight) == (0, 12)
    clock.advance(15)  # the other receiver let the stolen one go; ours are extended again
    assert dispatcher.extend_held() == 11
    depth = rt.lanes.depth(lane)
    assert (depth.visible, depth.in_flight) == (1, 11)
    dispatcher.settle_running()
    assert rt.lanes.depth(lane).visible == 12  # handed back at once

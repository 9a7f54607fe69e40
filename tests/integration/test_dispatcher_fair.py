"""The dispatcher with the Level-3 choice wired in (in-memory twins, a fake clock):
a type's rate limit holds, a heavy tenant does not push a quiet one to the back, and
throttled outcomes shrink the AIMD window of the resource a type calls."""

from __future__ import annotations

import threading

from conveyor import Catalog, Throttled
from conveyor.memory.lanes import MemoryLanes
from conveyor.policy.aimd import AimdSpec
from conveyor.ports import FakeClock
from conveyor.runtime.bootstrap import memory_runtime
from conveyor.sim.metrics import max_in_window

started: list[tuple[str, float]] = []
_lock = threading.Lock()
catalog = Catalog("fair-dispatch")
clock = FakeClock()


@catalog.task(rate_limit="5/s", burst=2)
def ping(payload, ctx):
    with _lock:
        started.append((ctx.task_id, clock.now()))


@catalog.task(concurrency=1)
def one_at_a_time(payload, ctx):
    with _lock:
        started.append((payload["tenant"], clock.now()))


@catalog.task(resource="partner-api")
def call_partner(payload, ctx):
    raise Throttled("429 from the partner", delay=0.1)


def _runtime():
    started.clear()
    rt = memory_runtime(catalog, clock=clock)
    assert isinstance(rt.lanes, MemoryLanes)
    return rt


def _step_until_idle(dispatcher, passes=50):
    for _ in range(passes):
        dispatcher._next_poll.clear()  # its empty-lane backoff runs on the wall clock
        dispatcher.step()
        for item in list(dispatcher.running):
            item.future.result(timeout=10)
        dispatcher.collect()


def test_a_types_rate_limit_holds_and_later_messages_wait_hidden_in_the_lane():
    rt = _runtime()
    client = rt.client()
    client.submit_many([{"task_type": "ping", "payload": {}} for _ in range(30)])
    dispatcher = rt.dispatcher(pause_refresh=0, max_in_flight=40, buffer_per_lane=40)
    for _ in range(35):  # 7 simulated seconds, 0.2 s a pass
        _step_until_idle(dispatcher, passes=2)
        clock.advance(0.2)
    times = sorted(t for _, t in started)
    assert dispatcher.stats.kinds["rate"] > 0  # some went back to the lane, hidden
    for width in (0.0, 1.0, 3.0):
        assert max_in_window(times, width) <= 5 * width + 2
    assert len(times) >= 25  # and the limit is not starving the type


def test_a_quiet_tenant_is_not_queued_behind_a_heavy_one():
    def order(scheduler: str) -> list[str]:
        rt = _runtime()
        client = rt.client()
        requests = [
            {"task_type": "one_at_a_time", "payload": {"tenant": "heavy"}, "tenant": "heavy"}
            for _ in range(30)
        ] + [
            {"task_type": "one_at_a_time", "payload": {"tenant": "quiet"}, "tenant": "quiet"}
            for _ in range(3)
        ]
        client.submit_many(requests)
        dispatcher = rt.dispatcher(
            pause_refresh=0, max_in_flight=40, buffer_per_lane=40, scheduler=scheduler
        )
        _step_until_idle(dispatcher, passes=60)
        return [tenant for tenant, _ in started]

    fair = order("fair")
    wrr = order("wrr")
    assert len(fair) == len(wrr) == 33
    quiet_fair = [i for i, t in enumerate(fair) if t == "quiet"]
    quiet_wrr = [i for i, t in enumerate(wrr) if t == "quiet"]
    # once its messages are buffered (a receive brings 10), it alternates with heavy
    assert max(quiet_fair) <= 8
    assert quiet_fair[-1] - quiet_fair[0] <= 4
    assert min(quiet_wrr) >= 30  # the old choice serves them last


def test_throttled_outcomes_shrink_the_window_of_the_resource():
    rt = _runtime()
    client = rt.client()
    client.submit_many([{"task_type": "call_partner", "payload": {}} for _ in range(20)])
    dispatcher = rt.dispatcher(pause_refresh=0, max_in_flight=40, buffer_per_lane=40)
    window = dispatcher.fair.brain.gate.windows["partner-api"]
    before = window.window
    assert window.spec == AimdSpec(initial=40, maximum=40, minimum=1)
    for _ in range(6):
        _step_until_idle(dispatcher, passes=1)
        clock.advance(3.0)
    assert window.window < before
    assert dispatcher.fair.windows()["partner-api"] == window.limit < 40
    assert any(c.why == "throttled" for c in window.changes)

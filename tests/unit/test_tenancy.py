"""Tenancy adapters over the in-memory control plane: routing, the admission gate, the
supervisor's detection/signal/pool loop, and lane leases among several dispatchers."""

from __future__ import annotations

import random

import pytest

from conveyor.errors import Overloaded
from conveyor.memory import MemoryLanes
from conveyor.memory.control import MemoryControl
from conveyor.policy.backpressure import BackPressure, Signal
from conveyor.policy.heavy import SampleAndHold
from conveyor.policy.pool import PoolPolicy, Route
from conveyor.ports import FakeClock, OutMessage
from conveyor.tenancy import AdmissionGate, CachedControl, LaneLeaser, LaneRouter, TenantSupervisor
from conveyor.topology import Topology


class Broken(MemoryControl):
    def routes(self, consistent=False):
        raise ConnectionError("throttled")

    def view(self):
        raise ConnectionError("throttled")


def test_router_prefers_an_active_pool_route_then_the_shorter_shard():
    clock, control = FakeClock(), MemoryControl()
    topology = Topology(prefix="mt", shards=8, pool=2)
    router = LaneRouter(topology, CachedControl(control, clock, max_age=0), clock)
    first, second = topology.lanes_for("normal", "acme")
    assert router.lane("normal", "acme") == first
    control.put_signal("d1", Signal(clock.now(), False), {first: 50, second: 2})
    assert router.lane("normal", "acme") == second
    control.put_routes({"acme": Route("acme", "mt-pool-1", 1, clock.now(), clock.now() + 60)}, 0)
    assert router.lane("low", "acme") == "mt-pool-1"
    clock.advance(61)  # lapsed: back to the shards
    assert router.lane("normal", "acme") == second


def test_control_outage_falls_back_to_the_shards_and_admits_everyone():
    clock = FakeClock()
    topology = Topology(prefix="mt", shards=4)
    cache = CachedControl(Broken(), clock, max_age=0)
    assert LaneRouter(topology, cache, clock).lane("high", "t") == topology.lane_for("high", "t")
    AdmissionGate(cache, clock).check("t")
    assert cache.failures == 3  # routes and depths for the router, the signal for the gate


def test_gate_refuses_only_the_heavy_tenant_and_never_schedules_or_events():
    clock, control = FakeClock(), MemoryControl()
    gate = AdmissionGate(CachedControl(control, clock, max_age=0), clock)
    control.put_signal("d1", Signal(clock.now(), True, {"big": 0.8}, 7.0, "deep backlog"))
    with pytest.raises(Overloaded) as refused:
        gate.check("big", "http")
    assert refused.value.retry_after == 7.0
    assert refused.value.http_status == 429
    gate.check("small", "http")
    gate.check("big", "schedule")
    gate.check("big", "event")
    assert gate.refused == 1
    clock.advance(31)  # stale signal: fail open
    gate.check("big", "sdk")


def test_cache_reads_at_most_once_per_max_age():
    clock = FakeClock()

    class Counting(MemoryControl):
        reads = 0

        def view(self):
            Counting.reads += 1
            return super().view()

    cache = CachedControl(Counting(), clock, max_age=2.0)
    for _ in range(50):
        cache.view()
        clock.advance(0.1)
    assert Counting.reads == 3  # at 0, 2.0 and 4.0 s


def _supervisor(clock, control, lanes, topology, **kw):
    return TenantSupervisor(
        topology,
        lanes,
        control,
        clock,
        "d1",
        detector=SampleAndHold(0.2, 100, random.Random(1), window=5.0),
        pool=PoolPolicy(topology.pool_lanes, hot_for=2, cool_for=10, ttl=60, renew_before=20),
        pressure=BackPressure(max_age=30, max_drain=300),
        **kw,
    )


def test_supervisor_detects_publishes_splits_merges_and_releases():
    clock, control = FakeClock(), MemoryControl()
    topology = Topology(prefix="mt", shards=2, pool=1)
    lanes = MemoryLanes(clock)
    sup = _supervisor(clock, control, lanes, topology)
    for lane in topology.lanes:
        lanes.send(lane, [OutMessage(body="{}", group="x", id="1")])
    for _ in range(4):
        for i in range(40):
            sup.observe("big", age=45.0)
            sup.observe(f"quiet-{i % 20}", age=1.0)
        sup.finished(10)
        clock.advance(1)
        signal = sup.tick(topology.lanes)
    assert signal.overloaded and set(signal.heavy) == {"big"}
    view = control.view()
    assert view.signal.overloaded
    assert view.depths == dict.fromkeys(topology.lanes, 1)
    route = control.routes().routes["big"]
    assert route.lane == "mt-pool-0" and route.active(clock.now())
    # Traffic stops: heavy fades after two windows, then cool_for later the route drains;
    # once its lane is empty it goes.
    for _ in range(20):
        clock.advance(1)
        sup.tick(topology.lanes)
    assert control.routes().routes["big"].draining
    lanes.receive("mt-pool-0", visibility=0)
    (message,) = lanes.receive("mt-pool-0")
    lanes.delete("mt-pool-0", [message.receipt])
    clock.advance(1)
    sup.tick(topology.lanes)
    assert control.routes().routes == {}


def test_supervisor_leaves_routes_of_lanes_it_does_not_serve_alone():
    clock, control = FakeClock(), MemoryControl()
    topology = Topology(prefix="mt", shards=1, pool=1)
    control.put_routes({"big": Route("big", "mt-pool-0", 1, clock.now(), clock.now() + 60)}, 0)
    sup = _supervisor(clock, control, MemoryLanes(clock), topology)
    clock.advance(30)
    sup.tick([lane for lane in topology.lanes if lane != "mt-pool-0"])
    assert not control.routes().routes["big"].draining  # not its lane: no merge


def test_supervisor_survives_a_failing_control_plane():
    clock = FakeClock()
    topology = Topology(prefix="mt", pool=1)
    sup = _supervisor(clock, Broken(), MemoryLanes(clock), topology)
    sup.observe("a", 1.0)
    assert not sup.tick(topology.lanes).overloaded
    assert sup.errors == 1


def test_three_dispatchers_share_lanes_and_take_over_from_a_dead_one():
    clock, control = FakeClock(), MemoryControl()
    lanes = [f"lane-{i}" for i in range(12)]
    members = {m: LaneLeaser(control, m, lanes, clock) for m in ("d1", "d2", "d3")}
    for _ in range(2):  # the first tick of d1 sees itself alone, the second everyone
        for leaser in members.values():
            leaser.tick()
    owned = {m: set(leaser.owned) for m, leaser in members.items()}
    assert sorted(lane for s in owned.values() for lane in s) == sorted(lanes)
    assert all(leaser.share() == pytest.approx(1 / 3) for leaser in members.values())
    # d2 dies (kill -9: no leave). Its lanes are free once its lease runs out.
    dead = owned["d2"]
    for _ in range(4):
        clock.advance(10)
        members["d1"].tick()
        members["d3"].tick()
        taken = set(members["d1"].owned) | set(members["d3"].owned)
        assert not (taken & set(members["d2"].owned))  # never two holders at once
    assert set(members["d1"].owned) | set(members["d3"].owned) == set(lanes)
    assert dead <= set(members["d1"].owned) | set(members["d3"].owned)


def test_a_leaving_dispatcher_hands_its_lanes_over_at_once():
    clock, control = FakeClock(), MemoryControl()
    lanes = ["a", "b", "c", "d"]
    released = []
    one = LaneLeaser(control, "d1", lanes, clock, on_release=released.append)
    two = LaneLeaser(control, "d2", lanes, clock)
    one.tick()
    assert one.owned == lanes
    two.tick()
    one.tick()  # d1 now sees d2 and gives its lanes up
    assert released and set(released) == set(lanes) - set(one.owned)
    two.tick()
    assert set(one.owned) | set(two.owned) == set(lanes)
    one.leave()
    two.tick()
    assert two.owned == lanes


def test_the_sdk_routes_and_refuses_through_the_edge():
    from conveyor.runtime.bootstrap import memory_runtime
    from tests.support import ledger

    clock = FakeClock()
    topology = Topology(prefix="mt", shards=4, pool=1)
    rt = memory_runtime(ledger.catalog, topology, clock=clock)
    client = rt.client()
    first, second = topology.lanes_for("normal", "acme")
    rt.control.put_signal("d1", Signal(clock.now(), False), {first: 9, second: 1})
    assert client.submit("work", {"mode": "ok"}, tenant="acme").record.lane == second
    rt.control.put_signal("d1", Signal(clock.now(), True, {"big": 0.9}, 4.0, "deep"))
    clock.advance(3)  # past the cache's max age
    with pytest.raises(Overloaded):
        client.submit("work", {"mode": "ok"}, tenant="big", task_id="refused-1")
    assert rt.store.get("refused-1") is None  # nothing written
    results = client.submit_many(
        [
            {"task_type": "work", "payload": {"mode": "ok"}, "tenant": "big", "task_id": "b"},
            {"task_type": "work", "payload": {"mode": "ok"}, "tenant": "calm", "task_id": "c"},
        ]
    )
    assert [r.status for r in results] == ["refused", "created"]
    assert "retry after 4s" in results[0].error
    assert rt.store.get("b") is None


def test_a_single_lane_deployment_never_reads_the_control_plane():
    from conveyor.runtime.bootstrap import memory_runtime
    from tests.support import ledger

    rt = memory_runtime(ledger.catalog, Topology(prefix="one"))
    assert rt.client().edge is None


def test_an_idle_supervisor_reads_depths_once_per_idle_interval():
    clock, control = FakeClock(), MemoryControl()
    topology = Topology(prefix="mt", shards=8)

    class CountingLanes(MemoryLanes):
        reads = 0

        def depth(self, queue):
            CountingLanes.reads += 1
            return super().depth(queue)

    lanes = CountingLanes(clock)
    sup = TenantSupervisor(topology, lanes, control, clock, "d1", interval=2, idle_interval=60)
    for _ in range(30):  # a minute of 2 s ticks, nothing arriving
        sup.tick(topology.lanes)
        clock.advance(2)
    assert CountingLanes.reads == len(topology.lanes)  # the first tick only
    sup.observe("t", 0.0)  # work arrives: a full tick at once
    sup.tick(topology.lanes)
    assert CountingLanes.reads == 2 * len(topology.lanes)
    clock.advance(2)
    sup.tick(topology.lanes)  # nothing more arrived and the lanes are empty: quiet again
    assert CountingLanes.reads == 2 * len(topology.lanes)
    lanes.send(topology.lanes[0], [OutMessage(body="{}", group="t", id="1")])
    sup.observe("t", 0.0)
    sup.tick(topology.lanes)
    clock.advance(2)
    sup.tick(topology.lanes)  # a lane still holds work: every tick reads
    assert CountingLanes.reads == 4 * len(topology.lanes)


def test_messages_the_dispatcher_holds_count_as_backlog_depth_and_age():
    clock, control = FakeClock(), MemoryControl()
    topology = Topology(prefix="mt", shards=1)
    lanes = MemoryLanes(clock)
    sup = _supervisor(clock, control, lanes, topology)
    lane = topology.lanes[0]
    lanes.send(lane, [OutMessage(body="{}", group="x", id="1")])
    sup.observe("x", age=1.0)
    sup.finished(1)
    clock.advance(1)
    assert not sup.tick(topology.lanes).overloaded
    assert control.view().depths[lane] == 1
    # 150 received and held (hidden in SQS), the oldest enqueued 40 s ago: over max_age
    sup.holding({lane: 150}, oldest_age=40.0)
    sup.finished(1)
    clock.advance(1)
    assert sup.tick(topology.lanes).overloaded
    assert control.view().depths[lane] == 151

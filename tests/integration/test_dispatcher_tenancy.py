"""Dispatchers of a multi-tenant deployment on the in-memory twins: lanes shared through
leases, a heavy tenant split to a pool lane, back-pressure published, nothing lost."""

from __future__ import annotations

import random
import time

import pytest

from conveyor.errors import Overloaded
from conveyor.model import TaskState
from conveyor.policy.backpressure import BackPressure
from conveyor.policy.heavy import SampleAndHold
from conveyor.policy.pool import PoolPolicy
from conveyor.runtime.bootstrap import memory_runtime
from conveyor.tenancy import DispatcherTenancy, LaneLeaser, TenantSupervisor
from conveyor.topology import Topology
from tests.support import ledger


@pytest.fixture
def rt(tmp_path, monkeypatch):
    monkeypatch.setenv("LEDGER_DIR", str(tmp_path))
    return memory_runtime(ledger.catalog, Topology(prefix="mt", shards=3, pool=1))


def quick_tenancy(rt, dispatcher, member, **supervisor):
    """Leases and supervision on a sub-second rhythm, so a test runs in seconds."""
    dispatcher.tenancy = DispatcherTenancy(
        rt.topology,
        rt.lanes,
        rt.control,
        rt.clock,
        member=member,
        leaser=LaneLeaser(
            rt.control,
            member,
            rt.topology.lanes,
            rt.clock,
            lease=1.2,
            heartbeat=0.2,
            margin=0.3,
            on_release=dispatcher.release_lane,
        ),
        supervisor=TenantSupervisor(
            rt.topology, rt.lanes, rt.control, rt.clock, member, interval=0.2, **supervisor
        ),
    )
    return dispatcher


def test_two_dispatchers_split_the_lanes_and_run_everything_once(rt):
    client = rt.client()
    ids = [client.submit("work", {"mode": "ok"}, tenant=f"t{i % 7}").task_id for i in range(60)]
    one = quick_tenancy(rt, rt.dispatcher(), "d1")
    two = quick_tenancy(rt, rt.dispatcher(), "d2")
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        one.step()
        two.step()
        held = set(one.tenancy.leaser.owned) & set(two.tenancy.leaser.owned)
        assert not held  # never two holders of a lane
        if all(client.get(i).state is TaskState.SUCCEEDED for i in ids):
            break
        time.sleep(0.01)
    assert [client.get(i).state for i in ids] == [TaskState.SUCCEEDED] * len(ids)
    assert all(ledger.effects()[i] == 1 for i in ids)
    owned = set(one.tenancy.leaser.owned) | set(two.tenancy.leaser.owned)
    assert owned == set(rt.topology.lanes)
    assert one.tenancy.leaser.owned and two.tenancy.leaser.owned
    assert one.tenancy.share() == pytest.approx(0.5)


def test_a_heavy_tenant_is_split_to_the_pool_and_refused_while_overloaded(rt):
    client = rt.client()
    dispatcher = quick_tenancy(
        rt,
        rt.dispatcher(max_in_flight=4, buffer_per_lane=4),
        "d1",
        detector=SampleAndHold(0.3, 20, random.Random(2), window=1.0),
        pool=PoolPolicy(rt.topology.pool_lanes, hot_for=0.2, cool_for=60, ttl=300),
        pressure=BackPressure(max_age=0.5, max_drain=1e9),
    )
    heavy = client.submit_many(
        [{"task_type": "work", "payload": {"mode": "ok"}, "tenant": "big"} for _ in range(80)]
    )
    quiet = [client.submit("work", {"mode": "ok"}, tenant=f"q{i}").task_id for i in range(4)]
    time.sleep(0.6)  # the backlog ages past max_age
    deadline = time.monotonic() + 20
    route = None
    while time.monotonic() < deadline and route is None:
        dispatcher.step()
        route = rt.control.routes().routes.get("big")
    assert route is not None and route.lane == "mt-pool-0"
    assert client.submit("work", {"mode": "ok"}, tenant="late").record.lane != route.lane
    client.edge.cache.max_age = 0
    signal = rt.control.signal()
    assert signal.overloaded and "big" in signal.heavy
    with pytest.raises(Overloaded):
        client.submit("work", {"mode": "ok"}, tenant="big")
    dispatcher.drain(idle_passes=3, timeout=30)
    done = [r.task_id for r in heavy] + quiet
    assert all(client.get(i).state is TaskState.SUCCEEDED for i in done)
    assert all(ledger.effects()[i] == 1 for i in done)

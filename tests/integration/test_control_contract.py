"""The control-plane contract (pool routes, members, signals, lane leases), run against
the in-memory twin and against DynamoDB on moto."""

from __future__ import annotations

import pytest

from conveyor.aws.control import DynamoControl
from conveyor.memory.control import MemoryControl
from conveyor.policy.backpressure import Signal
from conveyor.policy.pool import Route


@pytest.fixture(params=["memory", "moto"])
def control(request, topology):
    if request.param == "memory":
        return MemoryControl()
    aws = request.getfixturevalue("aws")
    request.getfixturevalue("provisioned")
    return DynamoControl(aws.dynamodb, topology.table)


def test_routes_are_versioned_and_a_lost_race_is_reported(control):
    assert control.routes().version == 0
    route = Route("big", "pool-0", 1, 10.0, 310.5)
    assert control.put_routes({"big": route}, 0)
    table = control.routes(consistent=True)
    assert (table.version, table.routes) == (1, {"big": route})
    assert not control.put_routes({}, 0)  # someone else moved it on
    assert control.routes(consistent=True).routes == {"big": route}
    assert control.put_routes({}, 1)
    assert control.routes(consistent=True) == type(table)(2, {})


def test_members_heartbeat_and_leave(control):
    control.heartbeat("d1", 100.0)
    control.heartbeat("d2", 105.5)
    control.heartbeat("d1", 110.0)
    assert control.members() == {"d1": 110.0, "d2": 105.5}
    control.leave("d1")
    assert control.members() == {"d2": 105.5}


def test_signals_of_every_member_are_combined(control):
    assert control.signal() is None
    control.put_signal("d1", Signal(10.0, False))
    control.put_signal("d2", Signal(11.0, True, {"big": 0.4}, 5.0, "old backlog"))
    control.put_signal(
        "d3", Signal(12.0, True, {"big": 0.7, "other": 0.2}, 9.0, "deep"), {"lane-1": 40}
    )
    control.put_signal("d1", Signal(10.5, False), {"lane-0": 3})
    assert control.view().depths == {"lane-0": 3, "lane-1": 40}
    combined = control.signal()
    assert combined.overloaded
    assert combined.heavy == {"big": 0.7, "other": 0.2}
    assert (combined.retry_after, combined.reason) == (9.0, "deep")
    control.leave("d2")
    control.leave("d3")
    assert not control.signal().overloaded


def test_a_lane_lease_has_one_holder_until_it_expires_or_is_released(control):
    assert control.acquire("lane-a", "d1", now=100.0, until=130.0)
    assert control.acquire("lane-a", "d1", now=110.0, until=140.0)  # renewal (or a retry)
    assert not control.acquire("lane-a", "d2", now=120.0, until=150.0)
    assert control.leases(["lane-a", "lane-b"]) == {"lane-a": ("d1", 140.0)}
    assert control.acquire("lane-a", "d2", now=140.5, until=170.0)  # expired: taken over
    control.release("lane-a", "d1")  # not the holder: no effect
    assert control.leases(["lane-a"]) == {"lane-a": ("d2", 170.0)}
    control.release("lane-a", "d2")
    assert control.leases(["lane-a"]) == {}
    assert control.acquire("lane-a", "d1", now=141.0, until=171.0)

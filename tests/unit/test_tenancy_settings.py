"""The dispatcher's multi-tenant rhythm from the environment."""

from __future__ import annotations

import pytest

from conveyor.errors import InvalidOption
from conveyor.memory.control import MemoryControl
from conveyor.memory.lanes import MemoryLanes
from conveyor.ports import SystemClock
from conveyor.tenancy import DispatcherTenancy
from conveyor.tenancy.settings import TenancySettings
from conveyor.topology import Topology


def test_defaults_are_the_deployed_rhythm():
    s = TenancySettings.from_env({})
    assert (s.lease, s.heartbeat, s.supervise, s.margin) == (30.0, 10.0, 2.0, 5.0)
    assert (s.heavy_window, s.hot_for, s.cool_for, s.max_age) == (5.0, 5.0, 60.0, 120.0)


def test_the_environment_compresses_the_clock_and_reaches_leaser_and_supervisor():
    env = {
        "CONVEYOR_LEASE_SECONDS": "3",
        "CONVEYOR_LEASE_HEARTBEAT": "0.5",
        "CONVEYOR_SUPERVISE_SECONDS": "0.25",
        "CONVEYOR_HEAVY_WINDOW": "1",
        "CONVEYOR_POOL_HOT_SECONDS": "0.5",
        "CONVEYOR_POOL_COOL_SECONDS": " 4 ",
        "CONVEYOR_BACKLOG_MAX_AGE": "2",
    }
    settings = TenancySettings.from_env(env)
    assert settings.margin == 0.5
    clock = SystemClock()
    tenancy = DispatcherTenancy(
        Topology(prefix="mt", shards=2, pool=1),
        MemoryLanes(clock),
        MemoryControl(),
        clock,
        member="d1",
        settings=settings,
    )
    leaser, supervisor = tenancy.leaser, tenancy.supervisor
    assert (leaser.lease, leaser.heartbeat, leaser.margin) == (3.0, 0.5, 0.5)
    assert supervisor.interval == 0.25
    assert supervisor.detector.window == 1.0
    assert supervisor.detector.expected_units == 40.0  # the same rate, per shorter window
    assert (supervisor.pool.hot_for, supervisor.pool.cool_for) == (0.5, 4.0)
    assert supervisor.pressure.max_age == 2.0


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("CONVEYOR_LEASE_SECONDS", "soon"),
        ("CONVEYOR_LEASE_SECONDS", "0"),
        ("CONVEYOR_LEASE_HEARTBEAT", "-1"),
        ("CONVEYOR_SUPERVISE_SECONDS", "nan"),
        ("CONVEYOR_BACKLOG_MAX_AGE", "inf"),
    ],
)
def test_a_bad_value_names_its_variable(name, value):
    with pytest.raises(InvalidOption, match=name):
        TenancySettings.from_env({name: value})


def test_a_heartbeat_that_does_not_fit_the_lease_is_refused():
    with pytest.raises(InvalidOption, match="CONVEYOR_LEASE_HEARTBEAT"):
        TenancySettings.from_env({"CONVEYOR_LEASE_SECONDS": "3", "CONVEYOR_LEASE_HEARTBEAT": "3"})
    with pytest.raises(InvalidOption, match="CONVEYOR_POOL_HOT_SECONDS"):
        TenancySettings.from_env({"CONVEYOR_POOL_HOT_SECONDS": "60"})


def test_the_service_reads_lane_visibility_and_attempt_margin_as_seconds(monkeypatch):
    from conveyor.cli.service import _seconds

    monkeypatch.delenv("CONVEYOR_LANE_VISIBILITY", raising=False)
    assert _seconds("CONVEYOR_LANE_VISIBILITY", 60.0) == 60.0
    monkeypatch.setenv("CONVEYOR_LANE_VISIBILITY", "5")
    assert _seconds("CONVEYOR_LANE_VISIBILITY", 60.0) == 5.0
    for bad in ("0", "-3", "five", "inf"):
        monkeypatch.setenv("CONVEYOR_LANE_VISIBILITY", bad)
        with pytest.raises(InvalidOption, match="CONVEYOR_LANE_VISIBILITY"):
            _seconds("CONVEYOR_LANE_VISIBILITY", 60.0)

"""The multi-tenant scenario on a shortened run (the full one is `make sim`): a heavy
tenant among 1,000, against shuffle-sharded lanes, the dynamic pool and back-pressure,
with today's one shared lane and static hashing as baselines in the same run."""

from __future__ import annotations

import pytest
from rich.console import Console

from conveyor.sim import run, simulate
from conveyor.sim.lanes import Lane, Msg
from conveyor.sim.report import charts, print_report
from conveyor.sim.scenarios import heavy1000
from conveyor.sim.tenancy import VARIANTS
from conveyor.sim.tenancy_report import neighbours_p99, ratio


@pytest.fixture(scope="module")
def report():
    return run(
        "heavy1000", 1, scenario=heavy1000(heavy_from=40.0, heavy_until=70.0, duration=160.0)
    )


def _quiet_refusals(log) -> int:
    return sum(n for group, n in log.refused.items() if group != "heavy")


def test_same_seed_same_numbers_and_another_seed_other_numbers():
    scenario = heavy1000(heavy_from=35.0, heavy_until=60.0, duration=80.0)
    one, two = simulate(scenario, "full", 5), simulate(scenario, "full", 5)
    assert one.waits == two.waits
    assert one.groups == two.groups
    assert one.tenancy == two.tenancy  # detection, split, every refusal at the same time
    assert one.tenancy.refusals
    other = simulate(scenario, "full", 6)
    assert other.waits != one.waits


def test_full_design_keeps_quiet_p99_within_1_2x_of_the_run_without_the_heavy_tenant(report):
    assert ratio(report, "full") <= 1.2
    assert not [t.label for t in report.targets if not t.ok]


def test_heavy_tenant_detected_within_10s_and_moved_to_a_pool_lane(report):
    log = report.runs["full"].tenancy
    assert log.turned_heavy <= log.detected <= log.turned_heavy + 10
    assert log.split is not None and log.detected <= log.split < log.cooled


def test_heavy_producer_refused_and_quiet_producers_never(report):
    log = report.runs["full"].tenancy
    assert log.refused["heavy"] > 0
    assert _quiet_refusals(log) == 0
    assert all(log.turned_heavy < t for t in log.refusals)


def test_merged_back_after_cooldown_and_the_lane_returned_to_the_pool(report):
    log = report.runs["full"].tenancy
    assert [where for _, where in log.route] == ["shards", "pool", "draining", "shards"]
    assert log.cooled <= log.merged <= log.released


def test_baselines_run_beside_it_with_nothing_split_or_refused(report):
    assert set(report.runs) == set(VARIANTS) == set(report.alone)
    for name, stats in report.runs.items():
        log = stats.tenancy
        assert stats.group("quiet").tasks > 5000
        assert report.alone[name].group("quiet").p99 > 0
        if name != "full":
            assert log.split is None and not log.refused
    # the one-lane baseline really is hurt, so the scenario tests something
    assert ratio(report, "shared") > 10
    # the pool is what spares the heavy tenant's lane neighbours
    full = neighbours_p99(report.runs["full"])
    assert full < neighbours_p99(report.runs["sharded"]) < neighbours_p99(report.runs["shared"])


def test_the_table_names_every_variant_and_the_blast_radius_and_the_chart_is_drawn(
    report, tmp_path
):
    console = Console(record=True, width=220)
    print_report(report, console)
    text = console.export_text()
    for name in VARIANTS:
        assert f"│ {name} " in text
    assert "Blast radius of N=8, k=2: 1/C(8,2) = 3.57%" in text
    written = charts(report, tmp_path)
    assert tmp_path / "heavy1000-tenancy.png" in written
    assert (tmp_path / "heavy1000-tenancy.png").stat().st_size > 1000


def test_a_lane_reports_hidden_messages_as_in_flight():
    lane = Lane("l")
    for i, visible_at in enumerate((0.0, 1.0, 5.0)):
        lane.send(Msg(i, "t", "g", "work", "normal", 0.0), visible_at)
    depth = lane.depth(2.0)
    assert (depth.visible, depth.in_flight, depth.delayed) == (2, 1, 0)
    assert len(lane.receive(2.0)) == 2
    assert lane.depth(2.0).visible == 0

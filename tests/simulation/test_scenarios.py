"""The scheduler simulation: same seed, same numbers; and the Level-3 targets, on
shortened runs of each scenario (the full runs are `make sim`)."""

from __future__ import annotations

import dataclasses

import pytest

from conveyor.sim import SCENARIOS, run, simulate
from conveyor.sim.__main__ import main


def _short(name: str, **changes) -> object:
    return dataclasses.replace(SCENARIOS[name](), **changes)


def _unmet(report) -> list[str]:
    return [f"{t.label}: {t.value:.3f} (want {t.bound})" for t in report.targets if not t.ok]


def test_same_seed_same_numbers_and_another_seed_other_numbers():
    scenario = _short("noisy", duration=60.0, warmup=10.0)
    one, two = simulate(scenario, "fair", 7), simulate(scenario, "fair", 7)
    assert one.waits == two.waits
    assert one.groups == two.groups
    assert one.events == two.events
    other = simulate(scenario, "fair", 8)
    assert other.waits != one.waits


def test_noisy_neighbour_leaves_quiet_tenants_p99_within_1_2x_and_fifo_does_not():
    report = run("noisy", 1, ("fair", "fifo"), _short("noisy", duration=120.0))
    assert not _unmet(report), _unmet(report)
    fifo = report.runs["fifo"].group("quiet").p99 / report.alone["fifo"].group("quiet").p99
    assert fifo > 10  # the baseline really is hurt, so the scenario tests something


def test_weighted_shares_hold_in_every_60s_window_with_10x_durations():
    report = run("weighted", 1, ("fair",), _short("weighted", duration=130.0))
    assert not _unmet(report), _unmet(report)
    fair = report.runs["fair"]
    assert fair.window_dev is not None and fair.jain is not None


def test_each_backlogged_lower_class_gets_its_share_and_waits_under_aging():
    report = run("priority", 1, ("fair", "wrr"), _short("priority", duration=130.0))
    assert not _unmet(report), _unmet(report)
    assert report.runs["wrr"].max_wait["low"] > 31  # today's picker misses the bound


def test_aimd_uses_changing_capacity_with_few_throttles_and_settles():
    report = run("aimd", 1, ("fair",), _short("aimd", duration=170.0))
    assert not _unmet(report), _unmet(report)
    history = report.runs["fair"].windows
    assert any(w["api"] > 60 for t, w, _ in history if t < 120)  # grew toward 80
    assert all(w["api"] <= 45 for t, w, _ in history if t > 150)  # and came down to 40


def test_rate_limits_hold_per_type_and_per_tenant_with_10000_tenants():
    report = run("tenants10k", 1, ("fair", "fifo"), _short("tenants10k", duration=80.0))
    assert not _unmet(report), _unmet(report)
    assert (report.runs["fifo"].rate_excess or 0) > 0  # unenforced today


@pytest.mark.parametrize("name", ["outage"])
def test_outage_drains_with_few_throttles(name):
    report = run(name, 1, ("fair",), _short(name, duration=220.0))
    fair = report.runs["fair"]
    assert fair.throttled_pct < 5
    assert fair.used_pct["api"] > 85


def test_the_command_prints_tables_and_writes_charts(tmp_path, capsys, monkeypatch):
    short = _short("noisy", duration=40.0, warmup=5.0)
    monkeypatch.setitem(SCENARIOS, "noisy", lambda: short)
    code = main(["noisy", "--seed", "3", "--out", str(tmp_path)])
    out = capsys.readouterr().out
    assert "quiet p99 with heavy / without" in out
    assert (tmp_path / "noisy-wait.png").stat().st_size > 1000
    assert code in (0, 1)
    with pytest.raises(SystemExit):
        main(["nonesuch"])

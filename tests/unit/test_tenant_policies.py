"""Multi-tenant policies: shuffle sharding, Sample-and-Hold, the dynamic pool, back-pressure."""

from __future__ import annotations

import math
import random
from collections import Counter
from itertools import combinations
from math import comb

import pytest

from conveyor.policy.backpressure import Backlog, BackPressure, Signal, check
from conveyor.policy.heavy import SampleAndHold
from conveyor.policy.leases import desired_lanes, live, owner_of, share
from conveyor.policy.pool import Merge, PoolPolicy, Release, Renew, Route, Split
from conveyor.policy.sharding import DepthCache, ShuffleSharder, blast_radius, unrank

# -- shuffle sharding ----------------------------------------------------------------------


@pytest.mark.parametrize(("n", "k"), [(8, 2), (6, 3), (5, 1), (4, 4)])
def test_unrank_is_a_bijection_onto_the_k_subsets(n, k):
    subsets = {unrank(r, n, k) for r in range(comb(n, k))}
    assert subsets == {tuple(c) for c in combinations(range(n), k)}


def test_blast_radius_figures():
    assert blast_radius(8, 2) == pytest.approx(1 / 28)
    assert blast_radius(32, 3) == pytest.approx(1 / 4960)


def test_sets_are_stable_distinct_and_spread_evenly():
    sharder = ShuffleSharder(8, 2)
    assert sharder.shard_set("acme") == ShuffleSharder(8, 2).shard_set("acme")
    assert len(ShuffleSharder(8, 2, salt="x").shard_set("acme")) == 2
    tenants = [f"t{i}" for i in range(28_000)]
    sets = Counter(frozenset(sharder.shard_set(t)) for t in tenants)
    assert len(sets) == 28  # every pair of lanes is used
    assert max(sets.values()) < 1.2 * 1000 and min(sets.values()) > 0.8 * 1000
    lanes = Counter(lane for t in tenants for lane in sharder.shard_set(t))
    assert max(lanes.values()) < 1.1 * 7000
    identical = sum(
        1
        for a, b in zip(tenants[:2000], tenants[2000:4000], strict=True)
        if set(sharder.shard_set(a)) == set(sharder.shard_set(b))
    )
    assert identical / 2000 == pytest.approx(1 / 28, abs=0.015)


def test_choose_takes_the_shorter_of_the_tenants_lanes():
    sharder = ShuffleSharder(8, 2)
    a, b = sharder.shard_set("acme")
    assert sharder.choose("acme", {a: 5, b: 3}) == b
    assert sharder.choose("acme", {a: 0, b: 3}) == a
    assert sharder.choose("acme", {}) == a  # ties: the tenant's own first preference
    assert sharder.choose("acme", lambda lane: 10 - lane) == max(a, b)


def test_k_is_capped_and_bad_sizes_are_refused():
    assert ShuffleSharder(1, 2).shard_set("x") == (0,)
    with pytest.raises(ValueError):
        ShuffleSharder(0, 2)
    with pytest.raises(ValueError):
        ShuffleSharder(4, 0)


def test_depth_cache_refreshes_at_most_every_max_age_and_survives_errors():
    calls = []

    def refresh():
        calls.append(1)
        if len(calls) == 2:
            raise ConnectionError("throttled")
        return {0: len(calls)}

    cache = DepthCache(refresh, max_age=5.0)
    assert cache.get(0.0) == {0: 1}
    assert cache.get(4.9) == {0: 1}
    assert len(calls) == 1
    assert cache.get(5.0) == {0: 1}  # the refresh failed: the old view stays
    assert (cache.failures, len(calls)) == (1, 2)
    assert cache.get(10.0) == {0: 3}


# -- Sample-and-Hold ----------------------------------------------------------------------


def test_sample_and_hold_finds_the_heavy_tenant_and_not_the_quiet_ones():
    rng = random.Random(7)
    detector = SampleAndHold(threshold=0.1, expected_units=1000, rng=rng, window=5.0)
    now = 0.0
    for _ in range(1000):  # 5 s of traffic: one tenant sends half of it
        now += 0.005
        detector.observe("heavy", now)
        detector.observe(f"quiet-{rng.randrange(500)}", now)
    heavy = detector.heavy(now)
    assert set(heavy) == {"heavy"}
    assert heavy["heavy"] == pytest.approx(0.5, abs=0.05)
    assert detector.entries < 10 / 0.1 * 2  # about t/z entries per window, not 500


def test_sample_and_hold_memory_is_bounded():
    detector = SampleAndHold(1e-3, 10, random.Random(1), max_entries=50)
    for i in range(10_000):
        detector.observe(f"k{i}", 0.0)
    assert detector.entries == 50
    assert detector.dropped_samples > 0


def test_quiet_system_marks_nobody_and_heavy_fades_after_two_windows():
    detector = SampleAndHold(0.1, 1000, random.Random(3), window=5.0)
    for i in range(50):
        detector.observe("only", i * 0.01)
    assert detector.heavy(1.0) == {}  # 50 units of an expected 1,000: quiet
    for i in range(600):
        detector.observe("only", 1.0 + i * 0.001)
    assert "only" in detector.heavy(2.0)
    assert detector.heavy(12.5) == {}


def test_miss_probability_matches_the_paper():
    detector = SampleAndHold(0.01, 10_000, random.Random(0), oversampling=10)
    assert detector.p == pytest.approx(0.1)
    assert detector.miss_probability == pytest.approx(math.exp(-10))


def test_miss_rate_at_the_threshold_is_small_when_measured():
    misses = 0
    for seed in range(300):
        detector = SampleAndHold(0.05, 1000, random.Random(seed), oversampling=4)
        for _ in range(50):  # exactly at the threshold
            detector.observe("edge", 0.0)
        misses += detector.estimate("edge") == 0
    assert misses / 300 < 3 * math.exp(-4)


# -- dynamic pool -------------------------------------------------------------------------


def test_pool_splits_after_hot_for_renews_merges_after_cool_for_releases_when_empty():
    policy = PoolPolicy(["pool-0", "pool-1"], hot_for=5, cool_for=30, ttl=60, renew_before=20)
    heavy = {"big": 0.6}
    assert policy.decide(0, heavy, {}, {}) == []
    assert policy.decide(4, heavy, {}, {}) == []
    decisions = policy.decide(5, heavy, {}, {})
    assert decisions == [Split("big", "pool-0")]
    route = policy.new_route(decisions[0], 5)
    routes = {"big": route}
    assert policy.decide(20, heavy, routes, {}) == []
    assert policy.decide(46, heavy, routes, {}) == [Renew("big")]
    routes = {"big": Route("big", "pool-0", 2, 5, 200)}  # the owner renewed it
    assert policy.decide(60, {}, routes, {}) == []  # cooling, not cold yet
    assert policy.decide(75, {}, routes, {"pool-0": 3}) == []
    assert policy.decide(76, {}, routes, {"pool-0": 3}) == [Merge("big")]
    draining = {"big": Route("big", "pool-0", 3, 5, 200, draining=True)}
    assert policy.decide(77, {}, draining, {"pool-0": 4}) == []  # still served
    assert policy.decide(78, {}, draining, {"pool-0": 0}) == [Release("big", "pool-0")]


def test_pool_never_gives_more_lanes_than_it_has_and_heaviest_first():
    policy = PoolPolicy(["p0"], hot_for=0, cool_for=10)
    heavy = {"a": 0.2, "b": 0.5}
    assert policy.decide(0, heavy, {}, {}) == [Split("b", "p0")]
    busy = {"b": Route("b", "p0", 1, 0, 1000)}
    assert policy.decide(1, heavy, busy, {}) == []


def test_lapsed_route_drains_instead_of_holding_a_lane():
    policy = PoolPolicy(["p0"], hot_for=0, cool_for=10, ttl=30, renew_before=5)
    lapsed = {"a": Route("a", "p0", 1, 0, 30)}
    assert policy.decide(31, {"a": 0.5}, lapsed, {"p0": 2}) == [Merge("a")]
    assert policy.decide(32, {"a": 0.5}, lapsed, {"p0": 0}) == [Release("a", "p0")]


def test_pool_settings_are_checked():
    with pytest.raises(ValueError):
        PoolPolicy(["p"], hot_for=10, cool_for=5)
    with pytest.raises(ValueError):
        PoolPolicy(["p"], ttl=10, renew_before=20)


# -- back-pressure ------------------------------------------------------------------------


def test_back_pressure_refuses_only_heavy_tenants_while_overloaded_with_hysteresis():
    bp = BackPressure(max_age=60, max_drain=300)
    calm = bp.signal(0, Backlog(oldest_age=10, depth=100, drain_rate=10), {"big": 0.9})
    assert not calm.overloaded
    assert check(calm, "big", "sdk", 0) is None
    hot = bp.signal(1, Backlog(oldest_age=90, depth=100, drain_rate=10), {"big": 0.9})
    assert hot.overloaded
    refusal = check(hot, "big", "http", 1)
    assert refusal is not None
    assert refusal.retry_after == pytest.approx(30)
    assert "90%" in refusal.reason
    assert check(hot, "small", "sdk", 1) is None
    assert check(hot, "big", "schedule", 1) is None  # never refused
    assert check(hot, "big", "event", 1) is None
    # Under the bound but above release: still overloaded (no flapping).
    assert bp.signal(2, Backlog(40, 100, 10), {"big": 0.9}).overloaded
    assert not bp.signal(3, Backlog(20, 100, 10), {"big": 0.9}).overloaded


def test_stale_or_missing_signal_fails_open_and_drain_time_counts():
    bp = BackPressure(max_age=60, max_drain=300)
    hot = bp.signal(0, Backlog(oldest_age=1, depth=10_000, drain_rate=1), {"big": 0.5})
    assert hot.overloaded
    assert hot.retry_after == 60  # capped
    assert check(hot, "big", "sdk", 31, max_staleness=30) is None
    assert check(None, "big", "sdk", 0) is None
    stalled = BackPressure().signal(0, Backlog(0, 5, 0.0), {})
    assert stalled.overloaded
    assert "unbounded" in stalled.reason


def test_signal_round_trips_and_rejects_garbage():
    signal = Signal(5.0, True, {"a": 0.5}, 3.0, "why")
    assert Signal.from_dict(signal.to_dict()) == signal
    for bad in ({"at": "x"}, {"at": 1, "heavy": [1]}, {"at": None}, {"at": float("nan")}):
        with pytest.raises(ValueError):
            Signal.from_dict(bad)


# -- several dispatchers ------------------------------------------------------------------


def test_rendezvous_assignment_is_total_exclusive_and_moves_little():
    lanes = [f"lane-{i}" for i in range(48)]
    three = ["d1", "d2", "d3"]
    owned = {m: desired_lanes(m, three, lanes) for m in three}
    assert sorted(lane for v in owned.values() for lane in v) == sorted(lanes)  # once each
    assert all(8 <= len(v) <= 24 for v in owned.values())
    two = ["d1", "d3"]  # d2 died: only its lanes move
    after = {m: desired_lanes(m, two, lanes) for m in two}
    for m in two:
        assert set(owned[m]) <= set(after[m])
    assert desired_lanes("solo", [], lanes) == lanes


def test_live_members_and_limit_share():
    assert live({"a": 10.0, "b": 5.0, "c": 10.5}, now=6.0) == ["a", "c"]
    assert share([["a"], ["a", "b", "c"]]) == pytest.approx(1 / 3)
    assert share([]) == 1.0
    assert owner_of("lane", []) is None


def test_topology_spreads_tenants_over_lanes_and_names_the_pool():
    from conveyor.errors import InvalidOption
    from conveyor.topology import Topology

    topology = Topology(prefix="mt", shards=8, spread=2, pool=3)
    lanes = topology.lanes_for("normal", "acme")
    assert len(set(lanes)) == 2
    assert set(lanes) <= set(topology.lanes_of("normal"))
    assert topology.lane_for("normal", "acme") == lanes[0]
    assert topology.pool_lanes == ("mt-pool-0", "mt-pool-1", "mt-pool-2")
    assert topology.lanes[-3:] == topology.pool_lanes
    assert Topology.from_env(topology.env()) == topology
    for bad in ({"spread": 0}, {"pool": -1}, {"pool": 65}, {"shards": True}):
        with pytest.raises(InvalidOption):
            Topology(prefix="mt", **bad)

"""GCRA rate limits: bursts, spacing, due times, the rate*W+burst bound."""

from __future__ import annotations

import random

import pytest

from conveyor.policy.rates import Gcra, RateLimits, RateSpec
from conveyor.sim.metrics import max_in_window


def test_a_full_bucket_lets_the_burst_through_then_spaces_by_the_rate():
    bucket = Gcra(RateSpec(rate=10.0, burst=5))
    taken = 0
    while bucket.due(0.0) <= 0.0:
        bucket.take(0.0)
        taken += 1
    assert taken == 5
    assert bucket.due(0.0) == pytest.approx(0.1)
    bucket.take(0.1)
    assert bucket.due(0.1) == pytest.approx(0.2)


def test_dispatches_never_exceed_rate_times_window_plus_burst():
    rng = random.Random(7)
    limits = RateLimits()
    spec = RateSpec(rate=4.0, burst=3)
    limits.set(("type", "t"), spec)
    keys = (("type", "t"),)
    now, times = 0.0, []
    while now < 120:
        due = limits.due(keys, now)
        if due <= now:
            limits.take(keys, now)
            times.append(now)
        now += rng.choice([0.0, 0.0, 0.01, 0.05, 0.1])  # bursts of attempts, short gaps
    for width in (0.5, 1.0, 10.0, 60.0):
        assert max_in_window(times, width) <= spec.rate * width + spec.burst
    # and the limit is not just idle: it let through most of what the rate allows
    assert len(times) >= 0.5 * spec.rate * 120


def test_due_with_messages_ahead_tells_when_the_last_one_may_go():
    limits = RateLimits()
    limits.set(("tenant", "a"), RateSpec(rate=2.0, burst=1))
    keys = (("tenant", "a"), ("type", "unlimited"))
    assert limits.due(keys, 10.0) == 10.0
    assert limits.due(keys, 10.0, (4, 99)) == pytest.approx(12.0)  # 4 ahead at 0.5 s each
    limits.take(keys, 10.0)
    assert limits.due(keys, 10.0) == pytest.approx(10.5)


def test_default_per_tenant_limit_and_pruning_of_full_buckets():
    limits = RateLimits()
    limits.set_default("tenant", RateSpec(rate=1.0, burst=1))
    for tenant in ("a", "b", "c"):
        limits.take((("tenant", tenant),), 0.0)
    assert limits.due((("tenant", "b"),), 0.0) == pytest.approx(1.0)
    assert limits.prune(0.5) == 0
    assert limits.prune(5.0) == 3
    assert limits.due((("tenant", "b"),), 5.0) == 5.0


@pytest.mark.parametrize(("rate", "burst"), [(0.0, 1.0), (-1.0, 1.0), (1.0, 0.5)])
def test_bad_specs_are_refused(rate, burst):
    with pytest.raises(ValueError):
        RateSpec(rate, burst)


def test_a_share_of_a_global_rate_is_enforced():
    limits = RateLimits()
    limits.set(("type", "t"), RateSpec(rate=30.0, burst=30))
    limits.scale(1 / 3)
    now, taken = 0.0, 0
    while now < 10.0:
        if limits.due((("type", "t"),), now) <= now:
            limits.take((("type", "t"),), now)
            taken += 1
        now += 0.001
    assert taken <= 10 * 10 + 10  # rate 10/s, burst 10: a third of the global
    assert taken >= 100
    with pytest.raises(ValueError):
        limits.scale(0)

"""The admission gate's and the scheduler's fast paths answer exactly as the general ones."""

from __future__ import annotations

import random
from collections.abc import Callable

import pytest

from conveyor.policy.rates import RateLimits, RateSpec
from conveyor.policy.wfq import TenantQueues


def _limits(share: float) -> RateLimits:
    limits = RateLimits()
    limits.set(("type", "report"), RateSpec(rate=20.0, burst=3))
    limits.set_default("tenant", RateSpec(rate=2.0, burst=2))
    limits.set(("tenant", "vip"), RateSpec(rate=50.0, burst=10))
    limits.scale(share)
    return limits


@pytest.mark.parametrize("share", [1.0, 0.5])
def test_due_for_and_take_for_match_due_and_take_on_the_same_keys(share: float) -> None:
    rng = random.Random(3)
    general, fast = _limits(share), _limits(share)
    now, taken, refused = 0.0, 0, 0
    for _ in range(3000):
        now += rng.expovariate(40.0)
        task_type = rng.choice(("report", "email"))  # "email" has no type limit
        tenant = rng.choice(("vip", "acme", "globex"))
        keys = (("type", task_type), ("tenant", tenant))
        due = general.due(keys, now)
        assert fast.due_for(task_type, tenant, now) == due
        if due <= now:
            general.take(keys, now)
            fast.take_for(task_type, tenant, now)
            taken += 1
        else:
            refused += 1
        if rng.random() < 0.01:
            assert fast.prune(now) == general.prune(now)
    assert taken > 100 and refused > 100  # both branches ran


def test_take_for_keeps_no_state_for_keys_nobody_limits() -> None:
    limits = RateLimits()
    limits.set(("type", "report"), RateSpec(rate=1.0, burst=1))
    limits.take_for("email", "acme", 0.0)
    assert limits.due_for("email", "acme", 0.0) == 0.0
    assert limits.prune(0.0) == 0  # nothing was kept
    limits.take_for("report", "acme", 0.0)
    assert limits.due_for("report", "acme", 0.0) == pytest.approx(1.0)
    assert limits.prune(5.0) == 1  # only the type's bucket


def test_add_with_a_known_tenant_serves_as_offer_does() -> None:
    rng = random.Random(5)
    weights = {"a": 1.0, "b": 2.0, "c": 0.5}
    by_offer: TenantQueues[tuple[str, int]] = TenantQueues(lambda x: x[0], weights.__getitem__)
    by_add: TenantQueues[tuple[str, int]] = TenantQueues(lambda x: x[0], weights.__getitem__)
    served_offer, served_add = [], []
    for i in range(2000):
        if rng.random() < 0.6:
            item = (rng.choice("abc"), i)
            by_offer.offer(item)
            by_add.add(item[0], item)
        else:
            cost = _fixed(rng.choice((0.1, 1.0, 5.0)))
            served_offer.append(by_offer.pop(cost))
            served_add.append(by_add.pop(cost))
    assert served_add == served_offer
    assert len(by_add) == len(by_offer) > 0


def _fixed(cost: float) -> Callable[[tuple[str, int]], float]:
    return lambda _item: cost

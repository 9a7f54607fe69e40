"""The fair scheduler: weighted shares in executor-seconds, priorities with minimum
shares and aging, eligibility, cost learning, and idle tenants that cost nothing."""

from __future__ import annotations

from collections import Counter

import pytest

from conveyor.policy.costs import CostModel
from conveyor.policy.fair import ClassPolicy, FairScheduler, Ticket


def _fill(
    s: FairScheduler,
    tenant: str,
    n: int,
    *,
    task_type: str = "t",
    priority: str = "normal",
    now: float = 0.0,
):
    for _ in range(n):
        s.offer(Ticket(task_type, tenant, priority), now)


def _serve(s: FairScheduler, n: int, now: float = 0.0, eligible=None) -> list[Ticket]:
    out = []
    for _ in range(n):
        t = s.next(now, eligible)
        if t is None:
            break
        out.append(t)
    return out


def test_weights_divide_dispatches_when_costs_are_equal():
    weights = {"a": 1.0, "b": 2.0, "c": 3.0}
    s = FairScheduler(weight_of=weights.__getitem__)
    for tenant in weights:
        _fill(s, tenant, 1000)
    counts = Counter(t.tenant for t in _serve(s, 600))
    assert counts == {"a": 100, "b": 200, "c": 300}


def test_a_tenant_whose_tasks_cost_ten_times_more_gets_ten_times_fewer():
    costs = CostModel({"short": 0.1, "long": 1.0})
    s = FairScheduler(costs=costs)
    _fill(s, "a", 2000, task_type="short")
    _fill(s, "b", 2000, task_type="long")
    served = _serve(s, 1100)
    counts = Counter(t.tenant for t in served)
    assert counts["a"] == pytest.approx(10 * counts["b"], rel=0.02)
    seconds = Counter()
    for t in served:
        seconds[t.tenant] += t.cost
    assert seconds["a"] == pytest.approx(seconds["b"], rel=0.02)


def test_run_times_longer_than_estimated_are_charged_back():
    s = FairScheduler(costs=CostModel({"t": 1.0}, alpha=0.0001))
    _fill(s, "a", 500)
    _fill(s, "b", 500)
    counts = Counter()
    for _ in range(300):
        t = s.next(0.0)
        counts[t.tenant] += 1
        s.on_outcome(t, 3.0 if t.tenant == "a" else 1.0)  # a's tasks run 3x longer
    assert counts["b"] == pytest.approx(3 * counts["a"], rel=0.05)


def test_a_throttled_attempt_is_refunded_and_teaches_no_cost():
    costs = CostModel({"t": 1.0})
    s = FairScheduler(costs=costs)
    _fill(s, "a", 500)
    _fill(s, "b", 500)
    ran = Counter()
    for i in range(400):
        t = s.next(0.0)
        if t.tenant == "a" and i % 2 == 0:  # half of a's attempts are throttled
            s.on_outcome(t, 0.02, throttled=True)
        else:
            s.on_outcome(t, 1.0)
            ran[t.tenant] += 1
    assert costs.estimate("t") == pytest.approx(1.0)
    # a is charged only for work done, so both get the same executor-seconds
    assert abs(ran["a"] - ran["b"]) <= 2
    assert ran["b"] >= 100


def test_an_idle_tenant_banks_no_credit_and_is_forgotten():
    s = FairScheduler()
    _fill(s, "busy", 100)
    _serve(s, 50)
    _fill(s, "late", 100)
    order = [t.tenant for t in _serve(s, 20)]
    assert order.count("late") == 10  # shares from now on, no catch-up burst
    big = FairScheduler()
    for i in range(5000):
        _fill(big, f"t{i}", 1)
    _serve(big, 5000)
    assert len(big.queues["normal"].flows) <= 1024 + 1


def test_high_goes_first_but_a_backlogged_low_class_gets_its_minimum_share():
    s = FairScheduler(policies={"low": ClassPolicy(min_share=0.05, aging=1e9)})
    _fill(s, "h", 5000, priority="high")
    _fill(s, "l", 5000, priority="low")
    served = _serve(s, 2000)
    low = sum(t.priority == "low" for t in served)
    assert 0.05 * 2000 <= low <= 0.05 * 2000 + 2
    # without a lower class waiting, high has it all
    only = FairScheduler()
    _fill(only, "h", 10, priority="high")
    _fill(only, "n", 10, priority="normal")
    assert [t.priority for t in _serve(only, 10)].count("high") >= 9


def test_aging_serves_the_oldest_lower_task_once_it_waited_the_bound():
    s = FairScheduler(policies={"low": ClassPolicy(min_share=0.0, aging=10.0)})
    _fill(s, "l", 1, priority="low", now=0.0)
    _fill(s, "h", 1000, priority="high", now=0.0)
    early = _serve(s, 50, now=5.0)
    assert all(t.priority == "high" for t in early)
    assert s.oldest_wait("low", 9.99) == pytest.approx(9.99)
    late = s.next(10.0)
    assert late is not None and late.priority == "low"
    assert s.oldest_wait("low", 10.0) == 0.0


def test_aging_share_caps_what_aging_may_take_from_higher_classes():
    s = FairScheduler(policies={"low": ClassPolicy(min_share=0.0, aging=1.0, aging_share=0.1)})
    _fill(s, "h", 5000, priority="high")
    _fill(s, "l", 5000, priority="low")
    served = _serve(s, 2000, now=100.0)  # every low task is over its aging bound
    low = sum(t.priority == "low" for t in served)
    assert 0.1 * 2000 - 2 <= low <= 0.1 * 2000 + 6


def test_ineligible_tickets_are_skipped_and_kept():
    s = FairScheduler()
    _fill(s, "a", 3, task_type="blocked")
    _fill(s, "b", 3, task_type="free")
    got = _serve(s, 10, eligible=lambda t: t.task_type != "blocked")
    assert [t.tenant for t in got] == ["b", "b", "b"]
    assert len(s) == 3
    assert [t.tenant for t in _serve(s, 10)] == ["a", "a", "a"]


def test_same_offers_same_decisions():
    def run() -> list[str]:
        s = FairScheduler(weight_of=lambda t: 1.0 + (hash(t) % 3 if False else len(t) % 3))
        for i in range(300):
            s.offer(Ticket("t", f"x{i % 17}", ("high", "normal", "low")[i % 3]), i * 0.01)
        return [f"{t.tenant}/{t.priority}" for t in _serve(s, 300, now=5.0)]

    assert run() == run()


def test_bad_configuration_is_refused():
    with pytest.raises(ValueError):
        FairScheduler(policies={"urgent": ClassPolicy()})
    with pytest.raises(ValueError):
        FairScheduler(policies={"normal": ClassPolicy(0.6), "low": ClassPolicy(0.5)})
    with pytest.raises(ValueError):
        ClassPolicy(aging=0)
    s = FairScheduler(weight_of=lambda t: 0.0)
    with pytest.raises(ValueError):
        s.offer(Ticket("t", "a", "normal"), 0.0)
    with pytest.raises(ValueError):
        FairScheduler().offer(Ticket("t", "a", "urgent"), 0.0)


def test_cost_model_learns_toward_observed_run_times():
    costs = CostModel({"t": 10.0}, alpha=0.5)
    for _ in range(20):
        costs.observe("t", 2.0)
    assert costs.estimate("t") == pytest.approx(2.0, abs=0.01)
    assert costs.estimate("unknown") == 1.0
    costs.observe("t", -5)
    assert costs.estimate("t") >= costs.floor

"""The admission gate: every layer of limits, with when-due for rates, and outcomes
fed to AIMD windows; the look-ahead's sidelining."""

from __future__ import annotations

import random

import pytest

from conveyor.policy.aimd import AimdSpec
from conveyor.policy.fair import Ticket
from conveyor.policy.limits import AdmissionGate, Block
from conveyor.policy.lookahead import Lookahead
from conveyor.policy.rates import RateLimits, RateSpec


def _t(task_type="t", tenant="a", priority="normal") -> Ticket:
    return Ticket(task_type, tenant, priority)


def _fill(gate: AdmissionGate, ticket: Ticket, now: float = 0.0) -> int:
    n = 0
    while gate.check(ticket, now) is None and n < 1000:
        gate.acquire(ticket, now)
        n += 1
    return n


def test_global_cap_type_class_and_tenant_quotas():
    gate = AdmissionGate(max_in_flight=10, type_quota={"t": 4}, class_quota={"low": 2})
    assert _fill(gate, _t()) == 4
    assert gate.check(_t(), 0) == Block("type-quota")
    assert _fill(gate, _t("u", priority="low")) == 2
    assert gate.check(_t("u", priority="low"), 0) == Block("class-quota")
    assert _fill(gate, _t("v")) == 4
    assert gate.check(_t("w"), 0) == Block("pool")
    gate.release(_t(), 1.0, throttled=False, backlogged=False)
    assert gate.check(_t(), 1.0) is None


def test_tenant_share_of_the_pool_and_own_tenant_quotas():
    own = {"vip": 9, "small": 1}
    gate = AdmissionGate(max_in_flight=10, tenant_share=0.5, tenant_quota=own.get)
    assert _fill(gate, _t(tenant="anyone")) == 5
    assert gate.check(_t(tenant="anyone"), 0) == Block("tenant-quota")
    assert _fill(gate, _t(tenant="small")) == 1
    assert _fill(gate, _t(tenant="vip")) == 4  # the pool (10) ends it before its 9


def test_rate_limits_say_when_the_tokens_are_due():
    rates = RateLimits()
    rates.set(("type", "t"), RateSpec(rate=2.0, burst=2))
    rates.set(("tenant", "a"), RateSpec(rate=1.0, burst=1))
    gate = AdmissionGate(max_in_flight=100, rates=rates)
    gate.acquire(_t(tenant="b"), 0.0)
    gate.acquire(_t(tenant="c"), 0.0)
    block = gate.check(_t(tenant="d"), 0.0)
    assert block == Block("rate", pytest.approx(0.5))
    gate.acquire(_t("other", tenant="a"), 0.0)
    assert gate.check(_t("other", tenant="a"), 0.2) == Block("rate", pytest.approx(1.0))


def test_windows_per_target_are_shared_by_the_types_calling_one_resource():
    gate = AdmissionGate(
        max_in_flight=100,
        target_of={"charge": "payments", "refund": "payments"},
        windows={
            "payments": AimdSpec(
                initial=3,
                minimum=1,
                maximum=3,
                min_throttles=1,
                throttle_ratio=0.0,
                pause=0.0,
                slow_start=False,
            )
        },
    )
    gate.acquire(_t("charge"), 0.0)
    gate.acquire(_t("refund"), 0.0)
    gate.acquire(_t("charge"), 0.0)
    assert gate.check(_t("refund"), 0.0) == Block("window")
    assert gate.check(_t("other"), 0.0) is None
    gate.release(_t("charge"), 1.0, throttled=True, backlogged=True)
    assert gate.windows["payments"].limit == 2
    assert gate.check(_t("refund"), 1.0) == Block("window")  # 2 out, limit 2


def test_gate_refuses_bad_settings():
    with pytest.raises(ValueError):
        AdmissionGate(max_in_flight=0)
    with pytest.raises(ValueError):
        AdmissionGate(max_in_flight=1, tenant_share=1.5)


def test_lookahead_holds_up_to_its_bounds_then_sidelines_with_backoff():
    look = Lookahead(per_tenant=2, total=5, base=1.0, cap=8.0)
    rng = random.Random(3)
    assert look.hide_for(1, 4, 1, rng) is None
    first = look.hide_for(2, 4, 1, rng)
    assert first is not None and 1.0 <= first <= 1.5
    later = look.hide_for(0, 5, 3, rng)
    assert later is not None and 4.0 <= later <= 6.0
    assert look.hide_for(9, 9, 40, rng) == 8.0
    with pytest.raises(ValueError):
        Lookahead(per_tenant=10, total=5)

"""Catalog declarations for the scheduler (tenants, priority shares, resource, burst),
validated at import, and the brain built from them."""

from __future__ import annotations

import pytest

from conveyor import Catalog, CatalogError
from conveyor.durations import Rate
from conveyor.policy.brain import build_brain
from conveyor.policy.fair import Ticket
from conveyor.policy.limits import Block


def _catalog() -> Catalog:
    catalog = Catalog("shares")

    def handler(payload, ctx):
        return payload

    catalog.task(name="charge", resource="payments-api", concurrency=8, rate_limit="20/s")(handler)
    catalog.task(name="refund", resource="payments-api", burst=3, rate_limit="2/s")(handler)
    catalog.task(name="report", executor="fargate", timeout=3600, concurrency=2)(handler)
    catalog.tenant("acme", weight=3, concurrency=5, rate_limit="10/s", burst=4)
    catalog.priority("low", min_share=0.1, aging="2m")
    return catalog


def test_declarations_are_typed_with_defaults():
    catalog = _catalog()
    charge, refund = catalog.get("charge"), catalog.get("refund")
    assert charge.resource == refund.resource == "payments-api"
    assert charge.burst == 20.0  # one second's worth by default
    assert refund.burst == 3.0
    acme = catalog.tenant_of("acme")
    assert (acme.weight, acme.concurrency, acme.rate_limit, acme.burst) == (
        3.0,
        5,
        Rate(10, 1),
        4.0,
    )
    assert catalog.tenant_of("someone").weight == 1.0
    (low,) = catalog.priorities
    assert (low.name, low.min_share, low.aging, low.aging_share) == ("low", 0.1, 120.0, 0.25)


@pytest.mark.parametrize(
    ("declare", "message"),
    [
        (lambda c: c.tenant("acme", weight=0), "'weight'"),
        (lambda c: c.tenant("acme", weight=True), "'weight'"),
        (lambda c: c.tenant("acme", concurrency=0), "'concurrency'"),
        (lambda c: c.tenant("acme", rate_limit="fast"), "'rate_limit'"),
        (lambda c: c.tenant("acme", burst=5), "'burst'"),
        (lambda c: c.tenant("acme", rate_limit="1/s", burst=0.5), "'burst'"),
        (lambda c: c.tenant("bad tenant!"), "'name'"),
        (lambda c: c.tenant("acme", colour="red"), "'colour'"),
        (lambda c: c.priority("high"), "'name'"),
        (lambda c: c.priority("low", min_share=1.0), "'min_share'"),
        (lambda c: c.priority("low", aging="soon"), "'aging'"),
        (lambda c: c.priority("low", aging_share=-0.1), "'aging_share'"),
    ],
)
def test_bad_declarations_raise_catalog_error_naming_the_field(declare, message):
    catalog = Catalog("bad")
    with pytest.raises(CatalogError, match=message):
        declare(catalog)
    assert not catalog.tenants and not catalog.priorities  # nothing recorded


def test_minimum_shares_must_leave_room_and_tenants_are_declared_once():
    catalog = Catalog("x")
    catalog.priority("normal", min_share=0.6)
    with pytest.raises(CatalogError, match="add up"):
        catalog.priority("low", min_share=0.4)
    catalog.tenant("a", weight=2)
    catalog.tenant("a", weight=2)  # the same again is fine (module re-import)
    with pytest.raises(CatalogError, match="declared twice"):
        catalog.tenant("a", weight=3)


@pytest.mark.parametrize(
    ("opts", "field"),
    [
        ({"resource": "Payments API"}, "resource"),
        ({"burst": 2}, "burst"),
        ({"resource": 7}, "resource"),
    ],
)
def test_bad_task_options_are_refused(opts, field):
    catalog = Catalog("t")
    with pytest.raises(CatalogError, match=f"'{field}'"):
        catalog.task(name="job", **opts)(lambda payload, ctx: None)
    assert "job" not in catalog


def test_the_brain_carries_the_catalogs_weights_limits_and_shared_windows():
    brain = build_brain(_catalog(), max_in_flight=50)
    gate, scheduler = brain.gate, brain.scheduler
    # one window for the shared resource, bounded by the smallest quota calling it
    assert set(gate.windows) == {"payments-api", "report"}
    assert gate.windows["payments-api"].limit == 8
    assert "report" not in gate.type_quota  # Fargate: the worker count is the quota
    for _ in range(3):
        gate.acquire(Ticket("refund", "t", "normal"), 0.0)
    assert gate.check(Ticket("refund", "u", "normal"), 0.0) == Block("rate", pytest.approx(0.5))
    for _ in range(4):
        gate.acquire(Ticket("charge", "acme", "normal"), 0.0)
    block = gate.check(Ticket("charge", "acme", "normal"), 0.0)
    assert block is not None and block.reason == "rate"  # acme's burst of 4 is spent
    assert gate.tenant_limit("acme") == 5
    assert scheduler.policies["low"].aging == 120.0
    for i in range(40):
        scheduler.offer(Ticket("charge", "acme" if i % 2 else "other", "normal"), 0.0)
    served = [scheduler.next(0.0).tenant for _ in range(8)]
    assert served.count("acme") == 6  # weight 3 against 1

"""The dispatcher's brain built from a catalog: one ``FairScheduler``, one
``AdmissionGate`` and the ``Lookahead`` bounds, as the dispatcher (and a simulation of
it) uses them.

From the catalog: tenant weights, concurrency and rate limits (``catalog.tenant``);
lower classes' minimum shares and aging (``catalog.priority``); per type its
``rate_limit``/``burst``, its ``concurrency`` quota (Lambda types; a Fargate type's quota
is its worker count) and its ``resource``. Every executor target (a resource, else the
type) gets an AIMD window that starts open at its bound (the smallest quota of the types
that call it, else the dispatcher's in-flight cap) and shrinks only on throttles.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace

from ..catalog import Catalog
from ..shares import default_burst
from .aimd import AimdSpec
from .costs import CostModel
from .fair import ClassPolicy, FairScheduler
from .limits import AdmissionGate
from .lookahead import Lookahead
from .rates import RateLimits, RateSpec


@dataclass
class Brain:
    scheduler: FairScheduler
    gate: AdmissionGate
    lookahead: Lookahead


def build_brain(
    catalog: Catalog,
    *,
    max_in_flight: int,
    tenant_share: float | None = None,
    aimd: AimdSpec | None = None,
    windows: Mapping[str, AimdSpec] | None = None,
    lookahead: Lookahead | None = None,
) -> Brain:
    """``aimd`` is the template for every target's window; ``windows`` overrides by
    target name."""
    rates = RateLimits()
    for t in catalog:
        if t.rate_limit is not None:
            burst = t.burst or default_burst(t.rate_limit)
            rates.set(("type", t.name), RateSpec(t.rate_limit.per_second, burst))
    for tenant in catalog.tenants:
        if tenant.rate_limit is not None:
            burst = tenant.burst or default_burst(tenant.rate_limit)
            rates.set(("tenant", tenant.name), RateSpec(tenant.rate_limit.per_second, burst))
    quotas = {
        t.name: t.concurrency
        for t in catalog
        if t.concurrency is not None and t.executor == "lambda"
    }
    target_of = {t.name: t.resource for t in catalog if t.resource}
    bounds: dict[str, int] = {}
    for t in catalog:
        target = t.resource or t.name
        bound = min(quotas.get(t.name, max_in_flight), max_in_flight)
        bounds[target] = min(bounds.get(target, bound), bound)
    template = aimd or AimdSpec()
    specs = {
        target: replace(
            template, initial=bound, maximum=bound, minimum=min(template.minimum, bound)
        )
        for target, bound in bounds.items()
    }
    specs.update(windows or {})
    gate = AdmissionGate(
        max_in_flight=max_in_flight,
        type_quota=quotas,
        tenant_quota=lambda name: catalog.tenant_of(name).concurrency,
        tenant_share=tenant_share,
        target_of=target_of,
        windows=specs,
        rates=rates,
    )
    scheduler = FairScheduler(
        policies={
            p.name: ClassPolicy(p.min_share, p.aging, p.aging_share) for p in catalog.priorities
        },
        weight_of=lambda name: catalog.tenant_of(name).weight,
        costs=CostModel(),
    )
    return Brain(scheduler, gate, lookahead or Lookahead())

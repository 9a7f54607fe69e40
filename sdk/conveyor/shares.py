"""Tenant and priority-class declarations: the catalog's say in how the pool is shared.

```python
catalog.tenant("acme", weight=3, concurrency=40, rate_limit="200/s", burst=50)
catalog.priority("low", min_share=0.05, aging="60s")
```

They live in the catalog (not in a table record) because the catalog already is the one
declaration that deploys with the code: no extra DynamoDB read per decision or cache to
keep fresh, reviewed like code, and the simulator reads the same values. The price is a
deploy to change a weight. Tenants not declared get weight 1 and no limits of their own.
Every value is validated at import (``CatalogError`` naming the tenant or class and field).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from .durations import DurationError, Rate, parse_duration, parse_rate
from .errors import CatalogError, ValidationError
from .ids import validate_tenant
from .model import PRIORITIES


@dataclass(frozen=True, slots=True)
class Tenant:
    """One tenant's share and limits.

    Attributes:
        name: the tenant ID tasks are submitted with.
        weight: its share of executor-seconds against other backlogged tenants of the
            same priority class (> 0; 2 gets twice what 1 gets).
        concurrency: at most this many of its tasks in flight at once (>= 1), or None.
        rate_limit: at most this many dispatches of its tasks, e.g. ``"100/s"``, or None.
        burst: tasks it may start at once under ``rate_limit`` (>= 1; default one
            second's worth).
    """

    name: str
    weight: float = 1.0
    concurrency: int | None = None
    rate_limit: Rate | None = None
    burst: float | None = None


@dataclass(frozen=True, slots=True)
class PriorityShare:
    """What a lower priority class is guaranteed while higher classes have work.

    Attributes:
        name: ``normal`` or ``low`` (``high`` goes first and needs no guarantee).
        min_share: fraction of executor-seconds it gets at least while backlogged.
        aging: seconds after which its oldest task goes before higher classes.
        aging_share: most of the pool aging may give it beyond ``min_share``.
    """

    name: str
    min_share: float = 0.05
    aging: float = 30.0
    aging_share: float = 0.25


def default_burst(rate: Rate) -> float:
    """One second's worth of ``rate``, at least 1."""
    return max(1.0, float(math.floor(rate.per_second)))


def _fail(what: str, fld: str, why: str) -> CatalogError:
    return CatalogError(f"{what}: field {fld!r}: {why}")


def _fraction(what: str, fld: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < 1:
        raise _fail(what, fld, f"must be a fraction in [0, 1), got {value!r}")
    return float(value)


def build_tenant(name: object, **opts: Any) -> Tenant:
    try:
        tenant = validate_tenant(name)
    except ValidationError as exc:
        raise CatalogError(f"tenant {name!r}: field 'name': {exc}") from None
    what = f"tenant {tenant!r}"
    unknown = set(opts) - {"weight", "concurrency", "rate_limit", "burst"}
    if unknown:
        raise _fail(what, sorted(unknown)[0], "unknown option")
    weight = opts.get("weight", 1.0)
    if isinstance(weight, bool) or not isinstance(weight, (int, float)) or not weight > 0:
        raise _fail(what, "weight", f"must be a number > 0, got {weight!r}")
    if not math.isfinite(weight):
        raise _fail(what, "weight", "must be finite")
    concurrency = opts.get("concurrency")
    if concurrency is not None and (
        isinstance(concurrency, bool) or not isinstance(concurrency, int) or concurrency < 1
    ):
        raise _fail(what, "concurrency", f"must be a whole number >= 1, got {concurrency!r}")
    rate, burst = rate_and_burst(what, opts.get("rate_limit"), opts.get("burst"))
    return Tenant(tenant, float(weight), concurrency, rate, burst)


def rate_and_burst(what: str, rate: object, burst: object) -> tuple[Rate | None, float | None]:
    """Validate a ``rate_limit`` and its ``burst`` (shared by task types and tenants)."""
    if rate is None:
        if burst is not None:
            raise _fail(what, "burst", "needs a rate_limit")
        return None, None
    try:
        parsed = parse_rate(rate)
    except DurationError as exc:
        raise _fail(what, "rate_limit", str(exc)) from None
    if burst is None:
        return parsed, default_burst(parsed)
    if isinstance(burst, bool) or not isinstance(burst, (int, float)) or not burst >= 1:
        raise _fail(what, "burst", f"must be a number >= 1, got {burst!r}")
    return parsed, float(burst)


def build_priority(name: object, **opts: Any) -> PriorityShare:
    what = f"priority {name!r}"
    lower = PRIORITIES[1:]
    if name not in lower:
        raise _fail(what, "name", f"must be one of {lower} (the top class needs no share)")
    unknown = set(opts) - {"min_share", "aging", "aging_share"}
    if unknown:
        raise _fail(what, sorted(unknown)[0], "unknown option")
    min_share = _fraction(what, "min_share", opts.get("min_share", 0.05))
    aging_share = _fraction(what, "aging_share", opts.get("aging_share", 0.25))
    try:
        aging = parse_duration(opts.get("aging", 30.0))
    except DurationError as exc:
        raise _fail(what, "aging", str(exc)) from None
    return PriorityShare(str(name), min_share, aging, aging_share)

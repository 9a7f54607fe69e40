"""AWS list prices (us-east-1, on demand, late 2026) and the dollars a workload costs.

One table, so prices can be updated in one place. Units are those ``RequestCounter``
counts. Free tiers are ignored.
"""

from __future__ import annotations

from collections.abc import Mapping

#: unit -> USD per one unit.
PRICES: dict[str, float] = {
    "sqs_requests": 0.40 / 1e6,
    "ddb_wru": 0.625 / 1e6,
    "ddb_rru": 0.125 / 1e6,
    "scheduler": 1.00 / 1e6,
    "events": 1.00 / 1e6,
    "lambda_requests": 0.20 / 1e6,
    "s3_put": 5.00 / 1e6,
    "s3_get": 0.40 / 1e6,
    "cloudwatch_put": 10.00 / 1e6,
}
LAMBDA_GB_SECOND = 0.0000166667
FARGATE_VCPU_HOUR = 0.04048
FARGATE_GB_HOUR = 0.004445


def dollars(units: Mapping[str, float]) -> float:
    """USD for the given billable units; unknown units cost nothing (and are listed)."""
    return sum(PRICES.get(name, 0.0) * amount for name, amount in units.items())


def per_million(units: Mapping[str, float], tasks: int) -> float:
    """USD per one million tasks, given the units ``tasks`` tasks consumed."""
    return dollars(units) / tasks * 1e6 if tasks else 0.0


def idle_monthly(
    *,
    alarm_metrics: int,
    dashboards: int = 1,
    dispatcher_always_on: bool = False,
    dispatcher_vcpu: float = 0.25,
    dispatcher_gb: float = 0.5,
) -> float:
    """USD per 30-day month for a deployment with no traffic: alarms ($0.10 per metric an
    alarm evaluates), dashboards ($3 each; the first three per account are free, ignored
    here), and the dispatcher task only if it does not scale to zero."""
    hours = 24 * 30
    dispatcher = hours * (dispatcher_vcpu * FARGATE_VCPU_HOUR + dispatcher_gb * FARGATE_GB_HOUR)
    return (dispatcher if dispatcher_always_on else 0.0) + 0.10 * alarm_metrics + 3.0 * dashboards

"""Dollars per tenant or per task type, from attributed AWS units, at list prices. Pure.

The input is what ``AttributingCounter`` attributed (``{(tenant, type): {unit: amount}}``,
``PLATFORM`` included). Each row shows the requests and dollars its tasks' requests cost;
the platform's own requests (polls, depth reads, repairs) are a row of their own and are
also spread over the rows in proportion to their dollars (``with_platform``), so the rows'
``with_platform`` add up to the whole bill.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass

from .aws.attribution import PLATFORM, Key
from .cost import dollars
from .errors import InvalidOption

BY = ("tenant", "type")


@dataclass(frozen=True, slots=True)
class CostRow:
    name: str
    requests: float
    units: dict[str, float]
    #: USD of the requests made for this row's tasks.
    dollars: float
    #: USD including its share of the platform's own requests.
    with_platform: float


def cost_rows(attributed: Mapping[Key, Mapping[str, float]], by: str) -> list[CostRow]:
    """Rows by ``by`` (tenant | type), most expensive first, then the platform's row."""
    if by not in BY:
        raise InvalidOption(f"--by must be one of {', '.join(BY)}, got {by!r}")
    grouped: defaultdict[str, defaultdict[str, float]] = defaultdict(lambda: defaultdict(float))
    for (tenant, task_type), units in attributed.items():
        if (tenant, task_type) == PLATFORM:
            continue
        name = tenant if by == "tenant" else task_type
        for unit, amount in units.items():
            grouped[name][unit] += amount
    platform = dict(attributed.get(PLATFORM, {}))
    overhead = dollars(_billed(platform))
    spent = {name: dollars(_billed(units)) for name, units in grouped.items()}
    total = sum(spent.values())
    rows = [
        CostRow(
            name,
            units.get("requests", 0.0),
            _billed(units),
            spent[name],
            spent[name] + (overhead * spent[name] / total if total else 0.0),
        )
        for name, units in grouped.items()
    ]
    rows.sort(key=lambda r: (-r.dollars, r.name))
    if platform:
        share = 0.0 if total else overhead
        rows.append(
            CostRow(PLATFORM[0], platform.get("requests", 0.0), _billed(platform), overhead, share)
        )
    return rows


def _billed(units: Mapping[str, float]) -> dict[str, float]:
    return {k: v for k, v in units.items() if k != "requests"}


def total_dollars(rows: list[CostRow]) -> float:
    return sum(r.dollars for r in rows)

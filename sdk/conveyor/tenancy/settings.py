"""The dispatcher's multi-tenant rhythm and thresholds, from the service's environment.

Every field is in seconds; the defaults are the deployed ones. A deployment (or a test
that wants leases and the pool on a compressed clock) sets any of:

=============================  =========  ==============================================
variable                       default    meaning
=============================  =========  ==============================================
``CONVEYOR_LEASE_SECONDS``     30         how long a lane lease (and a heartbeat) lasts
``CONVEYOR_LEASE_HEARTBEAT``   10         how often leases and the heartbeat are renewed
``CONVEYOR_SUPERVISE_SECONDS`` 2          supervisor period (signal, depths, the pool)
``CONVEYOR_HEAVY_WINDOW``      5          Sample-and-Hold window
``CONVEYOR_POOL_HOT_SECONDS``  5          heavy this long in a row: split to a pool lane
``CONVEYOR_POOL_COOL_SECONDS`` 60         not heavy this long: merged back
``CONVEYOR_BACKLOG_MAX_AGE``   120        oldest task older than this: overloaded
=============================  =========  ==============================================

A dead dispatcher's lanes are taken over within ``lease + heartbeat`` seconds. The lease
margin (how long before expiry a member stops pulling) is ``min(5, lease / 6)``.
A value that is not a positive number, or a heartbeat that does not fit inside the
lease, is an ``InvalidOption`` naming the variable: the service refuses to start.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, fields

from ..errors import InvalidOption

_ENV = {
    "lease": "CONVEYOR_LEASE_SECONDS",
    "heartbeat": "CONVEYOR_LEASE_HEARTBEAT",
    "supervise": "CONVEYOR_SUPERVISE_SECONDS",
    "heavy_window": "CONVEYOR_HEAVY_WINDOW",
    "hot_for": "CONVEYOR_POOL_HOT_SECONDS",
    "cool_for": "CONVEYOR_POOL_COOL_SECONDS",
    "max_age": "CONVEYOR_BACKLOG_MAX_AGE",
}


@dataclass(frozen=True, slots=True)
class TenancySettings:
    """Seconds, all positive; ``heartbeat < lease - margin`` and ``hot_for < cool_for``."""

    lease: float = 30.0
    heartbeat: float = 10.0
    supervise: float = 2.0
    heavy_window: float = 5.0
    hot_for: float = 5.0
    cool_for: float = 60.0
    max_age: float = 120.0

    def __post_init__(self) -> None:
        if not 0 < self.heartbeat < self.lease - self.margin:
            raise InvalidOption(
                f"{_ENV['heartbeat']} ({self.heartbeat:g}) must be under "
                f"{_ENV['lease']} ({self.lease:g}) minus the margin ({self.margin:g})"
            )
        if not self.hot_for < self.cool_for:
            raise InvalidOption(f"{_ENV['hot_for']} must be under {_ENV['cool_for']}")

    @property
    def margin(self) -> float:
        """Seconds before a lease's expiry at which its holder stops pulling the lane."""
        return min(5.0, self.lease / 6)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> TenancySettings:
        env = os.environ if environ is None else environ
        values: dict[str, float] = {}
        for f in fields(cls):
            raw = env.get(_ENV[f.name], "").strip()
            if not raw:
                continue
            try:
                value = float(raw)
            except ValueError:
                value = float("nan")
            if not value > 0 or value == float("inf"):
                raise InvalidOption(f"{_ENV[f.name]} must be a positive number, got {raw!r}")
            values[f.name] = value
        return cls(**values)


__all__ = ["TenancySettings"]

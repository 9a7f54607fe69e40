"""Names of every resource a deployment has, derived from a prefix and the catalog.

The CDK stack and the dev cloud both read this one place, so the local and the deployed
topologies cannot drift. Pure.

Lanes are standard SQS queues, ``shards`` per priority class:
``{prefix}-lane-{priority}-{shard}``. Each tenant owns ``spread`` of a class's lanes by
shuffle sharding (``policy.sharding``) and a task goes to the shorter of them. ``pool``
spare lanes, ``{prefix}-pool-{i}``, are lent to heavy tenants by the dynamic pool
(``policy.pool``); they hold every priority of the one tenant routed to them. Fargate
task types also get a work queue each, ``{prefix}-work-{type}``, that the dispatcher
feeds and the workers drain. Everything dead-letters into one ``{prefix}-dlq``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass

from .errors import InvalidOption
from .model import PRIORITIES
from .policy.sharding import ShuffleSharder

PREFIX_RE = re.compile(r"\A[a-z][a-z0-9-]{1,30}\Z")


@dataclass(frozen=True, slots=True)
class Topology:
    """Resource names for one deployment (stage). ``shards`` lanes per priority (>= 1),
    ``spread`` of them per tenant (capped at ``shards``), ``pool`` spare lanes (>= 0)."""

    prefix: str = "conveyor"
    shards: int = 1
    bucket_name: str | None = None
    spread: int = 2
    pool: int = 0

    def __post_init__(self) -> None:
        if not PREFIX_RE.match(self.prefix):
            raise InvalidOption(
                f"prefix {self.prefix!r} must be 2-31 characters of [a-z0-9-], starting "
                "with a letter"
            )
        for name, least in (("shards", 1), ("spread", 1), ("pool", 0)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < least:
                raise InvalidOption(f"{name} must be a whole number >= {least}, got {value!r}")
        if self.pool > 64:
            raise InvalidOption(f"pool must be at most 64 lanes, got {self.pool}")

    @property
    def table(self) -> str:
        return f"{self.prefix}-tasks"

    @property
    def bucket(self) -> str:
        return self.bucket_name or f"{self.prefix}-payloads"

    @property
    def dlq(self) -> str:
        return f"{self.prefix}-dlq"

    @property
    def event_bus(self) -> str:
        return f"{self.prefix}-events"

    @property
    def schedule_group(self) -> str:
        return self.prefix

    def lane(self, priority: str, shard: int) -> str:
        return f"{self.prefix}-lane-{priority}-{shard}"

    @property
    def multi_tenant(self) -> bool:
        """Lanes to choose between (shards or a pool): producers then route with the
        control plane and honour back-pressure."""
        return self.shards > 1 or self.pool > 0

    @property
    def pool_lanes(self) -> tuple[str, ...]:
        return tuple(f"{self.prefix}-pool-{i}" for i in range(self.pool))

    @property
    def lanes(self) -> tuple[str, ...]:
        """Every lane the dispatcher serves: the priority lanes, then the pool's."""
        shared = tuple(self.lane(p, s) for p in PRIORITIES for s in range(self.shards))
        return shared + self.pool_lanes

    @property
    def sharder(self) -> ShuffleSharder:
        return ShuffleSharder(self.shards, self.spread, salt=self.prefix)

    def lanes_of(self, priority: str) -> tuple[str, ...]:
        return tuple(self.lane(priority, s) for s in range(self.shards))

    def shard_of(self, tenant: str) -> int:
        """The tenant's preferred shard (the first of its shuffle-shard set)."""
        return self.sharder.shard_set(tenant)[0]

    def lanes_for(self, priority: str, tenant: str) -> tuple[str, ...]:
        """The tenant's ``spread`` lanes of a class, in its order of preference."""
        return tuple(self.lane(priority, s) for s in self.sharder.shard_set(tenant))

    def lane_for(self, priority: str, tenant: str) -> str:
        """The tenant's preferred lane (for static targets: schedules, triggers)."""
        return self.lane(priority, self.shard_of(tenant))

    def work_queue(self, task_type: str) -> str:
        return f"{self.prefix}-work-{task_type}"

    def env(self) -> dict[str, str]:
        """The environment variables that make ``from_env`` rebuild this topology."""
        out = {
            "CONVEYOR_PREFIX": self.prefix,
            "CONVEYOR_SHARDS": str(self.shards),
            "CONVEYOR_SPREAD": str(self.spread),
            "CONVEYOR_POOL": str(self.pool),
        }
        if self.bucket_name:
            out["CONVEYOR_BUCKET"] = self.bucket_name
        return out

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Topology:
        env = os.environ if environ is None else environ
        return cls(
            prefix=env.get("CONVEYOR_PREFIX", "conveyor"),
            shards=int(env.get("CONVEYOR_SHARDS", "1")),
            spread=int(env.get("CONVEYOR_SPREAD", "2")),
            pool=int(env.get("CONVEYOR_POOL", "0")),
            bucket_name=env.get("CONVEYOR_BUCKET") or None,
        )

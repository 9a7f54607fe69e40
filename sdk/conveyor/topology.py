"""Names of every resource a deployment has, derived from a prefix and the catalog.

The CDK stack and the dev cloud both read this one place, so the local and the deployed
topologies cannot drift. Pure.

Lanes are standard SQS queues, one per priority class and shard:
``{prefix}-lane-{priority}-{shard}``. Fargate task types also get a work queue each,
``{prefix}-work-{type}``, that the dispatcher feeds and the workers drain. Everything
dead-letters into one ``{prefix}-dlq``.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass

from .errors import InvalidOption
from .model import PRIORITIES

PREFIX_RE = re.compile(r"\A[a-z][a-z0-9-]{1,30}\Z")


@dataclass(frozen=True, slots=True)
class Topology:
    """Resource names for one deployment (stage). ``shards`` lanes per priority (>= 1)."""

    prefix: str = "conveyor"
    shards: int = 1
    bucket_name: str | None = None

    def __post_init__(self) -> None:
        if not PREFIX_RE.match(self.prefix):
            raise InvalidOption(
                f"prefix {self.prefix!r} must be 2-31 characters of [a-z0-9-], starting "
                "with a letter"
            )
        if isinstance(self.shards, bool) or not isinstance(self.shards, int) or self.shards < 1:
            raise InvalidOption(f"shards must be a whole number >= 1, got {self.shards!r}")

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
    def lanes(self) -> tuple[str, ...]:
        return tuple(self.lane(p, s) for p in PRIORITIES for s in range(self.shards))

    def lanes_of(self, priority: str) -> tuple[str, ...]:
        return tuple(self.lane(priority, s) for s in range(self.shards))

    def shard_of(self, tenant: str) -> int:
        """Stable shard of a tenant (SHA-256, so every process agrees)."""
        if self.shards == 1:
            return 0
        digest = hashlib.sha256(tenant.encode()).digest()
        return int.from_bytes(digest[:8], "big") % self.shards

    def lane_for(self, priority: str, tenant: str) -> str:
        return self.lane(priority, self.shard_of(tenant))

    def work_queue(self, task_type: str) -> str:
        return f"{self.prefix}-work-{task_type}"

    def env(self) -> dict[str, str]:
        """The environment variables that make ``from_env`` rebuild this topology."""
        out = {"CONVEYOR_PREFIX": self.prefix, "CONVEYOR_SHARDS": str(self.shards)}
        if self.bucket_name:
            out["CONVEYOR_BUCKET"] = self.bucket_name
        return out

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Topology:
        env = os.environ if environ is None else environ
        return cls(
            prefix=env.get("CONVEYOR_PREFIX", "conveyor"),
            shards=int(env.get("CONVEYOR_SHARDS", "1")),
            bucket_name=env.get("CONVEYOR_BUCKET") or None,
        )

"""Which lane a new task goes to.

A tenant with an active route of the dynamic pool goes to its dedicated lane; any other
goes to the shorter of its ``spread`` shuffle-shard lanes of the task's priority class,
judged from the depths the dispatchers publish (``CachedControl``). With no control
plane (or no depths yet), the tenant's first preference: a deterministic lane.
"""

from __future__ import annotations

from ..ports import Clock
from ..topology import Topology
from .cache import CachedControl


class LaneRouter:
    def __init__(self, topology: Topology, cache: CachedControl | None, clock: Clock) -> None:
        self.topology = topology
        self.cache = cache
        self.clock = clock
        self.sharder = topology.sharder  # built once: a choice is then one SHA-256

    def lane(self, priority: str, tenant: str) -> str:
        if self.cache is None:
            return self.topology.lane_for(priority, tenant)
        route = self.cache.routes().routes.get(tenant)
        if route is not None and route.active(self.clock.now()):
            return route.lane
        if self.topology.shards == 1:
            return self.topology.lane_for(priority, tenant)
        depths = self.cache.view().depths
        shard = self.sharder.choose(
            tenant, lambda s: depths.get(self.topology.lane(priority, s), 0)
        )
        return self.topology.lane(priority, shard)


__all__ = ["LaneRouter"]

"""What a producer applies to each new task in a multi-tenant deployment.

``place(record)`` first asks the admission gate (a heavy tenant's task is refused with
``Overloaded`` while the backlog is overloaded), then routes the task: to the tenant's
pool lane if it has one, else to the shorter of its shuffle-shard lanes. Tasks bound
for a work queue (``direct`` types) keep their queue. One cached control view serves
both, so this costs two small reads per ``max_age`` seconds per process, not per task.
"""

from __future__ import annotations

from dataclasses import replace

from ..model import TaskRecord
from ..ports import Clock, ControlStore
from ..topology import Topology
from .cache import CachedControl
from .gate import AdmissionGate
from .router import LaneRouter


class TenantEdge:
    def __init__(
        self, topology: Topology, control: ControlStore, clock: Clock, max_age: float = 2.0
    ) -> None:
        self.cache = CachedControl(control, clock, max_age)
        self.router = LaneRouter(topology, self.cache, clock)
        self.gate = AdmissionGate(self.cache, clock)
        self._lanes = frozenset(topology.lanes)

    def place(self, record: TaskRecord, source: str = "sdk") -> TaskRecord:
        if record.lane not in self._lanes:
            return record
        self.gate.check(record.tenant, source)
        lane = self.router.lane(record.priority, record.tenant)
        return record if lane == record.lane else replace(record, lane=lane)


__all__ = ["TenantEdge"]

"""What every part of the client shares: its adapters, and ``Submission``."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..catalog import Catalog
from ..model import TaskRecord, TaskState
from ..ports import Clock, EventPublisher, Lanes, PayloadStore, TaskStore
from ..topology import Topology

if TYPE_CHECKING:
    from ..tenancy.edge import TenantEdge


@dataclass(frozen=True, slots=True)
class Submission:
    """The outcome of one submit. ``status``: created | duplicate | conflict | failed |
    refused (``submit_many`` only: back-pressure on the tenant; ``error`` says why)."""

    task_id: str
    status: str
    record: TaskRecord | None = None
    error: str | None = None

    @property
    def created(self) -> bool:
        return self.status == "created"

    @property
    def state(self) -> TaskState | None:
        return self.record.state if self.record else None


class ClientBase:
    """The adapters ``Conveyor.__init__`` sets; the parts only read them."""

    catalog: Catalog
    topology: Topology
    clock: Clock
    sleep: Callable[[float], None]
    max_workers: int
    store: TaskStore
    lanes: Lanes
    payloads: PayloadStore
    scheduler: Any
    events: EventPublisher | None
    #: Routing and back-pressure of a multi-tenant deployment (``conveyor.tenancy``).
    edge: TenantEdge | None

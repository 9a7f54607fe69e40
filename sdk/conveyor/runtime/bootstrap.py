"""One place that wires adapters into the runtime pieces (ports and adapters' bootstrap).

``aws_runtime`` builds everything on boto3 clients (AWS, or the dev cloud through an
endpoint); ``memory_runtime`` on the in-memory twins, for tests and simulation.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..catalog import Catalog
from ..ports import (
    Clock,
    ControlStore,
    EventPublisher,
    Lanes,
    PayloadStore,
    SystemClock,
    TaskStore,
)
from ..topology import Topology
from .runner import TaskRunner

if TYPE_CHECKING:  # loaded on use: a Lambda attempt needs neither client nor dispatcher
    from ..client import Conveyor
    from .dispatcher import Dispatcher
    from .executors import Executor


@dataclass
class Runtime:
    catalog: Catalog
    topology: Topology
    store: TaskStore
    lanes: Lanes
    payloads: PayloadStore
    events: EventPublisher | None = None
    clock: Clock = field(default_factory=SystemClock)
    rng: random.Random = field(default_factory=random.Random)
    scheduler: Any = None
    #: The multi-tenant control plane (routes, signals, leases); None where not used.
    control: ControlStore | None = None
    #: Keeps what this process's requests cost per tenant and type (``costmeter``).
    cost_meter: Any = None

    def runner(self, **kwargs: Any) -> TaskRunner:
        return TaskRunner(
            self.catalog,
            self.store,
            self.payloads,
            events=self.events,
            clock=self.clock,
            rng=kwargs.pop("rng", self.rng),
            scheduler=kwargs.pop("scheduler", self.scheduler),
            children=kwargs.pop("children", self.client),
            **kwargs,
        )

    def dispatcher(
        self, executor: Executor | None = None, *, runner: TaskRunner | None = None, **kwargs: Any
    ) -> Dispatcher:
        from .dispatcher import Dispatcher
        from .executors import LocalExecutor

        runner = runner or self.runner()
        return Dispatcher(
            self.catalog,
            self.topology,
            self.lanes,
            self.store,
            runner,
            executor or LocalExecutor(runner),
            clock=self.clock,
            rng=self.rng,
            control=kwargs.pop("control", self.control),
            **kwargs,
        )

    def client(self, **kwargs: Any) -> Conveyor:
        from ..client import Conveyor

        return Conveyor(
            self.catalog,
            topology=self.topology,
            store=self.store,
            lanes=self.lanes,
            payloads=self.payloads,
            events=self.events,
            clock=self.clock,
            scheduler=self.scheduler,
            control=kwargs.pop("control", self.control if self.topology.multi_tenant else None),
            **kwargs,
        )


def aws_runtime(
    catalog: Catalog, topology: Topology, clients: Any, *, clock: Clock | None = None
) -> Runtime:
    from ..aws import DynamoTaskStore, EventBridgePublisher, S3PayloadStore, SqsLanes
    from ..aws.control import DynamoControl
    from ..aws.scheduler import EventBridgeScheduler
    from ..aws.store import unindexed_types

    lanes = SqsLanes(clients.sqs)
    return Runtime(
        catalog=catalog,
        topology=topology,
        store=DynamoTaskStore(clients.dynamodb, topology.table, unindexed=unindexed_types(catalog)),
        lanes=lanes,
        payloads=S3PayloadStore(clients.s3, topology.bucket),
        events=EventBridgePublisher(clients.events, topology.event_bus),
        clock=clock or SystemClock(),
        scheduler=EventBridgeScheduler(clients.scheduler, lanes, topology),
        control=DynamoControl(clients.dynamodb, topology.table),
    )


def memory_runtime(
    catalog: Catalog, topology: Topology | None = None, *, clock: Clock | None = None, seed: int = 0
) -> Runtime:
    from ..memory import MemoryEvents, MemoryLanes, MemoryPayloadStore, MemoryTaskStore
    from ..memory.control import MemoryControl

    clock = clock or SystemClock()
    return Runtime(
        catalog=catalog,
        topology=topology or Topology(),
        store=MemoryTaskStore(),
        lanes=MemoryLanes(clock),
        payloads=MemoryPayloadStore(),
        events=MemoryEvents(),
        clock=clock,
        rng=random.Random(seed),
        control=MemoryControl(),
    )

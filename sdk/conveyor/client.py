"""The public SDK: ``Conveyor`` submits, inspects, waits for and cancels tasks.

boto3 conventions: pass a ``session`` or ``profile``/``region``; ``AWS_ENDPOINT_URL``
points every client at the dev cloud. Or pass adapters directly (``Conveyor.in_memory``).

``Conveyor`` is composed of one part per role (``conveyor.client_parts``): submit,
query, control (cancel, pause), recurring schedules and the DLQ. This module wires the
adapters they share.
"""

from __future__ import annotations

import os
import threading
import time
import weakref
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from . import catalog as catalog_module
from .catalog import Catalog, load_catalog
from .client_parts.base import Submission
from .client_parts.control import ControlPart
from .client_parts.deadletters import DeadLettersPart
from .client_parts.schedules import SchedulesPart
from .client_parts.submit import SubmitPart
from .client_parts.unsettled import Unsettled
from .ports import (
    Clock,
    ControlStore,
    EventPublisher,
    Lanes,
    PayloadStore,
    SystemClock,
    TaskStore,
)
from .topology import Topology

if TYPE_CHECKING:
    from .runtime.costmeter import CostMeter

__all__ = ["Conveyor", "Submission"]


class Conveyor(SubmitPart, ControlPart, SchedulesPart, DeadLettersPart):
    """Client for one deployment (``topology``) of one catalog."""

    def __init__(
        self,
        catalog: Catalog | str | None = None,
        *,
        topology: Topology | None = None,
        session: Any = None,
        profile: str | None = None,
        region: str | None = None,
        endpoint_url: str | None = None,
        store: TaskStore | None = None,
        lanes: Lanes | None = None,
        payloads: PayloadStore | None = None,
        scheduler: Any = None,
        events: EventPublisher | None = None,
        clock: Clock | None = None,
        sleep: Callable[[float], None] = time.sleep,
        max_workers: int = 8,
        control: ControlStore | None = None,
        costs: bool = True,
    ) -> None:
        """``control``: the multi-tenant control plane; built from AWS settings when the
        deployment has several lanes per class or a pool (``Topology.multi_tenant``), and
        then every new task is routed and checked for back-pressure (``TenantEdge``).

        ``costs``: a client built from AWS settings counts its own requests (submit, get,
        list, cancel ...) per tenant and type into the deployment's cost ledger, as the
        platform's processes do (``conveyor cost``): written at most once a minute by a
        background thread, on ``close()``, and at interpreter exit or when the client
        is garbage-collected, whichever comes first. ``costs=False`` or
        ``CONVEYOR_COSTS=off`` turns it off; a client given its adapters never counts."""
        if catalog is None:
            catalog = os.environ.get("CONVEYOR_CATALOG") or catalog_module.default_catalog
        self.catalog = load_catalog(catalog) if isinstance(catalog, str) else catalog
        self.topology = topology or Topology.from_env()
        self.clock = clock or SystemClock()
        self.sleep = sleep
        self.max_workers = max_workers
        if store is None or lanes is None or payloads is None:
            from .aws import AwsClients, DynamoTaskStore, S3PayloadStore, SqsLanes
            from .aws.attribution import AttributingCounter
            from .aws.costledger import DynamoCostLedger
            from .aws.store import unindexed_types
            from .runtime import costmeter

            counter = None
            if costs and costmeter.enabled():
                counter = AttributingCounter({self.topology.table: [("type", "id")]})
            self.aws = AwsClients(
                session, profile=profile, region=region, endpoint_url=endpoint_url, counter=counter
            )
            if counter is not None:
                ledger = DynamoCostLedger(self.aws.dynamodb, self.topology.table)
                self.cost_meter = costmeter.CostMeter(counter, ledger, clock=self.clock)
            store = store or DynamoTaskStore(
                self.aws.dynamodb, self.topology.table, unindexed=unindexed_types(self.catalog)
            )
            lanes = lanes or SqsLanes(self.aws.sqs)
            payloads = payloads or S3PayloadStore(self.aws.s3, self.topology.bucket)
        self.store = store
        self.lanes = lanes
        self.payloads = payloads
        self.scheduler = scheduler
        self.events = events
        if hasattr(self, "aws"):  # built from AWS settings: complete the set of adapters
            from .aws import EventBridgePublisher, SqsLanes
            from .aws.scheduler import EventBridgeScheduler

            if events is None:
                self.events = EventBridgePublisher(self.aws.events, self.topology.event_bus)
            if scheduler is None and isinstance(self.lanes, SqsLanes):
                self.scheduler = EventBridgeScheduler(self.aws.scheduler, self.lanes, self.topology)
            if control is None and self.topology.multi_tenant:
                from .aws.control import DynamoControl

                control = DynamoControl(self.aws.dynamodb, self.topology.table)
        self._stop_meter = threading.Event()
        if self.cost_meter is not None:
            self.cost_meter.start(self._stop_meter)
            # at exit, or when the client is garbage: write what is left, end the thread
            self._last_flush = weakref.finalize(
                self, _stop_metering, self._stop_meter, self.cost_meter
            )
            _LIVE.add(self)
        self.unsettled = Unsettled()
        self.edge = None
        if control is not None:
            from .tenancy.edge import TenantEdge

            self.edge = TenantEdge(self.topology, control, self.clock)

    #: Counts this client's own requests into the cost ledger (None: not counted).
    cost_meter: CostMeter | None = None

    def close(self) -> None:
        """Write what this client's requests cost so far and stop its meter's thread
        and exit hook. The client stays usable and keeps counting: what it does after
        ``close`` is written by the next ``close`` (not at exit). The final write's own
        request (~1 WRU) is the one request never written."""
        if self.cost_meter is None:
            return
        if self._last_flush.alive:
            self._last_flush()  # stops the thread and flushes; no flush at exit any more
            _LIVE.discard(self)
        else:
            self.cost_meter.flush()

    def __enter__(self) -> Conveyor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @classmethod
    def in_memory(
        cls, catalog: Catalog, *, clock: Clock | None = None, topology: Topology | None = None
    ) -> Conveyor:
        from .memory import MemoryLanes, MemoryPayloadStore, MemoryTaskStore

        clock = clock or SystemClock()
        return cls(
            catalog,
            topology=topology or Topology(),
            store=MemoryTaskStore(),
            lanes=MemoryLanes(clock),
            payloads=MemoryPayloadStore(),
            clock=clock,
        )


#: Clients that meter their requests and were not closed yet.
_LIVE: weakref.WeakSet[Conveyor] = weakref.WeakSet()


def _stop_metering(stop: threading.Event, meter: CostMeter) -> None:
    stop.set()
    meter.flush()


def close_all() -> int:
    """Close every metering client not closed yet (what interpreter exit would do, e.g.
    before a test's mocked AWS goes away); returns how many."""
    clients = list(_LIVE)
    for client in clients:
        client.close()
    return len(clients)


def _default_client() -> Callable[..., Any]:
    global _DEFAULT
    if _DEFAULT is None:
        _DEFAULT = Conveyor()
    return _DEFAULT.submit


_DEFAULT: Conveyor | None = None
catalog_module.bind_default_submitter(_default_client)

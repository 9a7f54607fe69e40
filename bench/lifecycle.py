"""One Conveyor deployment on moto, every process's requests counted by one counter.

The processes of a deployment -- the SDK that submits, the dispatcher service (production
settings: 20 s long polls, pause-set reads every 2 s, batching knobs at their defaults) and
the Lambda entry it invokes -- each get their own boto3 clients, all counted by the same
``RequestCounter`` (which also keeps the item sizes the billing rules need).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any

from conveyor import SubmitRequest
from conveyor.aws import AwsClients
from conveyor.aws.accounting import RequestCounter
from conveyor.aws.store import DynamoTaskStore
from conveyor.local.provision import provision
from conveyor.model import TaskState
from conveyor.ports import Clock
from conveyor.runtime.bootstrap import Runtime, aws_runtime
from conveyor.runtime.executors import LambdaExecutor
from conveyor.runtime.lambda_entry import make_handler
from conveyor.runtime.reconciler import Reconciler, ReconcileStore
from conveyor.topology import Topology

from .catalog import catalog
from .invoke import InProcessLambda

PAYLOAD = {"email": "user@example.com", "name": "A. User", "plan": "pro", "locale": "en-GB"}
#: Seconds a load level may take before the bench gives up on it.
DEADLINE = 300.0


@dataclass
class Load:
    """A backlog (``rate`` None: all tasks submitted with submit_many, then served) or a
    trickle (``tasks`` submitted one ``submit`` at a time, ``rate`` per second)."""

    name: str
    tasks: int
    rate: float | None = None


@dataclass
class Result:
    approach: str
    load: str
    tasks: int
    counter: RequestCounter
    seconds: float
    #: Seconds from the first submit to the last (the rate a trickle achieved).
    submit_seconds: float


class _Shifted:
    """A clock ``seconds`` ahead of ``clock``."""

    def __init__(self, clock: Clock, seconds: float) -> None:
        self.clock = clock
        self.seconds = seconds

    def now(self) -> float:
        return self.clock.now() + self.seconds


def _succeeded(dispatcher: Any) -> int:
    """Tasks run to success: "ok", plus "duplicate" -- a redelivery that found its task
    already finished (after moto lost a reply under load, say)."""
    kinds = dispatcher.stats.kinds
    return int(kinds["ok"] + kinds["duplicate"])


def counter_for(topology: Topology) -> RequestCounter:
    return RequestCounter({topology.table: [("type", "id")]})


class Deployment:
    """Provisioned resources plus the three processes' runtimes, counted."""

    def __init__(self, prefix: str, *, wait_seconds: int = 20) -> None:
        self.topology = Topology(prefix=prefix)
        provision(AwsClients(region="us-east-1"), self.topology, catalog)
        self.counter = counter_for(self.topology)
        self.wait_seconds = wait_seconds
        self.sdk = self._runtime()
        self.entry = self._runtime()
        self.service = self._runtime()
        for lane in self.topology.lanes:  # queue URLs: resolved once per process
            self.sdk.lanes.url(lane)
            self.service.lanes.url(lane)
        self.uncounted = DynamoTaskStore(
            AwsClients(region="us-east-1").dynamodb, self.topology.table
        )
        handler = make_handler(self.entry.runner(), self.entry)
        self.lambda_client = InProcessLambda(handler, self.counter)
        self.counter.reset()

    def _reconcile_later(self) -> None:
        """The reconciler looks at each task once, ``settle_age`` (60 s) after its
        creation: a run shorter than that would not show its cost. One more pass, as it
        will run two minutes on (a shifted clock), counts that steady-state read of every
        task's record (and its key Query per type)."""
        later = _Shifted(self.service.clock, 120.0)
        store, lanes = self.service.store, self.service.lanes
        if isinstance(store, ReconcileStore):
            Reconciler(catalog, self.topology, store, lanes, clock=later).run_once()

    def _runtime(self) -> Runtime:
        return aws_runtime(
            catalog, self.topology, AwsClients(region="us-east-1", counter=self.counter)
        )

    def run(self, approach: str, task_type: str, load: Load) -> Result:
        client = self.sdk.client()
        executor = LambdaExecutor(self.lambda_client, self.topology.prefix)
        dispatcher = self.service.dispatcher(executor, runner=self.service.runner())
        stop = threading.Event()
        service = threading.Thread(
            target=dispatcher.run, args=(stop,), kwargs={"wait_seconds": self.wait_seconds}
        )
        start, ids = time.monotonic(), []
        if load.rate is None:
            for offset in range(0, load.tasks, 100):
                count = min(100, load.tasks - offset)
                batch = [SubmitRequest(task_type, PAYLOAD) for _ in range(count)]
                ids += [s.task_id for s in client.submit_many(batch)]
            service.start()
        else:
            service.start()
            for i in range(load.tasks):
                time.sleep(max(0.0, start + i / load.rate - time.monotonic()))
                ids.append(client.submit(task_type, PAYLOAD).task_id)
        submitted = time.monotonic() - start
        while _succeeded(dispatcher) < load.tasks and time.monotonic() < start + DEADLINE:
            time.sleep(0.1)
        stop.set()
        service.join()  # the last long polls are requests too: they are counted
        executor.shutdown()
        self._reconcile_later()
        seen = self.uncounted.get_many(ids)  # not part of the workload: not counted
        done = sum(1 for r in seen.values() if r.state is TaskState.SUCCEEDED)
        if done != load.tasks:
            kinds = dict(dispatcher.stats.kinds)
            raise RuntimeError(f"{approach} {load.name}: {done} of {load.tasks} ok: {kinds}")
        seconds = time.monotonic() - start
        return Result(approach, load.name, load.tasks, self.counter, seconds, submitted)


__all__ = ["Deployment", "Load", "Result", "counter_for"]

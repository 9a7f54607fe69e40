"""The table actions ``infra.permissions`` grants each role are enough for its code: each
role's code paths run against moto through their own DynamoDB client, which records
every operation; each role must have called only what the stack grants it (and the
main ones, so the test cannot pass by running nothing). The dispatcher deletes only
lease items.

The lanes carry a multi-tenant topology (shards and a pool), so submits read the
control plane and the HTTP API reads the principal directory."""

from __future__ import annotations

import itertools
import threading
from collections import Counter
from types import SimpleNamespace

import pytest

from conveyor import TaskState
from conveyor.aws.control import DynamoControl
from conveyor.aws.principals import DynamoPrincipals
from conveyor.local.provision import provision
from conveyor.memory import MemoryEvents
from conveyor.policy.backpressure import Signal
from conveyor.ports import Grant
from conveyor.runtime.access import TenantAccess
from conveyor.runtime.bootstrap import aws_runtime
from conveyor.runtime.http_api import handle
from conveyor.runtime.worker import Worker
from conveyor.topology import Topology
from infra.permissions import OPERATIONS
from tests.support import ledger
from tests.support.api_events import api_event

_prefixes = itertools.count(1)
PRODUCER = "arn:aws:iam::111122223333:role/producer"


class Recorder:
    """A DynamoDB client of its own for one role, recording operations (and the keys
    of deletes)."""

    def __init__(self, aws) -> None:
        self.client = aws.session.client(
            "dynamodb", region_name=aws.region, endpoint_url=aws.endpoint_url
        )
        self.ops: Counter[str] = Counter()
        self.deleted: list[str] = []
        self.client.meta.events.register("before-parameter-build.dynamodb", self._record)

    def _record(self, model, params, **_):
        self.ops[model.name] += 1
        if model.name == "DeleteItem":
            self.deleted.append(params["Key"]["id"]["S"])

    def clients(self, aws):
        return SimpleNamespace(
            dynamodb=self.client,
            sqs=aws.sqs,
            s3=aws.s3,
            events=aws.events,
            scheduler=aws.scheduler,
        )


@pytest.fixture
def setup(aws, tmp_path, monkeypatch):
    monkeypatch.setenv("LEDGER_DIR", str(tmp_path))
    topology = Topology(prefix=f"perm{next(_prefixes)}", shards=2, pool=1)
    provision(aws, topology, ledger.catalog)
    roles = {role: Recorder(aws) for role in ("submit", "dispatcher", "executor", "worker")}

    def runtime(role):
        rt = aws_runtime(ledger.catalog, topology, roles[role].clients(aws))
        rt.events = MemoryEvents()
        return rt

    return topology, roles, runtime


def _event(method, path, body=None):
    return api_event(method, path, PRODUCER, body)


def test_each_role_calls_only_the_table_actions_the_stack_grants(setup, aws):
    topology, roles, runtime = setup
    # the platform owner maps a producer (with the owner's own credentials)
    DynamoPrincipals(aws.dynamodb, topology.table).grant(PRODUCER, Grant("acme"))

    # submit API: submit, duplicate, read, cancel over the HTTP handler
    submit_rt = runtime("submit")
    api = submit_rt.client()
    access = TenantAccess(DynamoPrincipals(roles["submit"].client, topology.table), submit_rt.clock)
    for i in range(3):
        body = {"payload": {"mode": "ok"}, "id": f"w-{i}"}
        assert handle(_event("POST", "/tasks/work", body), api, access)["statusCode"] == 202
    again = {"payload": {"mode": "ok"}, "id": "w-0"}
    assert handle(_event("POST", "/tasks/work", again), api, access)["statusCode"] == 200
    cancel = {"payload": {"mode": "ok"}, "id": "w-cancel"}
    assert handle(_event("POST", "/tasks/work", cancel), api, access)["statusCode"] == 202
    assert handle(_event("GET", "/tasks/w-1"), api, access)["statusCode"] == 200
    assert handle(_event("DELETE", "/tasks/w-cancel"), api, access)["statusCode"] == 200
    fatal = api.submit("work", {"mode": "fatal"}, tenant="acme").task_id
    long_id = api.submit("long_job", {"chunks": 1, "chunk_seconds": 0.01}).task_id

    # dispatcher with executors (the Lambda runner, on the executor's client)
    dispatcher_rt = runtime("dispatcher")
    executor_rt = runtime("executor")
    dispatcher = dispatcher_rt.dispatcher(runner=executor_rt.runner(), pause_refresh=0)
    dispatcher.drain(idle_passes=5, timeout=60)
    if dispatcher.tenancy is not None:  # it held lane leases while draining: give them up
        dispatcher.tenancy.leave()
    reconciler = dispatcher.reconciler()
    assert reconciler is not None
    reconciler.run_once(full_sweep=True)
    # its control plane: membership, signal, routes, a lane lease taken and released
    control = DynamoControl(roles["dispatcher"].client, topology.table)
    now = dispatcher_rt.clock.now()
    control.heartbeat("d1", now + 30)
    control.put_signal("d1", Signal(at=now, overloaded=False), dict.fromkeys(topology.lanes, 0))
    table = control.routes()
    assert control.put_routes(dict(table.routes), table.version)
    lane = topology.lanes[0]
    assert control.acquire(lane, "d1", now, now + 30)
    assert control.leases([lane])[lane][0] == "d1"
    control.release(lane, "d1")
    control.members()
    control.view()

    # a Fargate worker runs the long job the dispatcher forwarded to its work queue
    worker_rt = runtime("worker")
    worker = Worker(worker_rt, "long_job", heartbeat=0.05, lease=30, wait_seconds=0)
    messages = worker_rt.lanes.receive(worker.queue, max_messages=1)
    assert messages, "the dispatcher forwards a Fargate task to its work queue"
    worker.handle(messages[0], threading.Event())

    assert api.get("w-0").state is TaskState.SUCCEEDED
    assert api.get("w-cancel").state is TaskState.CANCELLED
    assert api.get(fatal).state is TaskState.FAILED
    assert api.get(long_id).state is TaskState.SUCCEEDED
    for role, recorder in roles.items():
        assert set(recorder.ops) <= OPERATIONS[role], (role, recorder.ops)
    assert {"PutItem", "GetItem", "UpdateItem"} <= set(roles["submit"].ops)
    assert {"Query", "PutItem", "BatchGetItem", "DeleteItem"} <= set(roles["dispatcher"].ops)
    assert "UpdateItem" in roles["executor"].ops  # GetItem: when a handler asks ctx.cancelled
    assert "UpdateItem" in roles["worker"].ops
    assert roles["dispatcher"].deleted and all(
        key.startswith("ctl#lease#") for key in roles["dispatcher"].deleted
    )

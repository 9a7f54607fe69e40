"""The reconciler's requests are deterministic: at idle, and per task it looks at."""

from __future__ import annotations

from conveyor.aws import AwsClients, DynamoTaskStore, SqsLanes
from conveyor.aws.accounting import RequestCounter
from conveyor.local.provision import provision
from conveyor.ports import FakeClock
from conveyor.runtime.bootstrap import aws_runtime
from conveyor.runtime.reconciler import Reconciler
from tests.support import ledger


def test_reconciler_requests_at_idle_and_per_task(aws, topology, tmp_path, monkeypatch):
    monkeypatch.setenv("LEDGER_DIR", str(tmp_path))
    provision(aws, topology, ledger.catalog)
    clock = FakeClock()
    rt = aws_runtime(ledger.catalog, topology, aws, clock=clock)
    client = rt.client()
    ids = [r.task_id for r in client.submit_many([{"task_type": "work"}] * 150)]
    # Finished without running them (running 150 tasks through moto's SQS is the slow
    # part, and the reconciler reads a CANCELLED record as it reads a SUCCEEDED one).
    assert len(client.cancel_many(task_type="work")) == 150
    assert all(client.get(i).terminal for i in ids)

    counter = RequestCounter({topology.table: [("type", "id")]})
    counted = AwsClients(region="us-east-1", counter=counter)
    store = DynamoTaskStore(counted.dynamodb, topology.table)
    rec = Reconciler(
        ledger.catalog, topology, store, SqsLanes(counted.sqs), clock=clock, sweep_on_start=False
    )
    types = len(list(ledger.catalog))

    clock.advance(120)
    counter.reset()
    assert rec.run_once()["examined"] == 150
    busy, busy_units = counter.snapshot()
    assert busy == {
        ("dynamodb", "GetItem"): 2,  # the window marker (first pass only) and the pause set
        ("dynamodb", "Query"): types,
        ("dynamodb", "BatchGetItem"): 2,  # 150 records, 100 a call
        ("dynamodb", "PutItem"): 1,  # the window marker
    }
    clock.advance(60)
    counter.reset()
    assert rec.run_once()["examined"] == 0
    idle, idle_units = counter.snapshot()
    assert idle == {("dynamodb", "Query"): types, ("dynamodb", "PutItem"): 1}
    assert idle_units == {"ddb_rru": 0.5 * types, "ddb_wru": 1.0}
    # busy_units counts BatchGetItem as strongly consistent (the counter cannot see the
    # request's ConsistentRead); the reconciler's reads are eventually consistent: 0.5 RRU.
    print(f"\nreconciler pass, {types} task types: idle {idle} {idle_units}")
    print(f"pass over 150 finished tasks: {busy} {busy_units}")

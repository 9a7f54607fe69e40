"""A user's own process is metered too: the SDK client attributes the requests it makes
(submit, submit_many, get, list, cancel) to tenant and type in the deployment's cost
ledger, checked against the bench's count of the same client's requests (moto)."""

from __future__ import annotations

import pytest

from conveyor import Conveyor, SubmitRequest
from conveyor.aws.accounting import RequestCounter
from conveyor.aws.attribution import PLATFORM
from conveyor.aws.costledger import DynamoCostLedger
from conveyor.local.provision import provision
from conveyor.ports import SystemClock, now_ms
from conveyor.tenant_costs import cost_rows
from tests.support import ledger

HOUR_MS = 3_600_000


def read_rows(aws, topology, by="tenant"):
    now = now_ms(SystemClock())
    units = DynamoCostLedger(aws.dynamodb, topology.table, process="reader").read(
        now - HOUR_MS, now
    )
    return {r.name: r for r in cost_rows(units, by)}


@pytest.fixture
def provisioned_ledger(aws, topology):
    provision(aws, topology, ledger.catalog)
    return topology


def test_submits_by_two_tenants_show_up_in_cost_by_tenant(aws, provisioned_ledger):
    topology = provisioned_ledger
    client = Conveyor(ledger.catalog, topology=topology, region="us-east-1")
    assert client.cost_meter is not None and client.cost_meter.interval == 60.0
    bench = RequestCounter()  # the bench's count of the very same clients
    for service in ("sqs", "dynamodb", "s3", "events"):
        bench.attach(client.aws.client(service))
    client.submit("work", {"mode": "ok"}, tenant="warm")  # resolves queue URLs (platform)
    client.submit("other", {"n": 0}, tenant="warm")  # (another lane)
    assert len(client.list(task_type="work", limit=10).records) == 1  # warm's task only

    before = bench.total()
    acme = [client.submit("work", {"mode": "ok"}, tenant="acme") for _ in range(3)]
    client.get(acme[0].task_id)
    client.cancel(acme[1].task_id)
    acme_requests = bench.total() - before

    before = bench.total()
    client.submit_many([SubmitRequest("work", {"mode": "ok"}, tenant="bolt") for _ in range(2)])
    client.submit_many([SubmitRequest("other", {"n": 1}, tenant="bolt")])
    bolt_requests = bench.total() - before

    made = bench.total()
    assert read_rows(aws, topology) == {}  # nothing written before a minute or close()

    client.close()
    rows = read_rows(aws, topology)
    assert acme_requests >= 3 * 2 + 2  # a write and a send per submit; a get; a cancel
    assert rows["acme"].requests == pytest.approx(acme_requests)
    assert rows["bolt"].requests == pytest.approx(bolt_requests)
    assert sum(r.requests for r in rows.values()) == pytest.approx(made)
    assert rows["acme"].dollars > 0 and rows["bolt"].dollars > 0
    by_type = read_rows(aws, topology, by="type")
    assert set(by_type) >= {"work", "other"}


def test_close_writes_and_the_client_stays_usable(aws, provisioned_ledger):
    topology = provisioned_ledger
    with Conveyor(ledger.catalog, topology=topology, region="us-east-1") as client:
        client.submit("work", {"mode": "ok"}, tenant="acme")
    first = read_rows(aws, topology)["acme"].requests
    client.submit("work", {"mode": "ok"}, tenant="acme")  # still usable, still counted
    assert read_rows(aws, topology)["acme"].requests == first
    client.close()  # closing again writes again
    assert read_rows(aws, topology)["acme"].requests == first + 2  # a write and a send


@pytest.mark.parametrize("how", ["argument", "env"])
def test_opting_out_writes_nothing(aws, provisioned_ledger, monkeypatch, how):
    topology = provisioned_ledger
    if how == "env":
        monkeypatch.setenv("CONVEYOR_COSTS", "off")
        client = Conveyor(ledger.catalog, topology=topology, region="us-east-1")
    else:
        client = Conveyor(ledger.catalog, topology=topology, region="us-east-1", costs=False)
    assert client.cost_meter is None
    client.submit("work", {"mode": "ok"}, tenant="acme")
    client.submit_many([SubmitRequest("work", {"mode": "ok"}, tenant="bolt")])
    client.close()
    assert read_rows(aws, topology) == {}
    items = aws.dynamodb.scan(TableName=topology.table)["Items"]
    assert not [i for i in items if i["id"]["S"].startswith("ctl#cost#")]


def test_a_client_given_its_adapters_never_meters(aws, provisioned_ledger):
    client = Conveyor.in_memory(ledger.catalog)
    assert client.cost_meter is None
    client.close()  # harmless
    assert PLATFORM[0] not in read_rows(aws, provisioned_ledger)


def test_a_client_never_closed_writes_when_collected_or_by_close_all(aws, provisioned_ledger):
    import gc

    from conveyor.client import close_all

    topology = provisioned_ledger
    client = Conveyor(ledger.catalog, topology=topology, region="us-east-1")
    client.submit("work", {"mode": "ok"}, tenant="acme")
    del client
    gc.collect()  # what interpreter exit does for a client still alive then
    assert read_rows(aws, topology)["acme"].requests == 2  # its write and its send
    kept = Conveyor(ledger.catalog, topology=topology, region="us-east-1")
    kept.submit("work", {"mode": "ok"}, tenant="bolt")
    assert "bolt" not in read_rows(aws, topology)
    assert close_all() >= 1
    assert read_rows(aws, topology)["bolt"].requests == 2

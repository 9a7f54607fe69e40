"""Cost per tenant and type on in-process moto: the platform's own attribution (counter ->
ledger in the table -> ``conveyor cost``) against the bench's independent count of the
very same requests (a plain ``RequestCounter`` on the same clients)."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from conveyor import SubmitRequest, TaskState
from conveyor.aws import AwsClients
from conveyor.aws.accounting import RequestCounter
from conveyor.aws.attribution import PLATFORM, AttributingCounter
from conveyor.aws.costledger import DynamoCostLedger, hours_between, ledger_of
from conveyor.cli import app
from conveyor.cost import dollars
from conveyor.local.provision import provision
from conveyor.ports import SystemClock, now_ms
from conveyor.runtime.bootstrap import aws_runtime
from conveyor.runtime.costmeter import CostMeter
from conveyor.tenant_costs import cost_rows, total_dollars
from tests.support import ledger

#: tenant -> (tasks, payload)
WORKLOAD = {
    "acme": (16, {"mode": "ok"}),
    "bolt": (6, {"mode": "flaky", "ok_at": 2}),  # each retried once
    "cyan": (2, {"mode": "fatal"}),  # dead-lettered
}


@pytest.fixture
def run(aws, topology, tmp_path, monkeypatch):
    """One run of the workload, counted twice: by the bench's counter and by ours."""
    monkeypatch.setenv("LEDGER_DIR", str(tmp_path))
    provision(aws, topology, ledger.catalog)
    gsi = {topology.table: [("type", "id")]}
    bench, mine = RequestCounter(gsi), AttributingCounter(gsi)
    clients = AwsClients(region="us-east-1", counter=bench)
    for client in (clients.sqs, clients.dynamodb, clients.events, clients.s3):
        mine.attach(client)
    runtime = aws_runtime(ledger.catalog, topology, clients)
    meter = CostMeter(mine, DynamoCostLedger(clients.dynamodb, topology.table, process="p1"))
    client = runtime.client()
    started = now_ms(SystemClock())
    client.submit_many(
        [
            SubmitRequest("work", payload, tenant=tenant)
            for tenant, (n, payload) in WORKLOAD.items()
            for _ in range(n)
        ]
    )
    runtime.dispatcher(pause_refresh=0, reconcile_every=None).drain(idle_passes=3, timeout=60)
    assert meter.flush() == 1
    return bench, mine, topology, started


def test_cost_by_tenant_agrees_with_the_bench_count_within_5_percent(run, aws):
    bench, _, topology, started = run
    units = DynamoCostLedger(aws.dynamodb, topology.table, process="reader").read(
        started, now_ms(SystemClock())
    )
    rows = cost_rows(units, "tenant")
    billed = dollars(bench.snapshot()[1])
    assert billed > 0
    assert abs(total_dollars(rows) - billed) <= 0.05 * billed
    assert abs(sum(r.with_platform for r in rows) - total_dollars(rows)) < 1e-12
    by = {r.name: r for r in rows}
    assert set(by) == {*WORKLOAD, PLATFORM[0]}
    per_task = {t: by[t].dollars / n for t, (n, _) in WORKLOAD.items()}
    assert per_task["bolt"] > per_task["acme"]  # a retry costs a second attempt's writes
    assert by["acme"].dollars > by["bolt"].dollars > by["cyan"].dollars
    # the platform's own requests (empty polls, depth reads, the pause set) are a minority
    assert by[PLATFORM[0]].dollars < 0.5 * billed


def test_cost_by_type_splits_the_same_dollars(run, aws):
    _, _, topology, started = run
    units = DynamoCostLedger(aws.dynamodb, topology.table, process="reader").read(
        started, now_ms(SystemClock())
    )
    by_type = cost_rows(units, "type")
    assert [r.name for r in by_type] == ["work", PLATFORM[0]]
    assert total_dollars(by_type) == pytest.approx(total_dollars(cost_rows(units, "tenant")))


def test_the_cli_prints_dollars_by_tenant(run, monkeypatch):
    _, _, topology, _ = run
    for key, value in topology.env().items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("CONVEYOR_CATALOG", "tests.support.ledger")
    result = CliRunner().invoke(app, ["cost", "--by", "tenant", "--since", "2h", "--json"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.output)
    assert {r["name"] for r in rows} == {*WORKLOAD, PLATFORM[0]}
    assert all(r["dollars"] > 0 for r in rows)
    bad = CliRunner().invoke(app, ["cost", "--by", "region"])
    assert bad.exit_code != 0


def test_the_ledger_keeps_each_process_and_hour_apart(aws, topology):
    provision(aws, topology, ledger.catalog)
    one = DynamoCostLedger(aws.dynamodb, topology.table, process="one")
    two = DynamoCostLedger(aws.dynamodb, topology.table, process="two")
    hour = 1_800_000_000_000
    one.add({("a", "t"): {"ddb_wru": 2}}, hour)
    one.add({("a", "t"): {"ddb_wru": 3}}, hour + 1000)
    two.add({("a", "t"): {"ddb_wru": 5}, ("b", "t"): {"sqs_requests": 1}}, hour)
    one.add({("a", "t"): {"ddb_wru": 7}}, hour + 3_600_000)  # the next hour
    assert one.flush() == 2 and two.flush() == 1
    assert one.flush() == 0  # nothing new: nothing written
    assert one.flush() == 0
    got = DynamoCostLedger(aws.dynamodb, topology.table).read(hour, hour + 1000)
    assert got == {("a", "t"): {"ddb_wru": 10.0}, ("b", "t"): {"sqs_requests": 1.0}}
    both = DynamoCostLedger(aws.dynamodb, topology.table).read(hour, hour + 3_600_000)
    assert both[("a", "t")]["ddb_wru"] == 17.0
    assert len(hours_between(hour, hour + 3_600_000)) == 2
    store = aws_runtime(ledger.catalog, topology, aws).store
    assert ledger_of(store) is not None
    assert all(not r.task_id.startswith("ctl#") for r in store.list(limit=50).records)


def test_the_dashboards_cost_page_shows_dollars_by_tenant_and_type(run, aws):
    from conveyor.dashboard.app import DashboardApp
    from conveyor.views.source import DashboardSource
    from tests.unit.test_dashboard_app import call

    _, _, topology, _ = run
    client = aws_runtime(ledger.catalog, topology, aws).client()
    _, _, text = call(DashboardApp(DashboardSource(client)), "GET", "/cost")
    panel = text[text.index('id="cost"') :]
    for tenant in WORKLOAD:
        assert f"<td>{tenant}</td>" in panel
    assert 'id="cost-by-type"' in panel and "<td>work</td>" in panel
    assert "keeps no cost ledger" not in panel


def test_the_meter_writes_once_per_interval_and_can_be_turned_off(aws, topology, monkeypatch):
    from conveyor.aws.costledger import MemoryCostLedger
    from conveyor.runtime.costmeter import counting

    provision(aws, topology, ledger.catalog)
    now = [0.0]
    counter = AttributingCounter()
    counter.attach(aws.dynamodb)
    meter = CostMeter(counter, MemoryCostLedger(), interval=60, monotonic=lambda: now[0])
    try:
        aws_runtime(ledger.catalog, topology, aws).store.get("nope")  # one counted read
        assert meter.maybe_flush() == 0  # not yet due
        now[0] = 60
        assert meter.maybe_flush() == 1
        assert meter.maybe_flush() == 0
    finally:
        aws.dynamodb.meta.events.unregister("after-call.*.*", unique_id=f"cnt-a-{id(counter)}")
    monkeypatch.setenv("CONVEYOR_COSTS", "off")
    assert counting(topology)[1] is None
    monkeypatch.setenv("CONVEYOR_COSTS", "on")
    clients, on = counting(topology, region="us-east-1")
    assert isinstance(on, CostMeter) and clients.counter is on.counter


def test_attribution_memory_is_bounded(aws, topology):
    provision(aws, topology, ledger.catalog)
    counter = AttributingCounter(remember=5)
    counter.attach(aws.dynamodb)
    store = aws_runtime(ledger.catalog, topology, aws).store
    try:
        for n in range(12):
            store.delete(f"none{n}", state=TaskState.QUEUED)  # a keyed write each
            aws.dynamodb.put_item(
                TableName=topology.table,
                Item={"id": {"S": f"x{n}"}, "tenant": {"S": "t"}, "type": {"S": "work"}},
            )
    finally:
        aws.dynamodb.meta.events.unregister("after-call.*.*", unique_id=f"cnt-a-{id(counter)}")
    assert len(counter.sizes) <= 5 and len(counter._tasks.data) <= 5
    assert counter.take()[("t", "work")]["ddb_wru"] == 12


def test_the_request_log_counts_every_process_independently(aws, topology, tmp_path, monkeypatch):
    """``CONVEYOR_REQUEST_LOG``: each process's own count in a file, summed by ``read``,
    and ``costcheck.compare`` sets it against the ledger (what ``conveyor demo --report``
    prints)."""
    from conveyor.aws import requestlog
    from conveyor.local.costcheck import compare

    monkeypatch.setenv("LEDGER_DIR", str(tmp_path))
    log_dir = tmp_path / "requests"
    monkeypatch.setenv(requestlog.REQUEST_LOG_ENV, str(log_dir))
    provision(aws, topology, ledger.catalog)
    gsi = {topology.table: [("type", "id")]}
    mine, bench = AttributingCounter(gsi), RequestCounter(gsi)
    clients = AwsClients(region="us-east-1", counter=mine)  # the log attaches itself
    for client in (clients.sqs, clients.dynamodb, clients.events, clients.s3):
        bench.attach(client)
    runtime = aws_runtime(ledger.catalog, topology, clients)
    meter = CostMeter(mine, DynamoCostLedger(clients.dynamodb, topology.table, process="p1"))
    started = now_ms(SystemClock())
    runtime.client().submit_many(
        [SubmitRequest("work", payload, tenant=t) for t, (n, payload) in WORKLOAD.items()]
    )
    runtime.dispatcher(pause_refresh=0, reconcile_every=None).drain(idle_passes=3, timeout=60)
    assert meter.flush() == 1
    assert requestlog.flush()
    requests, units = bench.snapshot()
    tally = requestlog.read(log_dir)
    assert (tally.processes, tally.requests) == (1, sum(requests.values()))
    assert tally.units == pytest.approx(units)  # the bench's very count, table layout and all

    check = compare(runtime.store, log_dir, started, now_ms(SystemClock()))
    assert check.tenants == len(WORKLOAD) and check.processes == 1
    assert abs(check.difference) <= 0.05
    assert "(3 tenants + platform)" in check.line()
    assert f"{check.requests:,} requests from 1 processes" in check.line()

    other = requestlog.RequestLog(log_dir)  # a second process's file adds up
    other.counter.add("sqs", "SendMessage", {"sqs_requests": 1.0})
    assert other.write()
    both = requestlog.read(log_dir)
    assert (both.processes, both.requests) == (2, tally.requests + 1)
    assert both.units["sqs_requests"] == tally.units["sqs_requests"] + 1

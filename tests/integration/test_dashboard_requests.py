"""What one dashboard refresh costs in AWS requests, exactly (in-process moto): bounded by
the number of queues plus one page of records, whatever the table holds."""

from __future__ import annotations

from conveyor.aws import AwsClients
from conveyor.aws.accounting import RequestCounter
from conveyor.dashboard.app import DashboardApp
from conveyor.dashboard.http import Request
from conveyor.runtime.bootstrap import aws_runtime
from conveyor.views.source import DashboardSource


def get(app: DashboardApp, path: str, **headers: str) -> int:
    response = app.handle(Request("GET", path, {}, {}, {"host": "127.0.0.1", **headers}))
    assert response.status == 200, response.body.decode()[-600:]
    return response.status


def test_a_refresh_reads_each_queue_once_and_one_page_of_records(
    provisioned, topology, example_catalog
):
    counter = RequestCounter()
    client = aws_runtime(
        example_catalog, topology, AwsClients(region="us-east-1", counter=counter)
    ).client()
    submitted = client.submit_many(
        [{"task_type": "send_welcome_email", "payload": {"email": f"{i}@x.io"}} for i in range(60)]
    )
    source = DashboardSource(client, page_size=25, min_interval=0)
    app = DashboardApp(source)
    get(app, "/")  # resolves the queue URLs once per process
    queues = len(source.queues())
    refreshes = 4
    counter.reset()
    for _ in range(refreshes):
        get(app, "/", **{"hx-request": "true"})
    requests, _ = counter.snapshot()
    assert requests == {
        ("sqs", "GetQueueAttributes"): queues * refreshes,
        ("dynamodb", "GetItem"): refreshes,  # the pause set
        ("dynamodb", "Scan"): refreshes,  # one page of 25 records each, never the table
    }
    assert len(source.window.records) == 60  # 60 records covered after 3 pages
    assert source.window.passes == 1
    counter.reset()
    get(app, f"/tasks/{submitted[7].task_id}", **{"hx-request": "true"})
    assert counter.snapshot()[0] == {("dynamodb", "GetItem"): 1}


def test_cached_snapshots_cost_nothing_across_tabs(provisioned, topology, example_catalog):
    counter = RequestCounter()
    client = aws_runtime(
        example_catalog, topology, AwsClients(region="us-east-1", counter=counter)
    ).client()
    app = DashboardApp(DashboardSource(client, min_interval=60))
    get(app, "/")
    counter.reset()
    for path in ("/", "/tenants", "/"):
        get(app, path)
    assert counter.total() == 0

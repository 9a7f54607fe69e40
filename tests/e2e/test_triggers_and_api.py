"""Time and triggers on the dev cloud: a delayed task, an `at` task 20 s out, a rate
schedule on an accelerated clock, an EventBridge event through a real rule, and the HTTP
submit API on loopback -- each produces a task that runs."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta

import pytest

from conveyor import TaskState
from conveyor.local.devcloud import DevCloud, dev_runtime
from conveyor.local.http_server import post, serve
from conveyor.local.schedules import ScheduleDriver
from conveyor.ports import FakeClock
from conveyor.topology import Topology
from examples.catalog import catalog as example_catalog
from tests.support.waiting import wait_terminal

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def example_cloud():
    with DevCloud(
        example_catalog, Topology(prefix="e2e-time"), catalog_module="examples.catalog"
    ) as cloud:
        yield cloud


def test_delay_at_schedule_and_event_each_produce_a_task_that_runs(example_cloud):
    rt = dev_runtime(example_cloud)
    client = rt.client()
    delayed = client.submit(
        "make_thumbnail", {"key": "d", "width": 10, "height": 10}, delay=2
    ).task_id
    at = datetime.now(UTC) + timedelta(seconds=20)
    timed = client.submit("make_thumbnail", {"key": "a", "width": 10, "height": 10}, at=at).task_id
    events = example_cloud.clients().events
    sent = events.put_events(
        Entries=[
            {
                "Source": "shop.orders",
                "DetailType": "Order Placed",
                "Detail": json.dumps({"order": 42, "tenant": "acme"}),
            }
        ]
    )
    event_task = f"evt-{sent['Entries'][0]['EventId']}"
    # A rate(1 minute) schedule, fired by the driver on an accelerated clock.
    clock = FakeClock(time.time())
    driver = ScheduleDriver(rt.scheduler, rt.lanes, clock=clock)
    client.create_schedule("nightly_report", "rate(1 minute)", name="minutely", payload={"rows": 1})
    clock.advance(61)
    fired = driver.tick()
    assert [name for name, _ in fired] == ["minutely"]
    schedule_task = "minutely-" + fired[0][1].astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")

    dispatcher = rt.dispatcher()
    started = time.monotonic()
    deadline = started + 60
    while time.monotonic() < deadline:
        dispatcher.step()
        ids = [delayed, timed, event_task, schedule_task]
        records = {i: rt.store.get(i) for i in ids}
        if all(r is not None and r.terminal for r in records.values()):
            break
        time.sleep(0.2)
    dispatcher.settle_running()
    assert {i: r.state for i, r in records.items()} == dict.fromkeys(ids, TaskState.SUCCEEDED)
    assert records[timed].started_at >= int(at.timestamp() * 1000)  # never before its time
    assert records[event_task].tenant == "acme"  # from the trigger's tenant_field
    assert client.get(schedule_task).result == {"report": "daily-usage", "rows": 1}


def test_http_submit_api_on_loopback(example_cloud):
    rt = dev_runtime(example_cloud)
    client = rt.client()
    server, _ = serve(client)
    base = f"http://127.0.0.1:{server.server_port}"
    try:
        status, body = post(
            f"{base}/tasks/send_welcome_email",
            {"payload": {"email": "ada@example.com"}, "id": "http-1", "tenant": "acme"},
        )
        assert (status, body["status"], body["state"]) == (202, "created", "QUEUED")
        assert (
            post(
                f"{base}/tasks/send_welcome_email",
                {"payload": {"email": "ada@example.com"}, "id": "http-1", "tenant": "acme"},
            )[0]
            == 200
        )
        cases = [
            (
                "/tasks/send_welcome_email",
                {"payload": {"email": "x@y"}, "id": "http-1"},
                409,
                "TaskConflict",
            ),
            ("/tasks/no_such_type", {"payload": {}}, 404, "UnknownTaskType"),
            (
                "/tasks/send_welcome_email",
                {"payload": {}, "delay_seconds": -1},
                400,
                "InvalidTiming",
            ),
            ("/tasks/send_welcome_email", {"payload": {}, "colour": "red"}, 400, "InvalidOption"),
            (
                "/tasks/send_welcome_email",
                {"payload": {"x": "y" * (33 * 1024 * 1024)}},
                413,
                "PayloadTooLarge",
            ),
        ]
        for path, body_, code, error in cases:
            got = post(base + path, body_)
            assert (got[0], got[1]["error"]) == (code, error), (path, got)
        dispatcher = rt.dispatcher()
        dispatcher.drain(idle_passes=2, timeout=60)
        (record,) = wait_terminal(client, ["http-1"])
        assert record.state is TaskState.SUCCEEDED
    finally:
        server.shutdown()

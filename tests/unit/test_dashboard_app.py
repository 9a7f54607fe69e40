"""The dashboard's WSGI app on the in-memory twins: pages, live fragments, CSRF, the
read-only mode, loopback-only hosts, AWS errors shown in the page, DLQ redrive of one
task."""

from __future__ import annotations

import io
from urllib.parse import urlencode

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError

from conveyor import Catalog
from conveyor.dashboard.app import DashboardApp
from conveyor.dashboard.http import safe_back
from conveyor.memory.scheduler import MemoryScheduler
from conveyor.model import TaskState
from conveyor.ports import FakeClock, now_ms
from conveyor.runtime.bootstrap import memory_runtime
from conveyor.runtime.deadletter import dead_letter
from conveyor.runtime.outcome import Outcome
from conveyor.views.source import DashboardSource

catalog = Catalog("dash-unit")


@catalog.task()
def mail(payload, ctx):
    return None


@pytest.fixture
def client():
    rt = memory_runtime(catalog, clock=FakeClock())
    rt.scheduler = MemoryScheduler()
    return rt.client()


def call(app, method, path, *, form=None, headers=None):
    """One WSGI request; returns (status code, headers dict, body text)."""
    path, _, query = path.partition("?")
    body = urlencode(form or {}).encode()
    environ = {
        "REQUEST_METHOD": method,
        "PATH_INFO": path,
        "QUERY_STRING": query,
        "CONTENT_LENGTH": str(len(body)),
        "CONTENT_TYPE": "application/x-www-form-urlencoded",
        "wsgi.input": io.BytesIO(body),
        "HTTP_HOST": "127.0.0.1:8642",
    }
    for name, value in (headers or {}).items():
        environ["HTTP_" + name.upper().replace("-", "_")] = value
    seen = {}

    def start_response(status, hdrs):
        seen["status"] = int(status.split()[0])
        seen["headers"] = dict(hdrs)

    text = b"".join(app(environ, start_response)).decode()
    return seen["status"], seen["headers"], text


def test_every_page_renders_with_the_live_part_and_nav(client):
    task_id = client.submit("mail", {"to": "a@b"}, tenant="acme").task_id
    app = DashboardApp(DashboardSource(client))
    for path in ("/", "/tenants", "/tasks", f"/tasks/{task_id}", "/dlq", "/schedules"):
        status, headers, text = call(app, "GET", path)
        assert status == 200, (path, text)
        assert headers["Cache-Control"] == "no-store"
        assert "<nav>" in text and 'id="live"' in text and "htmx.min.js" in text
    status, _, text = call(app, "GET", "/", headers={"HX-Request": "true"})
    assert status == 200 and "<html" not in text and 'id="queues"' in text


def test_task_page_shows_local_times_and_the_three_clocks(client):
    task_id = client.submit("mail", {"to": "a@b"}).task_id
    _, _, text = call(DashboardApp(DashboardSource(client)), "GET", f"/tasks/{task_id}")
    assert "queue wait" in text and "retry wait" in text and "run time" in text
    assert str(client.get(task_id).created_at) not in text  # no epoch ms for people
    assert "Cancel task" in text


def test_search_by_id_redirects_and_unknown_ids_are_404_pages(client):
    app = DashboardApp(DashboardSource(client))
    status, headers, _ = call(app, "GET", "/tasks?id=abc%2Fdef")
    assert (status, headers["Location"]) == (303, "/tasks/abc%2Fdef")
    status, _, text = call(app, "GET", "/tasks/nope")
    assert status == 404 and "Task not found" in text and "<nav>" in text


def test_posts_need_the_csrf_token(client):
    app = DashboardApp(DashboardSource(client))
    form = {"kind": "type", "name": "mail", "back": "/"}
    status, _, text = call(app, "POST", "/actions/pause", form=form)
    assert status == 403 and "CSRF" in text
    assert client.paused() == frozenset()
    status, _, _ = call(app, "POST", "/actions/pause", form={**form, "csrf": "wrong"})
    assert status == 403 and client.paused() == frozenset()
    foreign = {"Origin": "http://evil.example"}
    status, _, _ = call(app, "POST", "/actions/pause", form={**form, "csrf": app.csrf},
                        headers=foreign)  # fmt: skip
    assert status == 403 and client.paused() == frozenset()
    status, headers, _ = call(app, "POST", "/actions/pause", form={**form, "csrf": app.csrf})
    assert status == 303 and headers["Location"].startswith("/?flash=paused+type+mail")
    assert client.paused() == {("type", "mail")}
    status, _, _ = call(app, "POST", "/actions/resume", headers={"X-CSRF-Token": app.csrf},
                        form=form)  # fmt: skip
    assert status == 303 and client.paused() == frozenset()


def test_a_refused_action_is_reported_not_raised(client):
    app = DashboardApp(DashboardSource(client))
    form = {"kind": "type", "name": "no_such_type", "csrf": app.csrf, "back": "/tasks?x=1"}
    status, headers, _ = call(app, "POST", "/actions/pause", form=form)
    assert status == 303
    assert headers["Location"].startswith("/tasks?x=1&flash=")
    assert headers["Location"].endswith("&ok=0")


def test_read_only_hides_controls_and_refuses_posts(client):
    task_id = client.submit("mail", {}).task_id
    app = DashboardApp(DashboardSource(client), read_only=True)
    _, _, text = call(app, "GET", "/")
    assert "read-only" in text and "/actions/pause" not in text
    _, _, text = call(app, "GET", f"/tasks/{task_id}")
    assert "Cancel task" not in text
    form = {"task_id": task_id, "csrf": app.csrf}
    status, _, _ = call(app, "POST", "/actions/cancel", form=form)
    assert status == 403 and client.get(task_id).state is TaskState.QUEUED


def test_only_loopback_host_names_are_served(client):
    app = DashboardApp(DashboardSource(client))
    for host, expected in (("localhost:8642", 200), ("[::1]:8642", 200), ("evil.example", 403)):
        status, _, _ = call(app, "GET", "/healthz", headers={"Host": host})
        assert status == expected, host


def test_back_targets_stay_on_this_site():
    assert safe_back("/tasks?type=a") == "/tasks?type=a"
    for bad in ("//evil.example/x", "http://evil.example/", "javascript:alert(1)", "", None):
        assert safe_back(bad) == "/"


def test_aws_errors_are_shown_in_the_page_never_a_blank_500(client):
    def denied(*args, **kwargs):
        raise ClientError({"Error": {"Code": "AccessDenied", "Message": "not you"}}, "GetItem")

    app = DashboardApp(DashboardSource(client))
    client.lanes.depth = lambda queue: (_ for _ in ()).throw(
        EndpointConnectionError(endpoint_url="http://127.0.0.1:1")
    )
    status, _, text = call(app, "GET", "/")
    assert status == 200 and "Some figures could not be read" in text
    assert "Could not connect to the endpoint URL" in text
    client.store.get = denied
    status, _, text = call(app, "GET", "/tasks/abc")
    assert status == 502 and "AWS request failed" in text
    assert "GetItem: AccessDenied: not you" in text and "<nav>" in text
    status, _, text = call(app, "GET", "/tasks/abc", headers={"HX-Request": "true"})
    assert status == 502 and "<nav>" not in text and "AccessDenied" in text


def test_static_files_ship_in_the_package(client):
    app = DashboardApp(DashboardSource(client))
    status, headers, text = call(app, "GET", "/static/htmx.min.js")
    assert status == 200 and "htmx" in text and "javascript" in headers["Content-Type"]
    assert call(app, "GET", "/static/../app.py")[0] == 404


def test_redrive_one_task_from_the_dlq_leaves_the_others(client):
    ids = [client.submit("mail", {"n": i}).task_id for i in range(3)]
    clock = client.clock
    dlq = client.topology.dlq
    lane = client.get(ids[0]).lane
    messages = client.lanes.receive(lane, max_messages=10)
    assert len(messages) == 3
    for message in messages:  # fail each task and dead-letter it, as the runner does
        task_id = next(i for i in ids if i in message.body)
        client.store.transition(task_id, TaskState.RUNNING, {}, now_ms(clock))
        client.store.transition(task_id, TaskState.FAILED, {}, now_ms(clock))
        outcome = Outcome("dead", task_id, "fatal", reason="boom", attempts=1)
        client.lanes.send(dlq, [dead_letter(message.body, outcome, lane, now_ms(clock))])
    app = DashboardApp(DashboardSource(client))
    _, _, text = call(app, "GET", "/dlq")
    assert all(f'data-task="{i}"' in text for i in ids)
    form = {"task_id": ids[1], "csrf": app.csrf, "back": "/dlq"}
    status, headers, _ = call(app, "POST", "/actions/redrive", form=form)
    assert status == 303 and "redriven+1+task" in headers["Location"]
    assert client.get(ids[1]).state is TaskState.QUEUED
    assert [client.get(i).state for i in (ids[0], ids[2])] == [TaskState.FAILED] * 2
    remaining = [e.task_id for e in client.dlq_list()]
    assert sorted(remaining) == sorted([ids[0], ids[2]])


def test_tasks_filters_by_tag_and_only_unfiltered_lists_refresh_themselves(client):
    tagged = client.submit("mail", {"n": 1}, tags=["vip"]).task_id
    plain = client.submit("mail", {"n": 2}).task_id
    app = DashboardApp(DashboardSource(client))
    _, _, text = call(app, "GET", "/tasks")
    assert tagged in text and plain in text and 'id="live"' in text
    _, _, fragment = call(app, "GET", "/tasks", headers={"HX-Request": "true"})
    assert "task-list" in fragment and 'class="filters"' not in fragment  # typing survives
    _, _, text = call(app, "GET", "/tasks?tag=vip")
    assert tagged in text and plain not in text
    assert 'id="live"' not in text and "refresh on demand" in text


def test_a_finished_tasks_page_stops_refreshing(client):
    task_id = client.submit("mail", {}).task_id
    app = DashboardApp(DashboardSource(client))
    assert 'id="live"' in call(app, "GET", f"/tasks/{task_id}")[2]
    client.cancel(task_id)
    text = call(app, "GET", f"/tasks/{task_id}")[2]
    assert "CANCELLED" in text and 'id="live"' not in text and "Cancel task" not in text


def test_platform_probe_reports_running_workers_and_aimd_windows(client):
    from types import SimpleNamespace

    from conveyor.dashboard.server import platform_probe

    pools = {"crunch": SimpleNamespace(alive=lambda: [1, 2])}
    dispatcher = SimpleNamespace(windows=lambda: {"lambda": 7.5})
    probe = platform_probe(SimpleNamespace(pools=pools, dispatcher=dispatcher))
    assert probe() == {"workers": {"crunch": 2}, "aimd": {"lambda": 7.5}}
    bare = platform_probe(SimpleNamespace(pools={}, dispatcher=object()))
    assert bare() == {"workers": {}}
    app = DashboardApp(DashboardSource(client, probe=probe))
    _, _, text = call(app, "GET", "/")
    assert "AIMD windows" in text and "7.5" in text

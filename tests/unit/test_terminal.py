"""``conveyor status``, ``get`` and ``list`` for people (rich) and machines (--json)."""

from __future__ import annotations

import json
from zoneinfo import ZoneInfo

import pytest
import typer
from rich.console import Console
from typer.testing import CliRunner

from conveyor import Catalog
from conveyor.dashboard.cli import register
from conveyor.model import TaskState
from conveyor.ports import FakeClock, now_ms
from conveyor.runtime.bootstrap import memory_runtime
from conveyor.views.tasks import task_detail
from conveyor.views.terminal import render_task, render_task_list

catalog = Catalog("terminal-test")
UTC = ZoneInfo("UTC")


@catalog.task()
def mail(payload, ctx):
    return {"sent": payload["to"]}


@pytest.fixture
def client():
    return memory_runtime(catalog, clock=FakeClock()).client()


def text_of(renderable) -> str:
    console = Console(width=160, record=True, color_system=None, force_terminal=False)
    with console.capture() as capture:
        console.print(renderable)
    return capture.get()


def finish(client, task_id: str, run_ms: int = 1500) -> None:
    clock = client.clock
    clock.advance(0.25)
    client.store.transition(
        task_id, TaskState.RUNNING, {"started_at": now_ms(clock)}, now_ms(clock),
        increments={"attempts": 1},
    )  # fmt: skip
    clock.advance(run_ms / 1000)
    client.store.transition(
        task_id, TaskState.SUCCEEDED,
        {"finished_at": now_ms(clock), "result": {"sent": "a@b"}, "queue_wait_ms": 250,
         "run_ms": run_ms},
        now_ms(clock),
    )  # fmt: skip


def test_get_renders_local_times_durations_timeline_and_result(client):
    task_id = client.submit("mail", {"to": "a@b"}, tenant="acme").task_id
    finish(client, task_id)
    now = now_ms(client.clock)
    text = text_of(render_task(task_detail(client, task_id, now), now, UTC))
    record = client.get(task_id)
    assert "2027-01-15 08:00:00.000 UTC" in text  # FakeClock's start, in the given zone
    assert str(record.created_at) not in text
    assert "250 ms" in text and "1.50 s" in text  # queue wait, run time
    assert "Attempts" in text and "succeeded" in text
    assert '"sent": "a@b"' in text
    assert "SUCCEEDED" in text and "acme" in text


def test_list_renders_rows_and_the_next_cursor(client):
    ids = [client.submit("mail", {"to": f"{i}@b"}).task_id for i in range(3)]
    page = client.list(limit=2)
    text = text_of(render_task_list(page.records, page.cursor, now_ms(client.clock), UTC))
    assert sum(i in text for i in ids) == 2
    assert f"--cursor {page.cursor}" in text and "QUEUED" in text


def app_for(client) -> typer.Typer:
    app = typer.Typer()
    register(app, lambda catalog: client, console=Console(width=200, color_system=None))
    return app


def test_cli_get_and_list_print_for_people_and_json_for_machines(client):
    task_id = client.submit("mail", {"to": "a@b"}).task_id
    finish(client, task_id)
    runner = CliRunner()
    app = app_for(client)
    human = runner.invoke(app, ["get", task_id])
    assert human.exit_code == 0, human.output
    assert "run time" in human.output and "1.50 s" in human.output
    machine = runner.invoke(app, ["get", task_id, "--json"])
    data = json.loads(machine.output)
    assert data["run_ms"] == 1500 and data["state"] == "SUCCEEDED"
    assert data["timeline"]["attempts"][0]["outcome"] == "succeeded"
    listing = json.loads(runner.invoke(app, ["list", "--json", "--limit", "5"]).output)
    assert [t["task_id"] for t in listing["tasks"]] == [task_id] and listing["cursor"] is None
    assert task_id in runner.invoke(app, ["list"]).output


def test_cli_status_prints_the_overview(client):
    client.submit("mail", {"to": "a@b"}, tenant="acme")
    client.pause(task_type="mail")
    result = CliRunner().invoke(app_for(client), ["status"])
    assert result.exit_code == 0, result.output
    out = result.output
    assert "lane backlog 1" in out and "conveyor-lane-normal-0" in out
    assert "mail paused" in out and "acme" in out


def test_status_states_the_lane_layout_and_its_blast_radius():
    from conveyor.topology import Topology

    rt = memory_runtime(catalog, Topology(prefix="mt", shards=8, spread=2, pool=4))
    rt.client().submit("mail", {"to": "a@b"}, tenant="acme")
    result = CliRunner().invoke(app_for(rt.client()), ["status"])
    assert result.exit_code == 0, result.output
    assert "8 per priority, 2 per tenant, 4 in the pool" in result.output
    assert "blast radius 3.57%" in result.output

"""The task page shows the task's exact attempt history and its trace (recorded spans)."""

from __future__ import annotations

from conveyor.dashboard.app import DashboardApp
from conveyor.runtime.bootstrap import memory_runtime
from conveyor.topology import Topology
from conveyor.views.source import DashboardSource
from conveyor.views.trace import trace_rows
from tests.support import ledger
from tests.unit.test_dashboard_app import call
from tests.unit.test_trace import spans  # noqa: F401 - the fixture


def test_task_page_shows_the_history_and_the_trace(spans):  # noqa: F811
    rt = memory_runtime(ledger.catalog, Topology(prefix="dtr"))
    for q in [*rt.topology.lanes, rt.topology.dlq]:
        rt.lanes.queues.setdefault(q, [])
    client = rt.client()
    task_id = client.submit("work", {"mode": "flaky", "ok_at": 2}).task_id
    rt.dispatcher(pause_refresh=0).drain(idle_passes=3, timeout=30)
    _, _, text = call(DashboardApp(DashboardSource(client)), "GET", f"/tasks/{task_id}")
    section = text[text.index('id="trace"') :]
    for name in ("admission", "queue", "invoke", "run", "retry"):
        assert f'class="spanbar {name}"' in section
    assert "outcome=retryable" in section and "outcome=ok" in section
    attempts = text[text.index('id="attempts"') : text.index('id="trace"')]
    assert attempts.count("<tr><td") == 2 and "RetryLater" in attempts
    assert "exact times for its latest attempt only" not in text
    rows = trace_rows(spans.of_task(task_id))
    assert rows[0].name == "admission" and rows[0].offset_ms == 0
    assert all(0 <= r.left <= 100 and r.width >= 0.5 for r in rows)
    assert {r.parent for r in rows if r.name == "run"} == {"invoke"}


def test_cost_page_says_when_a_deployment_keeps_no_ledger(tmp_path, monkeypatch):
    rt = memory_runtime(ledger.catalog, Topology(prefix="dco"))
    status, _, text = call(DashboardApp(DashboardSource(rt.client())), "GET", "/cost")
    assert status == 200 and "keeps no cost ledger" in text and 'href="/cost"' in text

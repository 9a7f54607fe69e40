"""Metrics as EMF lines on stdout: the sink, bounded tenant cardinality, and what the
dispatcher (with its reconciler) and a worker report, on the in-memory twins."""

from __future__ import annotations

import json
import threading
from collections import Counter

import pytest

from conveyor.runtime.bootstrap import memory_runtime
from conveyor.runtime.dispatch_metrics import DispatcherMetrics
from conveyor.runtime.metrics import OTHER, MetricsSink, TopTenants
from conveyor.runtime.worker import Worker
from conveyor.topology import Topology
from tests.support import ledger
from tests.unit.test_clocks import pump
from tests.unit.test_worker_faults import forward


def emf(capsys) -> list[dict]:
    """Every EMF document printed since the last call."""
    out = capsys.readouterr().out
    return [json.loads(line) for line in out.splitlines() if line.startswith('{"_aws"')]


def values(docs, metric, **dims) -> list[float]:
    """The values of ``metric`` in documents whose dimensions include ``dims``."""
    out = []
    for doc in docs:
        if metric in doc and all(doc.get(k) == v for k, v in dims.items()):
            value = doc[metric]
            out.extend(value if isinstance(value, list) else [value])
    return out


def test_sink_buffers_until_its_interval_then_writes_one_document_per_dimension_set(capsys):
    now = [0.0]
    sink = MetricsSink("svc", interval=60, monotonic=lambda: now[0])
    sink.count("done", type="a")
    sink.count("done", 2, type="a")
    sink.count("done", type="b")
    sink.gauge("depth", 5, lane="l1")
    sink.gauge("depth", 7, lane="l1")
    for ms in (10, 20, 30):
        sink.sample("run_time", ms, type="a")
    now[0] = 59.9
    assert not sink.maybe_flush() and emf(capsys) == []
    now[0] = 60.0
    assert sink.maybe_flush()
    docs = emf(capsys)
    assert len(docs) == 3  # (type=a), (type=b), (lane=l1)
    assert values(docs, "done", type="a") == [3.0] and values(docs, "done", type="b") == [1.0]
    assert values(docs, "depth", lane="l1") == [7.0]
    assert values(docs, "run_time", type="a") == [10.0, 20.0, 30.0]
    assert all(d["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "Conveyor" for d in docs)
    assert sink.flush() == 0  # emptied


def test_top_tenants_keeps_k_series_and_sums_the_rest_as_other():
    top = TopTenants(k=3)
    for i in range(50):
        top.add(f"t{i}", i + 1)
    report = top.report()
    assert set(report) == {"t49", "t48", "t47", OTHER}
    assert sum(report.values()) == sum(range(1, 51))
    assert report[OTHER] == sum(range(1, 48))
    assert top.report() == {}  # one interval at a time


@pytest.fixture
def rt(tmp_path, monkeypatch):
    monkeypatch.setenv("LEDGER_DIR", str(tmp_path))
    runtime = memory_runtime(ledger.catalog, Topology(prefix="met"))
    for q in [
        *runtime.topology.lanes,
        runtime.topology.dlq,
        runtime.topology.work_queue("long_job"),
    ]:
        runtime.lanes.queues.setdefault(q, [])
    return runtime


def test_the_dispatcher_reports_lanes_dlq_outcomes_holds_and_top_tenants(rt, capsys):
    client = rt.client()
    dispatcher = rt.dispatcher(pause_refresh=0)
    reporter = DispatcherMetrics(dispatcher, MetricsSink("conveyor-dispatcher", interval=60))
    reporter.executor.dispatches.k = reporter.executor.seconds.k = 5
    for i in range(24):
        client.submit("work", {"mode": "fatal" if i < 2 else "ok"}, tenant=f"t{i % 12}")
    client.pause(task_type="other")
    held = client.submit("other", {}, tenant="t0").task_id
    pump(dispatcher, passes=6)
    emf(capsys)
    reporter.report()
    docs = emf(capsys)
    assert values(docs, "dispatched", type="work") == [24.0]
    assert values(docs, "dlq_depth") == [2.0]
    assert values(docs, "settled", kind="paused") == [1.0]
    assert values(docs, "settled", kind="fatal") == [2.0]
    lanes = {d["lane"] for d in docs if "backlog" in d}
    assert lanes == set(rt.topology.lanes)
    assert values(docs, "backlog", lane=client.get(held).lane) == [0.0]  # held: in flight
    assert {d["lane"] for d in docs if "held" in d} == set(rt.topology.lanes)
    tenants = {
        d["tenant"]: values([d], "tenant_dispatches")[0] for d in docs if "tenant_dispatches" in d
    }
    assert len(tenants) == 6 and OTHER in tenants  # 5 + other, of 12 tenants
    assert sum(tenants.values()) == 24
    seconds = [d for d in docs if "tenant_executor_seconds" in d]
    units = {
        m["Name"]: m["Unit"] for d in seconds for m in d["_aws"]["CloudWatchMetrics"][0]["Metrics"]
    }
    assert len(seconds) == 6 and units["tenant_executor_seconds"] == "Seconds"
    assert values(docs, "oldest_age", priority="normal")[0] >= 0
    windows = {d["target"]: values([d], "aimd_window")[0] for d in docs if "aimd_window" in d}
    assert windows == {t: float(n) for t, n in dispatcher.fair.windows().items()} and windows
    reporter.report()  # nothing happened since: counters report deltas
    again = emf(capsys)
    assert values(again, "dispatched") == [] and values(again, "received") == [0.0]


def test_the_reconcilers_pass_counters_are_reported_as_deltas(rt, capsys):
    class Passes:
        stats: Counter[str] = Counter(resent=3, scanned=40)

    reporter = DispatcherMetrics(rt.dispatcher(), MetricsSink("d", interval=60), Passes())
    reporter.report()
    assert values(emf(capsys), "reconciler_resent") == [3.0]
    Passes.stats.update(resent=2)
    reporter.report()
    docs = emf(capsys)
    assert values(docs, "reconciler_resent") == [2.0] and values(docs, "reconciler_scanned") == []


def test_a_worker_reports_outcomes_and_its_tenants_executor_seconds(rt, capsys):
    client = rt.client()
    forward(rt, client, 2, chunks=1, chunk_seconds=0.01)
    worker = Worker(rt, "long_job", heartbeat=5, lease=30, wait_seconds=0)
    for message in rt.lanes.receive(worker.queue, max_messages=10):
        worker.handle(message, threading.Event())
    emf(capsys)
    worker.flush_metrics()
    docs = emf(capsys)
    assert values(docs, "settled", kind="ok", type="long_job") == [2.0]
    (spent,) = values(docs, "tenant_executor_seconds", tenant="default")
    assert spent > 0


def test_the_submit_function_counts_back_pressure_refusals(capsys, monkeypatch):
    from conveyor.errors import Overloaded
    from functions.submit import app
    from tests.integration.test_lambda_entry import Context

    class Refusing:
        def submit(self, *args, **kwargs):
            raise Overloaded("tenant t1 is over its share", retry_after=3)

    class Owner:  # the caller resolved as the platform owner
        def caller(self, event):
            from conveyor.runtime.http_api import OWNER

            return OWNER

    monkeypatch.setattr(app, "_client", Refusing())
    monkeypatch.setattr(app, "_access", Owner())
    event = {
        "rawPath": "/tasks/work",
        "requestContext": {"http": {"method": "POST"}},
        "headers": {"content-type": "application/json"},
        "body": json.dumps({"payload": {}}),
    }
    capsys.readouterr()
    response = app.handler(event, Context())
    assert response["statusCode"] == 429
    docs = emf(capsys)
    assert values(docs, "backpressure_refusals") == [1.0] and values(docs, "submits") == [0.0]


def test_the_running_service_reports_its_metrics(rt, capsys, monkeypatch):
    import time

    monkeypatch.setenv("CONVEYOR_METRICS_SECONDS", "0.2")
    dispatcher = rt.dispatcher(pause_refresh=0, reconcile_every=None)
    lane = rt.store.get(rt.client().submit("work", {"mode": "ok"}).task_id).lane
    stop = threading.Event()
    thread = threading.Thread(target=dispatcher.run, args=(stop,), kwargs={"wait_seconds": 0})
    thread.start()
    try:
        deadline, docs = time.monotonic() + 10, []
        while time.monotonic() < deadline and not values(docs, "oldest_age_received"):
            time.sleep(0.1)
            docs += emf(capsys)
    finally:
        stop.set()
        thread.join(timeout=10)
    assert values(docs, "dlq_depth") and {d["service"] for d in docs} == {"conveyor-dispatcher"}
    assert [d["lane"] for d in docs if "oldest_age_received" in d] == [lane]
    assert type(dispatcher.executor).__name__ == "MeteredExecutor"


def test_the_look_ahead_reports_held_messages_and_their_extensions(capsys):
    from conveyor.ports import FakeClock

    clock = FakeClock()
    rt = memory_runtime(ledger.catalog, Topology(prefix="met"), clock=clock)  # 30 s visibility
    client = rt.client()
    lane = client.get(client.submit("work", {"mode": "ok"}).task_id).lane
    for _ in range(11):
        client.submit("work", {"mode": "ok"})
    dispatcher = rt.dispatcher(lane_visibility=30, pause_refresh=3600)
    reporter = DispatcherMetrics(dispatcher, MetricsSink("conveyor-dispatcher", interval=60))
    for _ in range(2):
        dispatcher.ingest(lane, rt.lanes.receive(lane, max_messages=dispatcher.room(lane)))
    clock.advance(21)
    assert dispatcher.extend_held() == 12
    emf(capsys)
    reporter.report()
    docs = emf(capsys)
    assert values(docs, "held", lane=lane) == [12.0]
    assert values(docs, "held_extended") == [12.0] and values(docs, "held_dropped") == []
    reporter.report()
    assert values(emf(capsys), "held_extended") == []  # deltas
    dispatcher.settle_running()

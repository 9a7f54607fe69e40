"""The Fargate worker on the in-memory twins, with lane and store calls that fail: no
transient error stops it or reaches the running handler, and nothing is lost."""

from __future__ import annotations

import random
import threading
import time

from conveyor.memory.faulty import Faults, FaultyLanes, FaultyTaskStore
from conveyor.model import TaskState
from conveyor.ports import OutMessage
from conveyor.runtime.bootstrap import memory_runtime
from conveyor.runtime.worker import Worker
from tests.support import ledger


class SlowEmptyLanes(FaultyLanes):
    """An empty receive waits a little, as a long poll would (no busy loop)."""

    def receive(self, queue, **kwargs):
        got = super().receive(queue, **kwargs)
        if not got:
            time.sleep(0.02)
        return got


def setup(tmp_path, monkeypatch, faults: Faults, lane_ops, store_ops=()):
    monkeypatch.setenv("LEDGER_DIR", str(tmp_path))
    rt = memory_runtime(ledger.catalog)
    client = rt.client()
    rt.lanes = SlowEmptyLanes(rt.lanes, faults, ops=lane_ops)
    rt.store = FaultyTaskStore(rt.store, faults, ops=store_ops)
    return rt, client


def forward(rt, client, n: int, **payload) -> list[str]:
    """Submit ``n`` long_job tasks and move their messages to the work queue."""
    ids = [client.submit("long_job", payload).task_id for _ in range(n)]
    lane = client.get(ids[0]).lane
    queue = rt.topology.work_queue("long_job")
    moved = 0
    while moved < n:
        for m in client.lanes.receive(lane, max_messages=10):
            client.lanes.send(queue, [OutMessage(body=m.body, group="t", id=str(moved))])
            client.lanes.delete(lane, [m.receipt])
            moved += 1
    return ids


def test_failing_heartbeats_never_stop_the_worker_or_the_handler(tmp_path, monkeypatch):
    """Every ChangeMessageVisibility and every lease extension fails: the handler still
    finishes, the outcome is written and the message is deleted."""
    faults = Faults(random.Random(1), error=1.0)
    rt, client = setup(tmp_path, monkeypatch, faults, {"change_visibility"}, {"update"})
    (task_id,) = forward(rt, client, 1, chunks=4, chunk_seconds=0.05)
    worker = Worker(rt, "long_job", heartbeat=0.02, lease=30, wait_seconds=0)
    (message,) = rt.lanes.receive(worker.queue, max_messages=1)
    worker.handle(message, threading.Event())
    assert client.get(task_id).state is TaskState.SUCCEEDED
    assert faults.counts["change_visibility:error"] > 0
    assert faults.counts["update:error"] > 0
    assert rt.lanes.depth(worker.queue).in_flight == 0  # deleted
    assert ledger.effects()[task_id] == 1


def test_the_worker_loop_survives_failed_receives_acks_and_writes(tmp_path, monkeypatch):
    """Receives, deletes and state writes fail (before or after applying): the loop keeps
    going, every task ends SUCCEEDED with one side effect, and the queue drains."""
    faults = Faults(random.Random(3), error=0.2, lost=0.2)
    rt, client = setup(
        tmp_path, monkeypatch, faults, {"receive", "delete"}, {"transition", "update"}
    )
    faults.enabled = False
    ids = forward(rt, client, 6, chunks=1, chunk_seconds=0.01)
    faults.enabled = True
    worker = Worker(rt, "long_job", heartbeat=0.05, lease=1, wait_seconds=0)
    worker.runner.sleep = lambda s: time.sleep(min(s, 0.01))
    stop = threading.Event()
    thread = threading.Thread(target=worker.run, args=(stop,), daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    try:
        while time.monotonic() < deadline:
            depth = client.lanes.depth(worker.queue)
            states = {client.get(i).state for i in ids}
            if states == {TaskState.SUCCEEDED} and not (depth.visible or depth.in_flight):
                break
            time.sleep(0.05)
            assert thread.is_alive(), "the worker loop died"
    finally:
        stop.set()
        thread.join(10)
    assert {client.get(i).state for i in ids} == {TaskState.SUCCEEDED}
    assert sum(faults.counts.values()) > 0
    effects = ledger.effects()
    assert [effects[i] for i in ids] == [1] * len(ids)

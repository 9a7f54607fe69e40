"""Several dispatchers on the dev cloud: three ``conveyor dispatcher`` processes share a
multi-tenant topology through lane leases; one is killed with SIGKILL mid-run. Its lanes
are taken over within the lease time, no task is lost or run twice (beyond re-running
what the dead process was running), and a global rate limit holds across them.

Compressed clock (``tests.support.services.FAST``): leases of 3 s renewed every 0.5 s,
lanes hiding a message for 5 s, an attempt's lease 2 s past its timeout.
"""

from __future__ import annotations

import os
import signal
import time
from collections import Counter

import pytest

from conveyor.local.devcloud import DevCloud, dev_runtime
from conveyor.model import TaskState
from conveyor.topology import Topology
from tests.support import ledger, tenants
from tests.support.services import (
    HEARTBEAT,
    LEASE,
    leases,
    shorten_lanes,
    start_dispatcher,
    stop_all,
)
from tests.support.waiting import wait_for
from tests.support.windows import most_starts

pytestmark = pytest.mark.e2e

MEMBERS = ("d1", "d2", "d3")
TENANTS = 10
TASKS = 240
#: Tasks of the rate-limited type, submitted first: unlimited, they would start as fast
#: as the dispatchers pull (several times the limit).
METERED = 60
#: Sliding window (s) over which starts of the rate-limited type are counted.
WINDOW = 3.0


def test_most_starts_counts_the_busiest_window():
    assert most_starts([0.0, 0.1, 0.2, 5.0, 5.5, 5.9, 6.0], 1.0) == 3
    assert most_starts([], 1.0) == 0


def test_three_dispatchers_one_killed_lanes_taken_over_nothing_lost_rate_held(
    tmp_path, monkeypatch
):
    monkeypatch.setenv("LEDGER_DIR", str(tmp_path))
    topology = Topology(prefix="e2e-many", shards=2, spread=2)
    with DevCloud(tenants.catalog, topology, catalog_module="tests.support.tenants") as cloud:
        rt = dev_runtime(cloud)
        ddb, table = rt.store.ddb, topology.table
        shorten_lanes(cloud.clients().sqs, topology.lanes)
        procs = {m: start_dispatcher(cloud, m, tmp_path) for m in MEMBERS}
        try:

            def shared() -> bool:
                held = leases(ddb, table, topology.lanes)
                owners = {owner for owner, _ in held.values()}
                return set(held) == set(topology.lanes) and owners == set(MEMBERS)

            wait_for(shared, timeout=30)  # every lane held, each member holding some
            client = rt.client()
            priorities = ("high", "normal", "low")
            requests = [
                {
                    "task_type": "metered" if i < METERED else "job",
                    "payload": {"n": i},
                    "tenant": f"t{i % TENANTS}",
                    "priority": priorities[i % 3],
                }
                for i in range(TASKS)
            ]
            submitted = client.submit_many(requests)
            assert [s.status for s in submitted] == ["created"] * TASKS
            ids = [s.task_id for s in submitted]

            wait_for(lambda: len(ledger.effects()) >= TASKS // 4, timeout=40)
            current = leases(ddb, table, topology.lanes)
            victim = Counter(o for o, _ in current.values()).most_common(1)[0][0]
            lost_lanes = [lane for lane, (o, _) in current.items() if o == victim]
            os.kill(procs[victim].pid, signal.SIGKILL)
            killed_at = time.time()
            procs[victim].wait(10)

            taken: dict[str, tuple[str, float]] = {}  # lane -> (new owner, first seen)
            deadline = time.monotonic() + LEASE * 4
            while time.monotonic() < deadline and len(taken) < len(lost_lanes):
                for lane, (owner, _) in leases(ddb, table, lost_lanes).items():
                    if owner != victim and lane not in taken:
                        taken[lane] = (owner, time.time())
                time.sleep(0.1)
            assert set(taken) == set(lost_lanes), (taken, lost_lanes)
            takeover = max(at for _, at in taken.values()) - killed_at
            # at most lease + heartbeat, plus our polling and the survivors' tick itself
            assert takeover <= LEASE + HEARTBEAT + 1.0, takeover
            survivors = set(MEMBERS) - {victim}
            assert {o for o, _ in taken.values()} <= survivors

            wait_for(lambda: len(ledger.effects()) >= TASKS, timeout=45, every=0.5)
            records = [client.get(i) for i in ids]
        finally:
            stop_all(procs.values())
    assert Counter(r.state for r in records) == {TaskState.SUCCEEDED: TASKS}
    effects = ledger.effects()
    reruns = {i: n for i, n in effects.items() if n > 1}
    # A handler the killed process was running may run again (at-least-once), each time
    # in a new attempt; nothing else runs twice.
    assert len(reruns) <= 16  # the killed process's executor threads
    by_id = {r.task_id: r for r in records}
    assert all(by_id[i].starts >= n for i, n in reruns.items()), reruns
    assert set(effects) == set(ids)

    starts = [r.started_at / 1000 for r in records if r.task_type == "metered"]
    assert len(starts) == METERED
    bound = tenants.METERED_RATE * WINDOW + tenants.METERED_BURST
    busiest = most_starts(starts, WINDOW)
    print(
        f"\ntakeover {takeover:.2f}s of lanes {sorted(taken)}; metered starts: busiest "
        f"{WINDOW:g}s window {busiest} vs bound {bound:g}; re-runs {len(reruns)}"
    )
    assert busiest <= 1.1 * bound

"""One lane, a noisy tenant and a quiet one on the dev cloud: fairness reaches as deep
as the dispatcher's look-ahead (moto's lanes are first-come, first-served, and ignore
SQS fair queues, so this is the worst case for a single lane).

One ``conveyor dispatcher`` process, one shard per class, so every ``chunk`` task goes
to the same normal lane. The noisy tenant submits 200 ``chunk`` tasks (0.1 s each, 2 at
a time: 10 s of work at the very least), the quiet tenant 2 right after (100x fewer),
then a third tenant 24 ``metered`` tasks (6/s, burst 3). The dispatcher holds up to 200
messages of the lane, extending their visibility (lanes hide a message for 5 s here),
so the quiet tasks are received behind the noisy backlog and the fair scheduler starts
them next. From the records' start times: the quiet tasks' queue wait stays under
``QUIET_BOUND`` while served first-come they would wait behind all 200 (>= 10 s), and
``metered`` starts never exceed rate x W + burst in any window W.
"""

from __future__ import annotations

import pytest

from conveyor import SubmitRequest
from conveyor.local.devcloud import DevCloud, dev_runtime
from conveyor.model import TaskState
from conveyor.topology import Topology
from tests.support import ledger, tenants
from tests.support.services import shorten_lanes, start_dispatcher, stop_all
from tests.support.waiting import wait_terminal
from tests.support.windows import most_starts

pytestmark = pytest.mark.e2e

NOISY = 200
QUIET = 2
METERED = 24
#: Seconds a quiet task may wait from submit to start (first-come: >= FIFO_FLOOR).
QUIET_BOUND = 7.0
#: The least a task behind the noisy backlog would wait first-come: 200 x 0.1 s / 2.
FIFO_FLOOR = NOISY * tenants.CHUNK_SECONDS / tenants.CHUNK_CONCURRENCY
WINDOWS = (1.0, 2.0, 3.0)


def test_a_quiet_tenant_behind_a_noisy_backlog_in_one_lane_waits_within_the_bound(
    tmp_path, monkeypatch
):
    monkeypatch.setenv("LEDGER_DIR", str(tmp_path))
    topology = Topology(prefix="e2e-look")
    with DevCloud(tenants.catalog, topology, catalog_module="tests.support.tenants") as cloud:
        rt = dev_runtime(cloud)
        shorten_lanes(cloud.clients().sqs, topology.lanes)
        proc = start_dispatcher(cloud, "d1", tmp_path)
        client = rt.client()
        try:
            warm = client.submit("job", {}, tenant="warm").task_id
            wait_terminal(client, [warm], timeout=20)  # the dispatcher is serving
            noisy = [
                s.task_id
                for s in client.submit_many(
                    [SubmitRequest("chunk", {"n": i}, tenant="noisy") for i in range(NOISY)]
                )
            ]
            quiet = [client.submit("chunk", {}, tenant="quiet").task_id for _ in range(QUIET)]
            metered = [
                s.task_id
                for s in client.submit_many(
                    [SubmitRequest("metered", {"n": i}, tenant="meter") for i in range(METERED)]
                )
            ]
            lanes = {client.get(i).lane for i in (noisy[0], noisy[-1], *quiet)}
            assert len(lanes) == 1  # one lane
            done = wait_terminal(client, quiet + metered, timeout=25)
            records = {i: client.get(i) for i in noisy}
        finally:
            stop_all([proc])
    assert {r.state for r in done} == {TaskState.SUCCEEDED}
    by_id = {r.task_id: r for r in done}
    waits = [(by_id[i].started_at - by_id[i].created_at) / 1000 for i in quiet]
    last_quiet = max(by_id[i].started_at for i in quiet)
    # noisy tasks submitted before the quiet ones and started after them (first-come
    # would have started every one of them first)
    overtaken = [i for i, r in records.items() if r.started_at is None or r.started_at > last_quiet]
    starts = [by_id[i].started_at / 1000 for i in metered]
    busiest = {w: most_starts(starts, w) for w in WINDOWS}
    bounds = {w: tenants.METERED_RATE * w + tenants.METERED_BURST for w in WINDOWS}
    print(
        f"\nquiet queue wait max {max(waits):.2f}s (bound {QUIET_BOUND:g}s; first-come "
        f">= {FIFO_FLOOR:g}s); noisy overtaken {len(overtaken)} of {NOISY}; metered busiest "
        + ", ".join(f"{w:g}s: {busiest[w]} <= {bounds[w]:g}" for w in WINDOWS)
    )
    assert max(waits) <= QUIET_BOUND < FIFO_FLOOR
    assert len(overtaken) >= NOISY // 2
    # Start times are written just after each dispatch, so one start may land in a window
    # its dispatch was not in: one start of slack (an unmetered run starts all 24 at once).
    assert all(busiest[w] <= bounds[w] + 1 for w in WINDOWS), busiest
    effects = ledger.effects()
    assert all(effects[i] == 1 for i in quiet + metered)
    assert set(effects.values()) == {1}  # nothing ran twice (the noisy ones that ran too)

"""A heavy tenant in miniature on the dev cloud (moto ignores SQS fair queues, so this is
the worst case): one ``conveyor dispatcher`` process, two shards per class and one pool
lane. The heavy producer outruns the dispatcher; the heavy tenant is split to the pool
lane (``ctl#routes``), refused with ``Overloaded`` by the SDK and with 429 + Retry-After
by the HTTP API (each producer calls as an IAM role the owner mapped to its tenant:
``ctl#principal#`` items, the loopback server's principal header) while quiet producers
are admitted; quiet tasks finish before the heavy
backlog; once the heavy tenant cools down its route drains and is released. Nothing is
lost or run twice.

Compressed clock, on top of ``tests.support.services.FAST``: a 1 s Sample-and-Hold
window, split after 0.5 s heavy, merge after 3 s cool, overloaded when the oldest task
waits 3 s; producers refresh their cached control view every 0.2 s.
"""

from __future__ import annotations

import http.client
import json
import time

import pytest

from conveyor.aws.principals import DynamoPrincipals
from conveyor.errors import Overloaded
from conveyor.local.devcloud import DevCloud, dev_runtime
from conveyor.local.http_server import serve
from conveyor.model import TaskState
from conveyor.ports import Grant
from conveyor.runtime.access import PRINCIPAL_HEADER
from conveyor.topology import Topology
from tests.support import ledger, tenants
from tests.support.services import leases, shorten_lanes, start_dispatcher, stop_all
from tests.support.waiting import wait_for

pytestmark = pytest.mark.e2e

COMPRESSED = {
    "CONVEYOR_HEAVY_WINDOW": "1",
    "CONVEYOR_POOL_HOT_SECONDS": "0.5",
    "CONVEYOR_POOL_COOL_SECONDS": "3",
    "CONVEYOR_BACKLOG_MAX_AGE": "3",
}
HEAVY = "big"
QUIET = [f"q{i}" for i in range(5)]
MAX_HEAVY = 400
#: Seconds between the heavy producer's batches of 10: about 25 tasks/s, more than the
#: dispatcher drains (``chunk``: 2 at a time, 0.1 s each, plus moto's own time).
PACE = 0.3


def principal(tenant: str) -> str:
    return f"arn:aws:iam::000000000000:role/{tenant}-producer"


def http_submit(port: int, tenant: str) -> tuple[int, dict[str, str], dict[str, object]]:
    """POST a ``chunk`` task as ``tenant``'s producer role: the API takes the tenant from
    the caller's identity (the loopback server's principal header), not from the body."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        body = json.dumps({"payload": {"via": "http"}})
        headers = {"content-type": "application/json", PRINCIPAL_HEADER: principal(tenant)}
        conn.request("POST", "/tasks/chunk", body, headers)
        response = conn.getresponse()
        headers = {k.lower(): v for k, v in response.getheaders()}
        return response.status, headers, json.loads(response.read())
    finally:
        conn.close()


def test_a_heavy_tenant_is_split_refused_and_merged_back_while_quiet_ones_go_first(
    tmp_path, monkeypatch
):
    monkeypatch.setenv("LEDGER_DIR", str(tmp_path))
    topology = Topology(prefix="e2e-heavy", shards=2, spread=2, pool=1)
    pool_lane = topology.pool_lanes[0]
    with DevCloud(tenants.catalog, topology, catalog_module="tests.support.tenants") as cloud:
        rt = dev_runtime(cloud)
        ddb, table = rt.store.ddb, topology.table
        shorten_lanes(cloud.clients().sqs, topology.lanes)
        proc = start_dispatcher(cloud, "d1", tmp_path, COMPRESSED)
        client = rt.client()
        client.edge.cache.max_age = 0.2
        directory = DynamoPrincipals(ddb, table)
        for tenant in [HEAVY, *QUIET]:
            directory.grant(principal(tenant), Grant(tenant))
        server, _ = serve(client)
        try:
            wait_for(lambda: len(leases(ddb, table, topology.lanes)) == len(topology.lanes))
            heavy: list[str] = []
            refusals = 0

            def produce() -> None:
                nonlocal refusals
                batch = client.submit_many(
                    [{"task_type": "chunk", "payload": {}, "tenant": HEAVY} for _ in range(10)]
                )
                heavy.extend(s.task_id for s in batch if s.status == "created")
                refusals += sum(s.status == "refused" for s in batch)
                time.sleep(PACE)

            def split_seen() -> object:
                produce()
                return rt.control.routes().routes.get(HEAVY)

            split = wait_for(split_seen, timeout=20, every=0)  # then it lands in the pool
            assert split.lane == pool_lane and not split.draining
            # Keep producing until the SDK and the HTTP API both refuse the heavy tenant.
            sdk_refusal: Overloaded | None = None
            http_refusal: tuple[int, dict[str, str], dict[str, object]] | None = None

            def refused_both() -> bool:
                nonlocal sdk_refusal, http_refusal
                produce()
                try:
                    heavy.append(client.submit("chunk", {}, tenant=HEAVY).task_id)
                except Overloaded as exc:
                    sdk_refusal = exc
                answer = http_submit(server.server_port, HEAVY)
                if answer[0] == 202:
                    heavy.append(str(answer[2]["id"]))
                else:
                    http_refusal = answer
                return sdk_refusal is not None and http_refusal is not None

            wait_for(refused_both, timeout=25, every=0)
            assert len(heavy) <= MAX_HEAVY
            assert sdk_refusal is not None and sdk_refusal.retry_after >= 1
            assert http_refusal is not None
            status, headers, body = http_refusal
            assert (status, body["error"]) == (429, "Overloaded"), body
            assert HEAVY in str(body["message"]) and "backlog" in str(body["message"])
            assert int(headers["retry-after"]) >= 1
            quiet = [client.submit("chunk", {}, tenant=t).task_id for t in QUIET for _ in range(3)]
            for tenant in QUIET:
                status, _, body = http_submit(server.server_port, tenant)
                assert status == 202, body
                quiet.append(str(body["id"]))

            states = []

            def released() -> bool:
                route = rt.control.routes().routes.get(HEAVY)
                states.append(None if route is None else route.draining)
                return route is None and len(ledger.effects()) >= len(heavy) + len(quiet)

            wait_for(released, timeout=45, every=0.3)
            records = {i: client.get(i) for i in heavy + quiet}
        finally:
            server.shutdown()
            server.server_close()
            stop_all([proc])
    assert {r.state for r in records.values()} == {TaskState.SUCCEEDED}
    effects = ledger.effects()
    assert set(effects) == set(records) and set(effects.values()) == {1}
    assert True in states  # merged (draining) before it was released
    # tasks sent over HTTP carry the tenant of the caller's identity
    assert [records[i].tenant for i in quiet[-len(QUIET) :]] == QUIET
    in_pool = sum(records[i].lane == pool_lane for i in heavy)
    assert in_pool and not any(records[i].lane == pool_lane for i in quiet)

    # The heavy tenant's backlog when the quiet tasks arrived: admitted before them, not
    # yet started. Served first-come (moto's lanes, no pool), all of it would run first.
    arrived = min(records[i].created_at for i in quiet)
    backlog = [
        i for i in heavy if records[i].created_at < arrived and records[i].started_at > arrived
    ]
    last_quiet = max(records[i].finished_at for i in quiet)
    behind = [i for i in backlog if records[i].finished_at > last_quiet]
    waits = sorted((records[i].started_at - records[i].created_at) / 1000 for i in quiet)
    print(
        f"\nheavy admitted {len(heavy)} ({in_pool} to {split.lane}), {refusals} refused "
        f"in batches; quiet {len(quiet)} tasks: max queue wait {waits[-1]:.1f}s; heavy "
        f"backlog when they arrived {len(backlog)}, finishing after the last quiet one "
        f"{len(behind)}; draining seen {states.count(True)} polls"
    )
    assert len(backlog) >= 10
    assert len(behind) >= len(backlog) / 2

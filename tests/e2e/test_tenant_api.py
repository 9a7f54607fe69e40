"""The tenant boundary on the dev cloud: principals mapped by items in the dev cloud's
table (as in AWS), requests acting as them through the loopback server's
``x-conveyor-principal`` header: 403 across tenants, 200/202 within, an admin (from
``CONVEYOR_ADMIN_PRINCIPALS``) on every tenant, and the tasks then run."""

from __future__ import annotations

import http.client
import json

import pytest

from conveyor import TaskState
from conveyor.aws.principals import DynamoPrincipals
from conveyor.local.devcloud import DevCloud, dev_runtime
from conveyor.local.http_server import post, serve
from conveyor.ports import Grant
from conveyor.runtime.access import PRINCIPAL_HEADER
from conveyor.topology import Topology
from examples.catalog import catalog as example_catalog
from tests.support.waiting import wait_terminal

pytestmark = pytest.mark.e2e

ACME = "arn:aws:iam::000000000000:role/acme-producer"
GLOBEX = "arn:aws:iam::000000000000:role/globex-producer"
OPS = "arn:aws:sts::000000000000:assumed-role/ops/alice"


def call(port, method, path, principal):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request(method, path, headers={PRINCIPAL_HEADER: principal})
        response = conn.getresponse()
        return response.status, json.loads(response.read())
    finally:
        conn.close()


def test_tenants_are_kept_apart_over_http_on_the_dev_cloud(monkeypatch):
    monkeypatch.setenv("CONVEYOR_ADMIN_PRINCIPALS", "arn:aws:iam::000000000000:role/ops")
    with DevCloud(
        example_catalog, Topology(prefix="e2e-tenant"), catalog_module="examples.catalog"
    ) as cloud:
        rt = dev_runtime(cloud)
        client = rt.client()
        directory = DynamoPrincipals(rt.store.ddb, rt.topology.table)
        directory.grant(ACME, Grant("acme"))
        directory.grant(GLOBEX, Grant("globex"))
        server, _ = serve(client)
        port = server.server_port
        url = f"http://127.0.0.1:{port}/tasks/send_welcome_email"
        try:
            mine = {"payload": {"email": "a@acme.test"}, "id": "acme-1"}
            assert post(url, mine, ACME)[0] == 202
            assert post(url, {"payload": {"email": "g@x"}, "tenant": "acme"}, GLOBEX)[0] == 403
            assert call(port, "GET", "/tasks/acme-1", GLOBEX)[0] == 403
            assert call(port, "DELETE", "/tasks/acme-1", GLOBEX)[0] == 403
            status, body = call(port, "GET", "/tasks/acme-1", ACME)
            assert (status, body["tenant"]) == (200, "acme")
            theirs = {"payload": {"email": "o@globex.test"}, "id": "globex-1", "tenant": "globex"}
            assert post(url, theirs, OPS)[0] == 202  # an admin session, for another tenant
            assert call(port, "GET", "/tasks/globex-1", GLOBEX)[0] == 200
            assert call(port, "GET", "/tasks/acme-1", OPS)[0] == 200
            rt.dispatcher().drain(idle_passes=2, timeout=60)
            records = wait_terminal(client, ["acme-1", "globex-1"])
            assert [r.state for r in records] == [TaskState.SUCCEEDED] * 2
            assert [r.tenant for r in records] == ["acme", "globex"]
        finally:
            server.shutdown()
            server.server_close()

"""Tenant boundaries at the HTTP edge, over HTTP on the loopback server: the caller's
tenant comes from its principal, never from the body; across tenants every answer is 403
(an unknown ID too, so nothing leaks); within, 200/202; an admin acts on all; the
platform owner (no principal) keeps full access. Then the same directory on DynamoDB
(moto), and the deployed Lambda's event shape (an assumed-role session)."""

from __future__ import annotations

import http.client
import json

import pytest

from conveyor.client import Conveyor
from conveyor.errors import Forbidden
from conveyor.local.http_server import serve
from conveyor.memory.principals import MemoryPrincipals
from conveyor.model import TaskState
from conveyor.ports import FakeClock, Grant
from conveyor.runtime.access import PRINCIPAL_HEADER, TenantAccess, principal_key
from conveyor.runtime.http_api import handle
from tests.support.api_events import api_event as _event

TYPE = "/tasks/send_welcome_email"
ACME = "arn:aws:iam::111122223333:role/acme-producer"
GLOBEX = "arn:aws:iam::111122223333:role/globex-producer"
ADMIN = "arn:aws:iam::111122223333:role/ops"
STRANGER = "arn:aws:iam::111122223333:user/nobody"


@pytest.fixture
def directory():
    found = MemoryPrincipals()
    found.grant(ACME, Grant("acme"))
    found.grant(GLOBEX, Grant("globex"))
    found.grant(ADMIN, Grant(None, admin=True))
    return found


@pytest.fixture
def clock():
    return FakeClock(1_000.0)


@pytest.fixture
def sdk(example_catalog, clock):
    return Conveyor.in_memory(example_catalog, clock=clock)


@pytest.fixture
def server(sdk, directory, clock):
    access = TenantAccess(directory, clock, anonymous_is_owner=True)
    srv, _ = serve(sdk, access=access)
    yield srv
    srv.shutdown()
    srv.server_close()


def call(server, method, path, body=None, principal=None):
    conn = http.client.HTTPConnection("127.0.0.1", server.server_port, timeout=10)
    headers = {"content-type": "application/json"}
    if principal:
        headers[PRINCIPAL_HEADER] = principal
    try:
        data = None if body is None else json.dumps(body).encode()
        conn.request(method, path, body=data, headers=headers)
        response = conn.getresponse()
        return response.status, json.loads(response.read())
    finally:
        conn.close()


def submit(server, principal, task_id, **extra):
    body = {"payload": {"email": f"{task_id}@example.com"}, "id": task_id, **extra}
    return call(server, "POST", TYPE, body, principal)


def test_a_caller_submits_reads_and_cancels_its_own_tenants_tasks(server, sdk):
    status, body = submit(server, ACME, "a-1")
    assert (status, body["status"]) == (202, "created")
    assert sdk.get("a-1").tenant == "acme"  # from the principal: the body named none
    assert submit(server, ACME, "a-2", tenant="acme")[0] == 202
    status, body = call(server, "GET", "/tasks/a-1", principal=ACME)
    assert (status, body["tenant"]) == (200, "acme")
    status, body = call(server, "DELETE", "/tasks/a-1", principal=ACME)
    assert (status, body["state"]) == (200, "CANCELLED")


def test_another_tenants_task_is_403_and_unchanged(server, sdk):
    assert submit(server, ACME, "a-1")[0] == 202
    for method in ("GET", "DELETE"):
        status, body = call(server, method, "/tasks/a-1", principal=GLOBEX)
        assert (status, body["error"]) == (403, "Forbidden"), (method, body)
    assert sdk.get("a-1").state is TaskState.QUEUED  # the DELETE cancelled nothing


def test_an_unknown_id_answers_like_another_tenants_task(server):
    assert submit(server, ACME, "a-1")[0] == 202
    _, foreign = call(server, "GET", "/tasks/a-1", principal=GLOBEX)
    status, unknown = call(server, "GET", "/tasks/no-such-task", principal=GLOBEX)
    assert status == 403
    assert foreign["message"].replace("a-1", "X") == unknown["message"].replace("no-such-task", "X")
    assert call(server, "GET", "/tasks/no-such-task", principal=ADMIN)[0] == 404


def test_a_body_naming_another_tenant_is_403_and_writes_nothing(server, sdk):
    status, body = submit(server, ACME, "a-1", tenant="globex")
    assert (status, body["error"]) == (403, "Forbidden")
    assert sdk.store.records == {}


def test_resubmitting_another_tenants_id_reveals_nothing(server, sdk):
    assert submit(server, ACME, "shared")[0] == 202
    # same ID and payload: a duplicate for acme, a 403 for globex (not its state)
    status, body = call(
        server,
        "POST",
        TYPE,
        {"payload": {"email": "shared@example.com"}, "id": "shared"},
        GLOBEX,
    )
    assert (status, body["error"]) == (403, "Forbidden")
    # another payload: a 409 for acme, still a 403 for globex
    other = {"payload": {"email": "other@example.com"}, "id": "shared"}
    assert call(server, "POST", TYPE, other, GLOBEX)[0] == 403
    assert call(server, "POST", TYPE, other, ACME)[0] == 409
    assert sdk.get("shared").tenant == "acme"


def test_an_unmapped_principal_is_403_everywhere(server, sdk):
    assert submit(server, STRANGER, "s-1")[0] == 403
    assert call(server, "GET", "/tasks/s-1", principal=STRANGER)[0] == 403
    assert sdk.store.records == {}


def test_an_admin_acts_on_every_tenant(server, sdk):
    assert submit(server, ACME, "a-1")[0] == 202
    assert submit(server, ADMIN, "g-1", tenant="globex")[0] == 202
    assert sdk.get("g-1").tenant == "globex"
    status, body = call(server, "GET", "/tasks/a-1", principal=ADMIN)
    assert (status, body["tenant"]) == (200, "acme")
    assert call(server, "DELETE", "/tasks/a-1", principal=ADMIN)[0] == 200
    assert call(server, "GET", "/tasks/g-1", principal=GLOBEX)[0] == 200


def test_no_principal_on_loopback_is_the_platform_owner(server, sdk):
    assert submit(server, None, "o-1", tenant="initech")[0] == 202
    assert sdk.get("o-1").tenant == "initech"
    assert call(server, "GET", "/tasks/o-1")[0] == 200


def test_grants_are_cached_for_max_age(server, directory, clock):
    for i in range(5):
        assert submit(server, ACME, f"a-{i}")[0] == 202
    assert directory.lookups == 1
    directory.revoke(ACME)
    assert submit(server, ACME, "a-late")[0] == 202  # still cached
    clock.advance(61)
    assert submit(server, ACME, "a-later")[0] == 403
    assert directory.lookups == 2


def test_deployed_events_map_assumed_role_sessions_and_refuse_anonymous(sdk, directory, clock):
    access = TenantAccess(directory, clock, admins=[GLOBEX])
    session = "arn:aws:sts::111122223333:assumed-role/acme-producer/botocore-session-9"
    assert principal_key(session) == ACME
    answer = handle(_event("POST", TYPE, session, {"payload": {"email": "x@y"}}), sdk, access)
    assert answer["statusCode"] == 202, answer
    task_id = json.loads(answer["body"])["id"]
    assert sdk.get(task_id).tenant == "acme"
    anonymous = handle(_event("GET", f"/tasks/{task_id}"), sdk, access)  # no IAM identity
    assert anonymous["statusCode"] == 403
    admin = handle(_event("GET", f"/tasks/{task_id}", GLOBEX), sdk, access)  # from env list
    assert admin["statusCode"] == 200


def test_the_directory_on_dynamodb(aws, provisioned, topology, clock):
    from conveyor.aws.principals import DynamoPrincipals

    table = DynamoPrincipals(aws.dynamodb, topology.table)
    table.grant(ACME, Grant("acme"))
    table.grant(ADMIN, Grant(None, admin=True))
    assert table.lookup(ACME) == Grant("acme")
    assert table.lookup(ADMIN) == Grant(None, admin=True)
    assert table.lookup(STRANGER) is None
    table.revoke(ACME)
    assert table.lookup(ACME) is None
    caller = TenantAccess(table, clock).caller(_event("GET", "/tasks/x", ADMIN))
    assert caller.admin
    with pytest.raises(Forbidden):
        TenantAccess(table, clock).caller(_event("GET", "/tasks/x")).require_tenant()


def test_another_tenant_cannot_replace_a_finished_task_past_its_dedup_window(server, sdk, clock):
    assert submit(server, ACME, "old-1")[0] == 202
    assert call(server, "DELETE", "/tasks/old-1", principal=ACME)[0] == 200
    clock.advance(400 * 86_400)  # long past any dedup window: the ID may be reused
    status, body = submit(server, GLOBEX, "old-1")
    assert (status, body["error"]) == (403, "Forbidden")
    record = sdk.get("old-1")
    assert (record.tenant, record.state) == ("acme", TaskState.CANCELLED)
    assert submit(server, ACME, "old-1")[0] == 202  # its own tenant may reuse it
    assert sdk.get("old-1").state is TaskState.QUEUED


def test_back_pressure_answers_429_to_the_heavy_principal_only(example_catalog, directory, clock):
    from conveyor.memory import MemoryLanes, MemoryPayloadStore, MemoryTaskStore
    from conveyor.memory.control import MemoryControl
    from conveyor.policy.backpressure import Signal
    from conveyor.topology import Topology

    control = MemoryControl()
    sdk = Conveyor(
        example_catalog,
        topology=Topology(shards=2),
        store=MemoryTaskStore(),
        lanes=MemoryLanes(clock),
        payloads=MemoryPayloadStore(),
        clock=clock,
        control=control,
    )
    heavy = Signal(at=clock.now(), overloaded=True, heavy={"acme": 0.9}, retry_after=7)
    control.put_signal("d1", heavy)
    srv, _ = serve(sdk, access=TenantAccess(directory, clock))
    try:
        conn = http.client.HTTPConnection("127.0.0.1", srv.server_port, timeout=10)
        body = json.dumps({"payload": {"email": "a@acme.test"}}).encode()
        headers = {"content-type": "application/json", PRINCIPAL_HEADER: ACME}
        conn.request("POST", TYPE, body=body, headers=headers)
        response = conn.getresponse()
        answer = json.loads(response.read())
        conn.close()
        assert (response.status, answer["error"]) == (429, "Overloaded")
        assert response.getheader("retry-after") == "7"
        assert submit(srv, GLOBEX, "g-1")[0] == 202  # a quiet tenant still gets in
    finally:
        srv.shutdown()
        srv.server_close()
    assert [r.tenant for r in sdk.store.records.values()] == ["globex"]

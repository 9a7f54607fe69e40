"""The deployed submit function as API Gateway calls it (moto, in process): the tenant
comes from the IAM principal in the event, mapped by an item in the table; admins from
its environment; a request without an IAM identity is refused."""

from __future__ import annotations

import json

import pytest

import functions.submit.app as submit_function
from conveyor.aws.principals import DynamoPrincipals
from conveyor.ports import Grant
from tests.integration.test_lambda_entry import Context
from tests.support.api_events import api_event as event

ACME = "arn:aws:iam::111122223333:role/acme-producer"
OPS = "arn:aws:iam::111122223333:role/ops"


@pytest.fixture
def handler(aws, provisioned, topology, monkeypatch):
    for key, value in topology.env().items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("CONVEYOR_CATALOG", "examples.catalog")
    monkeypatch.setenv("CONVEYOR_ADMIN_PRINCIPALS", OPS)
    monkeypatch.setattr(submit_function, "_client", None)
    monkeypatch.setattr(submit_function, "_access", None)
    DynamoPrincipals(aws.dynamodb, topology.table).grant(ACME, Grant("acme"))
    return lambda e: submit_function.handler(e, Context(function_name="conveyor-submit-api"))


def test_the_function_enforces_the_tenant_of_the_signing_principal(handler):
    path = "/tasks/send_welcome_email"
    created = handler(event("POST", path, ACME, {"payload": {"email": "a@acme.test"}}))
    assert created["statusCode"] == 202, created
    task_id = json.loads(created["body"])["id"]
    got = handler(event("GET", f"/tasks/{task_id}", ACME))
    assert (got["statusCode"], json.loads(got["body"])["tenant"]) == (200, "acme")
    other = handler(event("POST", path, ACME, {"payload": {}, "tenant": "globex"}))
    assert other["statusCode"] == 403
    stranger = "arn:aws:iam::111122223333:user/mallory"
    assert handler(event("GET", f"/tasks/{task_id}", stranger))["statusCode"] == 403
    assert handler(event("GET", f"/tasks/{task_id}"))["statusCode"] == 403  # no identity
    assert handler(event("DELETE", f"/tasks/{task_id}", OPS))["statusCode"] == 200

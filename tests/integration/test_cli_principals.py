"""``conveyor principals grant|show|revoke`` write the items the HTTP edge reads (moto,
in process): a role session ARN maps to its role, bad input exits 2 and writes nothing."""

from __future__ import annotations

import json

import pytest

from conveyor.aws.principals import DynamoPrincipals
from conveyor.ports import Grant
from tests.integration.test_cli_edges import run

ROLE = "arn:aws:iam::111122223333:role/acme-producer"


@pytest.fixture
def directory(aws, provisioned, topology, monkeypatch):
    monkeypatch.setenv("CONVEYOR_PREFIX", topology.prefix)
    return DynamoPrincipals(aws.dynamodb, topology.table)


def test_grant_show_and_revoke(directory, monkeypatch, capsys):
    session = "arn:aws:sts::111122223333:assumed-role/acme-producer/build-7"
    code, out, _ = run(monkeypatch, capsys, "principals", "grant", session, "--tenant", "acme")
    assert code == 0
    assert json.loads(out) == {"principal": ROLE, "tenant": "acme", "admin": False}
    assert directory.lookup(ROLE) == Grant("acme")
    code, out, _ = run(monkeypatch, capsys, "principals", "show", ROLE)
    assert json.loads(out)["tenant"] == "acme"
    assert run(monkeypatch, capsys, "principals", "revoke", ROLE)[0] == 0
    assert directory.lookup(ROLE) is None
    code, out, _ = run(monkeypatch, capsys, "principals", "grant", ROLE, "--admin")
    assert directory.lookup(ROLE) == Grant(None, admin=True)


@pytest.mark.parametrize(
    "args",
    [
        ("grant", ROLE),  # neither --tenant nor --admin
        ("grant", ROLE, "--tenant", "bad tenant!"),
        ("grant", "acme-producer", "--tenant", "acme"),  # not an ARN
    ],
)
def test_bad_input_exits_2_and_writes_nothing(directory, monkeypatch, capsys, args):
    code, _, err = run(monkeypatch, capsys, "principals", *args)
    assert code == 2, err
    assert directory.lookup(ROLE) is None
    assert directory.lookup("acme-producer") is None

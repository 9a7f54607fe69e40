from __future__ import annotations

import os

import pytest

from conveyor.local.devcloud import DevCloud
from conveyor.topology import Topology
from tests.support import ledger


@pytest.fixture(scope="module")
def cloud():
    """A dev cloud (moto server on loopback) with the ledger catalog, per test module."""
    saved = {k: os.environ.pop(k) for k in list(os.environ) if k.startswith("AWS_ENDPOINT")}
    with DevCloud(
        ledger.catalog, Topology(prefix="e2e"), catalog_module="tests.support.ledger"
    ) as c:
        yield c
    os.environ.update(saved)


@pytest.fixture
def ledger_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("LEDGER_DIR", str(tmp_path))
    return tmp_path

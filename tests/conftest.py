"""Shared fixtures. moto runs in-process for the whole session (one ``mock_aws``), boto3
clients are created once, and each test provisions its own prefix so tests never share
queues or tables."""

from __future__ import annotations

import itertools
import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

for key, value in {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "POWERTOOLS_LOG_LEVEL": "WARNING",
    "POWERTOOLS_TRACE_DISABLED": "true",
}.items():
    os.environ[key] = value
for key in list(os.environ):
    if key.startswith("AWS_ENDPOINT_URL") or key == "AWS_PROFILE":
        del os.environ[key]

from moto import mock_aws  # noqa: E402

from conveyor.aws import AwsClients  # noqa: E402
from conveyor.local.provision import provision  # noqa: E402
from conveyor.topology import Topology  # noqa: E402

_prefixes = itertools.count(1)


@pytest.fixture(scope="session")
def moto_session() -> Iterator[None]:
    from conveyor.local.atomic import make_dynamodb_atomic

    make_dynamodb_atomic()  # DynamoDB's conditional writes are atomic; moto's are not
    with mock_aws():
        yield
        from conveyor.client import close_all

        close_all()  # SDK clients write their cost meters while moto is still there


@pytest.fixture(scope="session")
def aws(moto_session: None) -> AwsClients:
    return AwsClients(region="us-east-1")


@pytest.fixture
def topology() -> Topology:
    return Topology(prefix=f"t{next(_prefixes)}")


@pytest.fixture
def example_catalog():
    from examples.catalog import catalog

    return catalog


@pytest.fixture
def provisioned(aws: AwsClients, topology: Topology, example_catalog):
    return provision(aws, topology, example_catalog)

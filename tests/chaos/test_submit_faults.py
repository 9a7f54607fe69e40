"""Submit under single, targeted faults (the producer scenario's failures, one at a time):
once ``submit`` has answered, the task has a message that will run it."""

from __future__ import annotations

import itertools

import pytest

from conveyor.aws import AwsClients
from conveyor.local.faults import FAIL_AFTER, REPLY_LOST, FaultInjector, Rule
from conveyor.local.provision import provision
from conveyor.runtime.bootstrap import aws_runtime
from conveyor.topology import Topology
from tests.support import ledger

_prefixes = itertools.count(1)


@pytest.fixture
def deployment(moto_session):
    topology = Topology(prefix=f"subf{next(_prefixes)}")
    clean = AwsClients()
    provision(clean, topology, ledger.catalog)
    return topology, aws_runtime(ledger.catalog, topology, clean)


def _faulty_client(topology: Topology, rule: Rule):
    return aws_runtime(ledger.catalog, topology, AwsClients(counter=FaultInjector([rule]))).client()


def _messages(runtime, topology: Topology) -> int:
    depths = [runtime.lanes.depth(lane) for lane in topology.lanes]
    return sum(d.visible + d.delayed + d.in_flight for d in depths)


def test_a_submit_whose_put_reply_was_lost_still_sends_the_task(deployment):
    topology, runtime = deployment
    client = _faulty_client(topology, Rule(REPLY_LOST, 1.0, ("PutItem",), limit=1))
    answer = client.submit("work", {"mode": "ok"}, task_id="reply-lost-put")
    assert runtime.store.get("reply-lost-put").state.value == "QUEUED"
    assert _messages(runtime, topology) == 1, f"answered {answer.status!r}, sent nothing"


def test_resubmitting_after_a_failed_submit_sends_the_task(deployment):
    topology, runtime = deployment
    client = _faulty_client(topology, Rule(FAIL_AFTER, 1.0, ("PutItem",), limit=1))
    with pytest.raises(Exception):  # noqa: B017 - the producer sees whatever botocore raises
        client.submit("work", {"mode": "ok"}, task_id="failed-put")
    answer = client.submit("work", {"mode": "ok"}, task_id="failed-put")  # a retry, at once
    assert _messages(runtime, topology) == 1, f"re-submit answered {answer.status!r}, sent nothing"

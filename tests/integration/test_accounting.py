"""Request counts are deterministic: assert them exactly."""

from __future__ import annotations

from conveyor import Conveyor, SubmitRequest
from conveyor.aws import AwsClients, DynamoTaskStore, S3PayloadStore, SqsLanes
from conveyor.aws.accounting import RequestCounter
from conveyor.cost import dollars, per_million
from conveyor.payload import INLINE_LIMIT

EMAIL = {"email": "a@example.com"}


def counted_client(topology, catalog, counter):
    aws = AwsClients(region="us-east-1", counter=counter)
    client = Conveyor(
        catalog,
        topology=topology,
        store=DynamoTaskStore(aws.dynamodb, topology.table),
        lanes=SqsLanes(aws.sqs),
        payloads=S3PayloadStore(aws.s3, topology.bucket),
    )
    for lane in topology.lanes:
        client.lanes.url(lane)  # queue URLs are resolved once per process
    counter.reset()
    return client


def test_submit_costs_one_put_and_one_send(provisioned, topology, example_catalog):
    counter = RequestCounter({topology.table: [("type", "id")]})
    client = counted_client(topology, example_catalog, counter)
    for _ in range(20):
        client.submit("send_welcome_email", EMAIL)
    requests, units = counter.snapshot()
    assert requests == {("dynamodb", "PutItem"): 20, ("sqs", "SendMessageBatch"): 20}
    assert units == {"ddb_wru": 40, "sqs_requests": 20}  # table + KEYS_ONLY index


def test_submit_many_batches_sqs_by_ten(provisioned, topology, example_catalog):
    counter = RequestCounter({topology.table: [("type", "id")]})
    client = counted_client(topology, example_catalog, counter)
    client.submit_many([SubmitRequest("send_welcome_email", EMAIL) for _ in range(25)])
    requests, units = counter.snapshot()
    assert requests == {("dynamodb", "PutItem"): 25, ("sqs", "SendMessageBatch"): 3}
    assert units["sqs_requests"] == 3
    assert per_million(units, 25) == (50 * 0.625 + 3 * 0.40) / 25


def test_a_duplicate_submit_sends_nothing(provisioned, topology, example_catalog):
    counter = RequestCounter()
    client = counted_client(topology, example_catalog, counter)
    client.submit("send_welcome_email", EMAIL, task_id="once")
    counter.reset()
    client.submit("send_welcome_email", EMAIL, task_id="once")
    assert counter.snapshot()[0] == {("dynamodb", "PutItem"): 1}


def test_large_payload_adds_one_s3_put_and_bills_sqs_by_64k(provisioned, topology, example_catalog):
    counter = RequestCounter()
    client = counted_client(topology, example_catalog, counter)
    client.submit("nightly_report", {"blob": "z" * (INLINE_LIMIT + 1)})
    requests, units = counter.snapshot()
    assert requests[("s3", "PutObject")] == 1
    assert units["sqs_requests"] == 1  # the message carries a reference, not the payload
    assert dollars({"s3_put": 1}) == 5.00 / 1e6

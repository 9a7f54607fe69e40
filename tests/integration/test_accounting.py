"""Request counts are deterministic: assert them exactly."""

from __future__ import annotations

import json
import math

import pytest

from conveyor import Conveyor, SubmitRequest
from conveyor.aws import AwsClients, DynamoTaskStore, S3PayloadStore, SqsLanes
from conveyor.aws.accounting import RequestCounter
from conveyor.aws.codec import item_size
from conveyor.aws.store import unindexed_types
from conveyor.cost import dollars, per_million
from conveyor.payload import INLINE_LIMIT

EMAIL = {"email": "a@example.com"}


def counted_client(topology, catalog, counter, unindexed=None):
    aws = AwsClients(region="us-east-1", counter=counter)
    unindexed = unindexed_types(catalog) if unindexed is None else unindexed
    client = Conveyor(
        catalog,
        topology=topology,
        store=DynamoTaskStore(aws.dynamodb, topology.table, unindexed=unindexed),
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
    assert units == {"ddb_wru": 40, "sqs_requests": 20}  # the item + its by_type entry


def test_an_unindexed_type_pays_one_wru_less_per_task(provisioned, topology, example_catalog):
    counter = RequestCounter({topology.table: [("type", "id")]})
    unindexed = frozenset({"send_welcome_email"})
    client = counted_client(topology, example_catalog, counter, unindexed=unindexed)
    for _ in range(5):
        client.submit("send_welcome_email", EMAIL)
    assert counter.snapshot()[1] == {"ddb_wru": 5, "sqs_requests": 5}  # the item only


@pytest.mark.parametrize("indexed", [False, True])
def test_a_listing_reads_one_page_at_most(aws, provisioned, topology, example_catalog, indexed):
    counter = RequestCounter({topology.table: [("type", "id")]})
    unindexed = frozenset() if indexed else frozenset({"send_welcome_email"})
    client = counted_client(topology, example_catalog, counter, unindexed=unindexed)
    client.submit_many([SubmitRequest("send_welcome_email", EMAIL) for _ in range(30)])
    counter.reset()
    page = client.list(task_type="send_welcome_email", state="FAILED", limit=10)
    assert (page.records, page.cursor is not None) == ([], True)  # none among 10 read
    requests, units = counter.snapshot()
    if indexed:  # 10 keys, then 10 records read eventually consistent (0.5 RRU each)
        assert requests == {("dynamodb", "Query"): 1, ("dynamodb", "BatchGetItem"): 1}
        assert units["ddb_rru"] == 0.5 + 10 * 0.5
    else:  # one scan page: 10 items, eventually consistent
        assert requests == {("dynamodb", "Scan"): 1}
        first = aws.dynamodb.scan(TableName=topology.table, Limit=10)["Items"]
        assert units["ddb_rru"] == math.ceil(sum(map(item_size, first)) / 4096) * 0.5
    done, cursor, pages = [], None, 0
    while True:
        page = client.list(task_type="send_welcome_email", limit=10, cursor=cursor)
        done += page.records
        pages, cursor = pages + 1, page.cursor
        if not cursor:
            break
    assert len(done) == 30 and pages <= 4  # 3 full pages, maybe one empty last page


def test_cancel_many_lists_once_and_writes_once_per_task(provisioned, topology, example_catalog):
    counter = RequestCounter({topology.table: [("type", "id")]})
    client = counted_client(topology, example_catalog, counter)
    client.submit_many([SubmitRequest("send_welcome_email", EMAIL, tags=["t"]) for _ in range(12)])
    counter.reset()
    assert len(client.cancel_many(task_type="send_welcome_email", tag="t")) == 12
    requests, _ = counter.snapshot()
    reads = {("dynamodb", "Query"): 1, ("dynamodb", "BatchGetItem"): 1}  # one page of 500
    assert requests == {**reads, ("dynamodb", "UpdateItem"): 12}


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


# -- billing rules, each against a hand-computed case -----------------------------------


def _table(aws, name: str) -> str:
    aws.dynamodb.create_table(
        TableName=name,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[
            {"AttributeName": "id", "AttributeType": "S"},
            {"AttributeName": "type", "AttributeType": "S"},
        ],
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        GlobalSecondaryIndexes=[
            {
                "IndexName": "by_type",
                "KeySchema": [
                    {"AttributeName": "type", "KeyType": "HASH"},
                    {"AttributeName": "id", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "KEYS_ONLY"},
            }
        ],
    )
    return name


def _counted(aws, tables=()):
    counter = RequestCounter({t: [("type", "id")] for t in tables})
    return counter, AwsClients(region="us-east-1", counter=counter)


def _item(task_id: str, size: int, **extra) -> dict:
    """An item of exactly ``size`` bytes as DynamoDB bills it (names + values)."""
    item = {"id": {"S": task_id}, **extra}
    fixed = item_size(item) + len("padding")
    return {**item, "padding": {"S": "p" * (size - fixed)}}


def test_consistent_query_and_scan_bill_one_rru_per_4kb_eventual_half(aws, topology):
    table = _table(aws, f"{topology.prefix}-reads")
    for i in range(3):
        aws.dynamodb.put_item(TableName=table, Item=_item(f"r{i}", 3000))  # 9000 B in all
    counter, counted = _counted(aws)
    counted.dynamodb.scan(TableName=table, ConsistentRead=True)
    assert counter.snapshot()[1] == {"ddb_rru": 3.0}  # ceil(9000 / 4096) = 3, strong
    counter.reset()
    counted.dynamodb.scan(TableName=table)
    assert counter.snapshot()[1] == {"ddb_rru": 1.5}  # eventually consistent: half
    counter.reset()
    counted.dynamodb.query(
        TableName=table,
        KeyConditionExpression="id = :i",
        ExpressionAttributeValues={":i": {"S": "r1"}},
        ConsistentRead=True,
    )
    assert counter.snapshot()[1] == {"ddb_rru": 1.0}


def test_a_filtered_scan_bills_what_it_evaluated(aws, topology):
    table = _table(aws, f"{topology.prefix}-filtered")
    for i in range(4):
        aws.dynamodb.put_item(TableName=table, Item=_item(f"f{i}", 2000, k={"S": str(i % 2)}))
    counter, counted = _counted(aws)
    out = counted.dynamodb.scan(
        TableName=table,
        FilterExpression="k = :k",
        ExpressionAttributeValues={":k": {"S": "0"}},
        ConsistentRead=True,
    )
    assert len(out["Items"]) == 2
    assert counter.snapshot()[1] == {"ddb_rru": 2.0}  # 4 x 2000 B evaluated -> 2 x 4 KB


def test_update_bills_the_larger_of_the_old_and_new_item(aws, topology):
    table = _table(aws, f"{topology.prefix}-upd")
    counter, counted = _counted(aws, [table])
    counted.dynamodb.put_item(TableName=table, Item=_item("u", 2500))
    assert counter.snapshot()[1] == {"ddb_wru": 3}  # ceil(2500 / 1024); no type, no index
    counter.reset()
    counted.dynamodb.update_item(
        TableName=table,
        Key={"id": {"S": "u"}},
        UpdateExpression="SET padding = :p",
        ExpressionAttributeValues={":p": {"S": "x"}},
        ReturnValues="ALL_NEW",
    )
    assert counter.snapshot()[1] == {"ddb_wru": 3}  # shrinks to ~10 B, billed on 2500 B
    counter.reset()
    counted.dynamodb.update_item(
        TableName=table,
        Key={"id": {"S": "u"}},
        UpdateExpression="SET padding = :p",
        ExpressionAttributeValues={":p": {"S": "y" * 1500}},
        ReturnValues="ALL_NEW",
    )
    assert counter.snapshot()[1] == {"ddb_wru": 2}  # grows to ~1.5 KB: billed on the new


def test_a_failed_conditional_put_bills_the_base_write_and_no_index(aws, topology):
    table = _table(aws, f"{topology.prefix}-cond")
    counter, counted = _counted(aws, [table])
    item = _item("c", 500, type={"S": "t"})
    counted.dynamodb.put_item(
        TableName=table, Item=item, ConditionExpression="attribute_not_exists(id)"
    )
    assert counter.snapshot()[1] == {"ddb_wru": 2}  # the item + its by_type index entry
    counter.reset()
    with pytest.raises(counted.dynamodb.exceptions.ConditionalCheckFailedException):
        counted.dynamodb.put_item(
            TableName=table, Item=item, ConditionExpression="attribute_not_exists(id)"
        )
    assert counter.snapshot() == ({("dynamodb", "PutItem"): 1}, {"ddb_wru": 1})


def test_receive_bills_each_64kb_of_what_came_back(aws, topology):
    url = aws.sqs.create_queue(QueueName=f"{topology.prefix}-big")["QueueUrl"]
    counter, counted = _counted(aws)
    body = "b" * (30 * 1024)
    counted.sqs.send_message_batch(
        QueueUrl=url, Entries=[{"Id": str(i), "MessageBody": body} for i in range(3)]
    )
    assert counter.snapshot()[1] == {"sqs_requests": 2}  # 90 KB -> two 64 KB chunks
    counter.reset()
    got = counted.sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    assert len(got) == 3
    assert counter.snapshot()[1] == {"sqs_requests": 2}
    counter.reset()
    counted.sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)
    assert counter.snapshot()[1] == {"sqs_requests": 1}  # an empty receive is one request


def test_put_events_bills_64kb_chunks_per_entry(aws, topology):
    counter, counted = _counted(aws)
    counted.events.put_events(
        Entries=[
            {"Source": "s", "DetailType": "d", "Detail": json.dumps({"x": "y" * 100_000})},
            {"Source": "s", "DetailType": "d", "Detail": "{}"},
        ]
    )
    assert counter.snapshot()[1] == {"events": 3}  # ~98 KB -> 2 chunks, plus 1


def test_lambda_invoke_is_counted(aws, topology):
    counter, counted = _counted(aws)
    with pytest.raises(counted.lambda_.exceptions.ResourceNotFoundException):
        counted.lambda_.invoke(FunctionName=f"{topology.prefix}-missing", Payload=b"{}")
    assert counter.snapshot() == ({("lambda", "Invoke"): 1}, {"lambda_requests": 1})

"""The fault injector against moto: each kind leaves AWS in the state its name promises."""

from __future__ import annotations

import itertools

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError, ConnectionClosedError

from conveyor.local.faults import (
    CONDITIONAL,
    FAIL,
    FAIL_AFTER,
    REPLY_LOST,
    THROTTLE,
    FaultInjector,
    Rule,
)

_tables = itertools.count(1)


def _client(service: str, attempts: int = 3):
    return boto3.client(
        service,
        region_name="us-east-1",
        config=Config(retries={"mode": "standard", "total_max_attempts": attempts}),
    )


@pytest.fixture
def table(moto_session):
    ddb = _client("dynamodb")
    name = f"faults-{next(_tables)}"
    ddb.create_table(
        TableName=name,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
    )
    return name


def _put_new(ddb, table: str, key: str, n: int = 1) -> None:
    ddb.put_item(
        TableName=table,
        Item={"id": {"S": key}, "n": {"N": str(n)}},
        ConditionExpression="attribute_not_exists(id)",
        ReturnValuesOnConditionCheckFailure="ALL_OLD",
    )


def _n(ddb, table: str, key: str) -> int | None:
    item = ddb.get_item(TableName=table, Key={"id": {"S": key}}, ConsistentRead=True).get("Item")
    return int(item["n"]["N"]) if item else None


def test_reply_lost_performs_the_write_then_botocore_retries_it(table):
    ddb = FaultInjector([Rule(REPLY_LOST, 1.0, ("PutItem",), limit=1)]).attach(_client("dynamodb"))
    with pytest.raises(ddb.exceptions.ConditionalCheckFailedException) as caught:
        _put_new(ddb, table, "a")  # the retry meets the first attempt's own write
    assert caught.value.response["Item"]["n"] == {"N": "1"}
    assert _n(ddb, table, "a") == 1


def test_reply_lost_on_an_unconditional_update_applies_it_twice(table):
    injector = FaultInjector([Rule(REPLY_LOST, 1.0, ("dynamodb.UpdateItem",), limit=1)])
    ddb = injector.attach(_client("dynamodb"))
    _put_new(ddb, table, "b", n=0)
    ddb.update_item(
        TableName=table,
        Key={"id": {"S": "b"}},
        UpdateExpression="SET n = n + :one",
        ExpressionAttributeValues={":one": {"N": "1"}},
    )
    assert _n(ddb, table, "b") == 2
    assert injector.counts == {(REPLY_LOST, "dynamodb.UpdateItem"): 1}


def test_reply_lost_on_the_last_attempt_reaches_the_caller_after_the_write(table):
    ddb = FaultInjector([Rule(REPLY_LOST, 1.0, ("PutItem",))]).attach(_client("dynamodb", 1))
    with pytest.raises(ConnectionClosedError):
        _put_new(ddb, table, "c")
    assert _n(ddb, table, "c") == 1


def test_fail_is_not_performed_and_fail_after_is(table):
    ddb = FaultInjector([Rule(FAIL, 1.0, ("PutItem",), limit=1)]).attach(_client("dynamodb"))
    with pytest.raises(ddb.exceptions.InternalServerError):
        _put_new(ddb, table, "d")
    assert _n(ddb, table, "d") is None
    ddb = FaultInjector([Rule(FAIL_AFTER, 1.0, ("PutItem",), limit=1)]).attach(_client("dynamodb"))
    with pytest.raises(ClientError) as caught:
        _put_new(ddb, table, "e")
    assert caught.value.response["Error"]["Code"] == "InternalServerError"
    assert _n(ddb, table, "e") == 1


def test_a_spurious_condition_failure_carries_the_current_item_and_writes_nothing(table):
    ddb = _client("dynamodb")
    _put_new(ddb, table, "f", n=7)
    FaultInjector([Rule(CONDITIONAL, 1.0, limit=1)]).attach(ddb)
    with pytest.raises(ddb.exceptions.ConditionalCheckFailedException) as caught:
        ddb.update_item(
            TableName=table,
            Key={"id": {"S": "f"}},
            UpdateExpression="SET n = :v",
            ConditionExpression="attribute_exists(id)",
            ExpressionAttributeValues={":v": {"N": "8"}},
            ReturnValuesOnConditionCheckFailure="ALL_OLD",
        )
    assert caught.value.response["Item"]["n"] == {"N": "7"}
    assert _n(ddb, table, "f") == 7


def test_throttles_only_the_named_operations_and_pausing_stops_injection(table):
    injector = FaultInjector([Rule(THROTTLE, 1.0, ("GetItem",))])
    ddb = injector.attach(_client("dynamodb"))
    _put_new(ddb, table, "g")
    with pytest.raises(ddb.exceptions.ProvisionedThroughputExceededException):
        _n(ddb, table, "g")
    with injector.paused():
        assert _n(ddb, table, "g") == 1
    assert injector.counts == {(THROTTLE, "dynamodb.GetItem"): 1}


def test_reply_lost_on_an_sqs_batch_send_delivers_twice(moto_session):
    sqs = _client("sqs")
    url = sqs.create_queue(QueueName="faults-twice")["QueueUrl"]
    FaultInjector([Rule(REPLY_LOST, 1.0, ("SendMessageBatch",), limit=1)]).attach(sqs)
    sqs.send_message_batch(QueueUrl=url, Entries=[{"Id": "0", "MessageBody": "x"}])
    got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    assert [m["Body"] for m in got] == ["x", "x"]


def test_the_same_seed_injects_the_same_faults(table):
    def run(seed: int) -> list[bool]:
        ddb = FaultInjector([Rule(FAIL, 0.3, ("GetItem",))], seed=seed).attach(_client("dynamodb"))
        out = []
        for _ in range(40):
            try:
                ddb.get_item(TableName=table, Key={"id": {"S": "none"}})
                out.append(False)
            except ClientError:
                out.append(True)
        return out

    first = run(5)
    assert first == run(5)
    assert 3 <= sum(first) <= 25
    assert first != run(6)


def test_rules_reject_unknown_kinds_and_rates():
    with pytest.raises(ValueError):
        Rule("explode", 0.1)
    with pytest.raises(ValueError):
        Rule(FAIL, 1.5)

"""Create exactly the resources a catalog implies, through plain boto3 calls.

Used by the dev cloud and the tests. Idempotent: re-running finds what exists. What it
creates mirrors the CDK stack (tests/infra holds the parity check).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from ..aws.clients import AwsClients
from ..aws.store import GSI_BY_TYPE
from ..catalog import Catalog
from ..topology import Topology

#: Lane visibility: how long a received message stays hidden while the dispatcher holds it.
LANE_VISIBILITY = 60
#: Receives before SQS itself dead-letters a message. High, because throttles and paused
#: holds also re-receive; the dispatcher dead-letters real failures itself, with a reason.
MAX_RECEIVES = 100
DLQ_RETENTION = 14 * 86400


def work_queue_visibility(timeout: float) -> int:
    """Work-queue visibility for a type whose attempts take up to ``timeout`` seconds: the
    worker heartbeats, so a few minutes suffice while it lives; capped by SQS at 12 h."""
    return int(min(43200, max(60, min(timeout, 300) * 2)))


@dataclass
class Provisioned:
    table: str
    bucket: str
    queues: dict[str, str] = field(default_factory=dict)
    event_bus: str = ""

    @property
    def queue_names(self) -> list[str]:
        return sorted(self.queues)


def provision(clients: AwsClients, topology: Topology, catalog: Catalog) -> Provisioned:
    sqs, ddb, s3 = clients.sqs, clients.dynamodb, clients.s3
    out = Provisioned(table=topology.table, bucket=topology.bucket)

    dlq_url = sqs.create_queue(
        QueueName=topology.dlq, Attributes={"MessageRetentionPeriod": str(DLQ_RETENTION)}
    )["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    out.queues[topology.dlq] = dlq_url
    redrive = json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": MAX_RECEIVES})

    def queue(name: str, visibility: int) -> None:
        out.queues[name] = sqs.create_queue(
            QueueName=name,
            Attributes={
                "VisibilityTimeout": str(visibility),
                "RedrivePolicy": redrive,
                "MessageRetentionPeriod": str(DLQ_RETENTION),
            },
        )["QueueUrl"]

    for lane in topology.lanes:
        queue(lane, LANE_VISIBILITY)
    for task_type in catalog:
        if task_type.executor == "fargate" or task_type.direct:
            queue(topology.work_queue(task_type.name), work_queue_visibility(task_type.timeout))

    existing = ddb.list_tables()["TableNames"]
    if topology.table not in existing:
        ddb.create_table(
            TableName=topology.table,
            BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=[
                {"AttributeName": "id", "AttributeType": "S"},
                {"AttributeName": "type", "AttributeType": "S"},
            ],
            KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
            GlobalSecondaryIndexes=[
                {
                    "IndexName": GSI_BY_TYPE,
                    "KeySchema": [
                        {"AttributeName": "type", "KeyType": "HASH"},
                        {"AttributeName": "id", "KeyType": "RANGE"},
                    ],
                    "Projection": {"ProjectionType": "KEYS_ONLY"},
                }
            ],
        )
        ddb.update_time_to_live(
            TableName=topology.table,
            TimeToLiveSpecification={"Enabled": True, "AttributeName": "ttl"},
        )

    buckets = {b["Name"] for b in s3.list_buckets().get("Buckets", [])}
    if topology.bucket not in buckets:
        params: dict[str, Any] = {"Bucket": topology.bucket}
        if clients.region != "us-east-1":
            params["CreateBucketConfiguration"] = {"LocationConstraint": clients.region}
        s3.create_bucket(**params)

    events = clients.events
    buses = {b["Name"] for b in events.list_event_buses()["EventBuses"]}
    if topology.event_bus not in buses:
        events.create_event_bus(Name=topology.event_bus)
    out.event_bus = topology.event_bus
    return out

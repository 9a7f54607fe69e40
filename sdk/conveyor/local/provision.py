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
    schedules: list[str] = field(default_factory=list)
    rules: list[str] = field(default_factory=list)

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
    provision_schedules(clients, topology, catalog, out)
    provision_triggers(clients, topology, catalog, out)
    return out


def provision_schedules(
    clients: AwsClients, topology: Topology, catalog: Catalog, out: Provisioned
) -> None:
    """The schedule group and every catalog schedule (as the stack's CfnSchedules)."""
    from ..aws.lanes import SqsLanes
    from ..aws.scheduler import EventBridgeScheduler
    from ..triggers import fire_body, schedule_name

    client = clients.scheduler
    groups = {g["Name"] for g in client.list_schedule_groups().get("ScheduleGroups", [])}
    if topology.schedule_group not in groups:
        client.create_schedule_group(Name=topology.schedule_group)
    scheduler = EventBridgeScheduler(client, SqsLanes(clients.sqs), topology)
    existing = {
        s["Name"]
        for s in client.list_schedules(GroupName=topology.schedule_group).get("Schedules", [])
    }
    for task_type in catalog:
        for schedule in task_type.schedules:
            name = schedule_name(task_type.name, schedule)
            out.schedules.append(name)
            if name in existing:
                continue
            scheduler.create_recurring(
                name,
                schedule.expression,
                schedule.timezone,
                topology.lane_for(task_type.priority, schedule.tenant),
                fire_body(task_type.name, schedule, name),
                enabled=schedule.enabled,
            )


def provision_triggers(
    clients: AwsClients, topology: Topology, catalog: Catalog, out: Provisioned
) -> None:
    """One rule per catalog trigger on the default bus, targeting the type's lane with the
    event wrapped by an input transformer (as the stack's rules)."""
    from ..triggers import trigger_transformer

    events = clients.events
    for task_type in catalog:
        for trigger in task_type.triggers:
            name = f"{topology.prefix}-{trigger.name}"
            lane = topology.lane_for(task_type.priority, trigger.tenant)
            arn = clients.sqs.get_queue_attributes(
                QueueUrl=out.queues[lane], AttributeNames=["QueueArn"]
            )["Attributes"]["QueueArn"]
            events.put_rule(
                Name=name, EventPattern=json.dumps(dict(trigger.pattern)), State="ENABLED"
            )
            paths, template = trigger_transformer(task_type.name, trigger)
            events.put_targets(
                Rule=name,
                Targets=[
                    {
                        "Id": "lane",
                        "Arn": arn,
                        "InputTransformer": {"InputPathsMap": paths, "InputTemplate": template},
                    }
                ],
            )
            out.rules.append(name)

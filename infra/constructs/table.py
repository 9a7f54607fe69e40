"""The task table: on demand, point-in-time recovery, TTL on ``ttl``, AWS-managed
encryption, deletion protection (a ``cdk destroy`` or a stray delete cannot drop it; turn
it off in the console first), retained on stack deletion, and the one KEYS_ONLY index
``by_type`` (type, id)."""

from __future__ import annotations

from aws_cdk import RemovalPolicy
from aws_cdk import aws_dynamodb as ddb
from constructs import Construct


class TaskTable(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        table_name: str,
        index_name: str,
        retain: bool = True,
    ) -> None:
        super().__init__(scope, construct_id)
        self.table = ddb.Table(
            self,
            "Table",
            table_name=table_name,
            partition_key=ddb.Attribute(name="id", type=ddb.AttributeType.STRING),
            billing_mode=ddb.BillingMode.PAY_PER_REQUEST,
            point_in_time_recovery_specification=ddb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            encryption=ddb.TableEncryption.AWS_MANAGED,
            time_to_live_attribute="ttl",
            removal_policy=RemovalPolicy.RETAIN if retain else RemovalPolicy.DESTROY,
            deletion_protection=retain,
        )
        self.table.add_global_secondary_index(
            index_name=index_name,
            partition_key=ddb.Attribute(name="type", type=ddb.AttributeType.STRING),
            sort_key=ddb.Attribute(name="id", type=ddb.AttributeType.STRING),
            projection_type=ddb.ProjectionType.KEYS_ONLY,
        )

"""Lanes and work queues (SQS standard) with one shared dead-letter queue.

Every queue: SSE with SQS-managed keys, a TLS-only queue policy, 14-day retention, and a
redrive to the DLQ after ``max_receive_count`` receives. That count is high on purpose:
Conveyor counts attempts in the task record, re-sends a message as a fresh copy after 50
receives (holds and throttles), and dead-letters real failures itself with a reason; the
SQS redrive only catches poison messages that crash a consumer.

The DLQ is retained when the stack is destroyed (its messages are the only copy of what
failed for good); the lanes and work queues are not.
"""

from __future__ import annotations

from collections.abc import Mapping

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_sqs as sqs
from constructs import Construct


class LaneQueues(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        dlq_name: str,
        visibility: Mapping[str, int],
        max_receive_count: int = 100,
        retention_days: int = 14,
    ) -> None:
        super().__init__(scope, construct_id)
        retention = Duration.days(retention_days)
        self.dlq = sqs.Queue(
            self,
            "Dlq",
            queue_name=dlq_name,
            retention_period=retention,
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            removal_policy=RemovalPolicy.RETAIN,
        )
        self.queues: dict[str, sqs.Queue] = {}
        for index, (name, seconds) in enumerate(visibility.items()):
            self.queues[name] = sqs.Queue(
                self,
                f"Queue{index}",
                queue_name=name,
                visibility_timeout=Duration.seconds(seconds),
                retention_period=retention,
                encryption=sqs.QueueEncryption.SQS_MANAGED,
                enforce_ssl=True,
                dead_letter_queue=sqs.DeadLetterQueue(
                    queue=self.dlq, max_receive_count=max_receive_count
                ),
            )

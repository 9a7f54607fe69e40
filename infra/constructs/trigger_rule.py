"""An EventBridge rule whose matching events become tasks: the target is a lane, and an
input transformer wraps the whole event into a trigger message (the dispatcher derives
the task ID from the event id, so a redelivered event runs once). Undeliverable events
go to the deployment's DLQ after EventBridge's retries."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from aws_cdk import aws_sqs as sqs
from constructs import Construct


class QueueTriggerRule(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        rule_name: str,
        pattern: Mapping[str, Any],
        queue: sqs.IQueue,
        input_paths: Mapping[str, str],
        input_template: str,
        dlq: sqs.IQueue,
        event_bus_name: str = "default",
    ) -> None:
        super().__init__(scope, construct_id)
        target = events.CfnRule.TargetProperty(
            id="lane",
            arn=queue.queue_arn,
            input_transformer=events.CfnRule.InputTransformerProperty(
                input_paths_map=dict(input_paths), input_template=input_template
            ),
            dead_letter_config=events.CfnRule.DeadLetterConfigProperty(arn=dlq.queue_arn),
            retry_policy=events.CfnRule.RetryPolicyProperty(
                maximum_retry_attempts=185, maximum_event_age_in_seconds=86400
            ),
        )
        self.rule = events.CfnRule(
            self,
            "Rule",
            name=rule_name,
            event_bus_name=event_bus_name,
            event_pattern=dict(pattern),
            state="ENABLED",
            targets=[target],
        )
        for destination in (queue, dlq):
            destination.add_to_resource_policy(
                iam.PolicyStatement(
                    principals=[iam.ServicePrincipal("events.amazonaws.com")],
                    actions=["sqs:SendMessage"],
                    resources=[destination.queue_arn],
                    conditions={"ArnEquals": {"aws:SourceArn": self.rule.attr_arn}},
                )
            )

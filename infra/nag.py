"""cdk-nag (v3 API): the AwsSolutions and Serverless packs run at synth as policy
validation plugins; synth fails on any finding that is not acknowledged. Every
acknowledgement carries its reason; the wildcard-resource ones name the exact resource.
"""

from __future__ import annotations

from typing import Any

from aws_cdk import Acknowledgment, App, CfnResource, Stack, Validations
from aws_cdk import aws_lambda as lambda_
from cdk_nag import AwsSolutionsChecks, ServerlessChecks

#: Rules acknowledged for the whole stack, with why.
STACK_ACKNOWLEDGEMENTS: dict[str, str] = {
    "AwsSolutions-L1": "Pinned to Python 3.13, the newest runtime the public Powertools "
    "layer is published for; bumped together with the layer version.",
    "Serverless-LambdaLatestVersion": "Same as AwsSolutions-L1: the runtime follows the "
    "Powertools layer.",
    "Serverless-LambdaDLQ": "Executors are invoked synchronously by the dispatcher (or by an "
    "event source mapping); failed tasks are dead-lettered by "
    "Conveyor itself, with their reason, into the deployment's DLQ.",
    "Serverless-SQSRedrivePolicy": "Only the DLQ lacks a redrive policy: it is the end of "
    "the line, redriven by `conveyor dlq redrive`.",
    "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/"
    "AWSLambdaBasicExecutionRole]": "The AWS-managed basic execution policy only allows "
    "writing the function's own logs.",
    "AwsSolutions-ECS2": "Container environment variables hold only non-secret deployment "
    "names (catalog module, prefix, bucket); no secrets exist.",
    "AwsSolutions-S1": "Payload objects are short-lived (30-day expiry) and written only by "
    "Conveyor's roles; enable server access logs or CloudTrail data events "
    "where an audit policy requires them.",
    "AwsSolutions-VPC7": "A public-subnet VPC with no inbound rules, used only for Fargate "
    "egress to AWS APIs; flow logs would cost per GB and show nothing "
    "useful here. Add one where policy requires it.",
    "AwsSolutions-IAM5[Resource::*]": "X-Ray PutTraceSegments/PutTelemetryRecords and ECR "
    "GetAuthorizationToken accept no narrower resource.",
}


def _logical(stack: Stack, construct: Any) -> str:
    child = construct.node.default_child
    assert isinstance(child, CfnResource)
    return str(stack.resolve(stack.get_logical_id(child)))


def resource_acknowledgements(stack: Any) -> dict[str, str]:
    """Granular IAM5 acknowledgements for the stack's own wildcard-suffixed resources."""
    bucket = _logical(stack, stack.bucket)
    table = _logical(stack, stack.table)
    cluster = _logical(stack, stack.network.cluster)
    out: dict[str, str] = {}
    out[f"AwsSolutions-IAM5[Resource::<{bucket}.Arn>/*]"] = (
        "Roles read and write payload and result objects under the payload bucket only."
    )
    out[f"AwsSolutions-IAM5[Resource::<{table}.Arn>/index/*]"] = (
        "The table's own indexes (by_type) for listing tasks."
    )
    out[f"AwsSolutions-IAM5[Resource::arn:aws:ecs:*:*:task/<{cluster}>/*]"] = (
        "Workers set scale-in protection on their own tasks in this cluster; task ARNs are "
        "not known before the tasks start."
    )
    group = stack.scheduler_group.group.name
    out[
        f"AwsSolutions-IAM5[Resource::arn:aws:scheduler:{stack.region}:<AWS::AccountId>:"
        f"schedule/{group}/*]"
    ] = (
        "The submit API creates and deletes one-time schedules named after tasks, only in "
        "the deployment's own schedule group."
    )
    for function in stack.functions.values():
        out[f"AwsSolutions-IAM5[Resource::<{_logical(stack, function)}.Arn>:*]"] = (
            "The dispatcher may invoke the executor function's versions and aliases."
        )
    return out


#: Acknowledged on each SQS event source mapping (``direct`` types) only.
SQS_MAPPING_ACKNOWLEDGEMENTS: dict[str, str] = {
    "Serverless-LambdaEventSourceMappingDestination": "An SQS event source mapping takes "
    "no on-failure destination (AWS offers those for stream and Kafka sources only). The "
    "direct type's queue redrives poison messages to the deployment's DLQ, and Conveyor "
    "dead-letters failed tasks itself, with their reason.",
}


def _acknowledge_sqs_mappings(stack: Any) -> int:
    """Acknowledge the SQS-only findings on each SQS event source mapping; returns how many."""
    queue_arns = [
        {"Fn::GetAtt": [_logical(stack, queue), "Arn"]} for queue in stack.queues.queues.values()
    ]
    mappings = [
        node
        for node in stack.node.find_all()
        if isinstance(node, lambda_.CfnEventSourceMapping)
        and stack.resolve(node.event_source_arn) in queue_arns
    ]
    for mapping in mappings:
        for rule, reason in SQS_MAPPING_ACKNOWLEDGEMENTS.items():
            Validations.of(mapping).acknowledge(Acknowledgment(id=rule, reason=reason))
    return len(mappings)


def apply_nag(app: App, stack: Any) -> dict[str, str]:
    """Add both packs and every acknowledgement; returns them (rule id -> reason)."""
    Validations.of(app).add_plugins(AwsSolutionsChecks(app), ServerlessChecks(app))
    acknowledgements = {**STACK_ACKNOWLEDGEMENTS, **resource_acknowledgements(stack)}
    for rule, reason in acknowledgements.items():
        Validations.of(stack).acknowledge(Acknowledgment(id=rule, reason=reason))
    if _acknowledge_sqs_mappings(stack):
        acknowledgements.update(SQS_MAPPING_ACKNOWLEDGEMENTS)
    return acknowledgements

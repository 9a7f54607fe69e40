"""One Lambda function that runs one task type (invoked per task by the dispatcher, or
fed by an SQS event source mapping for ``direct`` types).

Active tracing, a log group with retention, explicit memory and timeout, reserved
concurrency from the type's quota (so one type cannot starve the account's pool), and
the public Powertools layer.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct


class LambdaExecutor(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        function_name: str,
        code: lambda_.Code,
        handler: str,
        timeout_seconds: int,
        memory_mb: int,
        reserved_concurrency: int | None,
        environment: Mapping[str, str],
        layers: Sequence[lambda_.ILayerVersion],
        runtime: lambda_.Runtime = lambda_.Runtime.PYTHON_3_13,
        log_retention: logs.RetentionDays = logs.RetentionDays.ONE_MONTH,
    ) -> None:
        super().__init__(scope, construct_id)
        self.log_group = logs.LogGroup(
            self,
            "Logs",
            log_group_name=f"/aws/lambda/{function_name}",
            retention=log_retention,
            removal_policy=RemovalPolicy.DESTROY,
        )
        self.function = lambda_.Function(
            self,
            "Function",
            function_name=function_name,
            code=code,
            handler=handler,
            runtime=runtime,
            timeout=Duration.seconds(timeout_seconds),
            memory_size=memory_mb,
            reserved_concurrent_executions=reserved_concurrency,
            environment=dict(environment),
            layers=list(layers),
            tracing=lambda_.Tracing.ACTIVE,
            log_group=self.log_group,
            architecture=lambda_.Architecture.X86_64,
        )

"""A Fargate service with one container: task definition, log group with retention,
awslogs driver, stop timeout, public IP (no NAT), deployment circuit breaker. The
dispatcher and the workers are both made of this."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_logs as logs
from constructs import Construct


class FargateApp(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        cluster: ecs.ICluster,
        image: ecs.ContainerImage,
        container_name: str,
        service_name: str,
        command: Sequence[str],
        environment: Mapping[str, str],
        cpu: int,
        memory_mb: int,
        desired_count: int,
        min_healthy_percent: int,
        max_healthy_percent: int = 200,
        stop_timeout_seconds: int = 120,
        log_retention: logs.RetentionDays = logs.RetentionDays.ONE_MONTH,
    ) -> None:
        super().__init__(scope, construct_id)
        self.task_definition = ecs.FargateTaskDefinition(
            self, "Task", cpu=cpu, memory_limit_mib=memory_mb
        )
        self.log_group = logs.LogGroup(
            self, "Logs", retention=log_retention, removal_policy=RemovalPolicy.DESTROY
        )
        self.task_definition.add_container(
            container_name,
            image=image,
            command=list(command),
            environment=dict(environment),
            logging=ecs.LogDrivers.aws_logs(stream_prefix=container_name, log_group=self.log_group),
            stop_timeout=Duration.seconds(stop_timeout_seconds),
        )
        self.task_role = self.task_definition.task_role
        self.service = ecs.FargateService(
            self,
            "Service",
            cluster=cluster,
            service_name=service_name,
            task_definition=self.task_definition,
            desired_count=desired_count,
            assign_public_ip=True,
            min_healthy_percent=min_healthy_percent,
            max_healthy_percent=max_healthy_percent,
            circuit_breaker=ecs.DeploymentCircuitBreaker(rollback=True),
        )

"""The dispatcher: one always-on Fargate task running ``conveyor dispatcher``.

It is the deployment's only idle cost beyond alarms and the dashboard (0.25 vCPU,
0.5 GB by default). Deployments replace it with the circuit breaker on; SIGTERM makes it
stop pulling, finish the attempts in flight and flush its acks.
"""

from __future__ import annotations

from collections.abc import Mapping

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_logs as logs
from constructs import Construct


class DispatcherService(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        cluster: ecs.ICluster,
        image: ecs.ContainerImage,
        service_name: str,
        environment: Mapping[str, str],
        cpu: int = 256,
        memory_mb: int = 512,
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
            "dispatcher",
            image=image,
            environment=dict(environment),
            logging=ecs.LogDrivers.aws_logs(stream_prefix="dispatcher", log_group=self.log_group),
            stop_timeout=Duration.seconds(stop_timeout_seconds),
        )
        self.task_role = self.task_definition.task_role
        self.service = ecs.FargateService(
            self,
            "Service",
            cluster=cluster,
            service_name=service_name,
            task_definition=self.task_definition,
            desired_count=1,
            assign_public_ip=True,
            min_healthy_percent=100,
            max_healthy_percent=200,
            circuit_breaker=ecs.DeploymentCircuitBreaker(rollback=True),
        )

"""A Fargate worker service for one long-running task type, scaled on its work queue
from zero and back (``DepthScaling``). Workers protect themselves from scale-in while
busy (ECS task scale-in protection), so scaling in never interrupts a running task."""

from __future__ import annotations

from collections.abc import Mapping

from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from .depth_scaling import DepthScaling, StepScaling
from .fargate import FargateApp

__all__ = ["StepScaling", "WorkerService"]


class WorkerService(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        cluster: ecs.ICluster,
        image: ecs.ContainerImage,
        service_name: str,
        cpu: int,
        memory_mb: int,
        environment: Mapping[str, str],
        queue: sqs.IQueue,
        scaling: StepScaling,
        stop_timeout_seconds: int = 120,
        log_retention: logs.RetentionDays = logs.RetentionDays.ONE_MONTH,
    ) -> None:
        super().__init__(scope, construct_id)
        app = FargateApp(
            self,
            "App",
            cluster=cluster,
            image=image,
            container_name="worker",
            service_name=service_name,
            command=["python", "-m", "conveyor.worker"],
            environment=environment,
            cpu=cpu,
            memory_mb=memory_mb,
            desired_count=0,
            min_healthy_percent=0,
            stop_timeout_seconds=stop_timeout_seconds,
            log_retention=log_retention,
        )
        self.task_definition, self.service = app.task_definition, app.service
        self.task_role = app.task_role
        self.task_role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["ecs:GetTaskProtection", "ecs:UpdateTaskProtection"],
                resources=[f"arn:aws:ecs:*:*:task/{cluster.cluster_name}/*"],
            )
        )
        self.scaling = DepthScaling(
            self, "Scaling", service=self.service, queues=[queue], scaling=scaling
        )

"""The dispatcher: one always-on Fargate task running ``conveyor dispatcher``.

It is the deployment's only idle cost beyond alarms and the dashboard (0.25 vCPU,
0.5 GB by default). Deployments replace it with the circuit breaker on; SIGTERM makes it
stop pulling, finish the attempts in flight and flush its acks.
"""

from __future__ import annotations

from collections.abc import Mapping

from aws_cdk import aws_ecs as ecs
from constructs import Construct

from .fargate import FargateApp


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
    ) -> None:
        super().__init__(scope, construct_id)
        app = FargateApp(
            self,
            "App",
            cluster=cluster,
            image=image,
            container_name="dispatcher",
            service_name=service_name,
            command=["conveyor", "dispatcher"],
            environment=environment,
            cpu=cpu,
            memory_mb=memory_mb,
            desired_count=1,
            min_healthy_percent=100,
        )
        self.task_definition, self.service = app.task_definition, app.service
        self.task_role = app.task_role

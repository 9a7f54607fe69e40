"""The dispatcher: one Fargate task running ``conveyor dispatcher`` (0.25 vCPU, 0.5 GB by
default). With ``lanes`` given it scales on their backlog between zero and one task
(``DepthScaling``), so an idle deployment runs no dispatcher at all; the first task after
an idle spell then waits for the alarm and a task start (about two minutes). Without
``lanes`` it is always on. One task at most, so concurrency quotas are exact.
Deployments replace it with the circuit breaker on; SIGTERM makes it stop pulling, finish
the attempts in flight and flush its acks.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from .depth_scaling import DepthScaling, StepScaling
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
        lanes: Sequence[sqs.IQueue] = (),
        idle_minutes: int = 15,
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
        self.scaling = (
            DepthScaling(
                self,
                "Scaling",
                service=self.service,
                queues=list(lanes),
                scaling=StepScaling(steps=[(1, None, 1)], max_workers=1, idle_minutes=idle_minutes),
            )
            if lanes
            else None
        )

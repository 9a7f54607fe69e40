"""The dispatcher: Fargate tasks running ``conveyor dispatcher`` (0.25 vCPU, 0.5 GB each
by default), between one and ``max_dispatchers`` of them when ``lanes`` are given:

* over at most 5 lanes (one alarm can read their whole backlog) it scales on that
  backlog with ``DepthScaling``, from zero (an idle deployment runs no dispatcher; the
  first task after an idle spell then waits for the alarm and a task start, about two
  minutes) up to ``max_dispatchers``, one more per ``backlog_per_dispatcher`` messages;
* over more lanes (shards and a pool) ``LaneAgeScaling`` keeps at least one task and
  adds one while any lane's oldest message ages (see there why not from zero).

Without ``lanes`` it is always one task. Several dispatchers share the lanes through
leases in the table (one owner per lane at a time) and split global rate limits and
quotas among the live members.

Deployments: ECS starts the new tasks before it stops the old ones (minimum healthy
100 %, maximum 200 %): no gap in dispatching. Percentages of the desired count are
rounded (ECS rounds the maximum down and the minimum up), so no setting rolls exactly
one task at a time for every count -- one-task services would deadlock at 100/150 %.
The overlap is safe instead of prevented: a new task joins the membership, so quotas
are split over old and new members and their total never exceeds the global limit; it
takes only the lanes whose lease is free or expired, and an old task, on SIGTERM, stops
pulling, finishes its attempts in flight, releases its leases and leaves. The
deployment circuit breaker rolls back a release whose tasks never become healthy.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from .depth_scaling import DepthScaling, StepScaling
from .fargate import FargateApp
from .lane_age_scaling import MAX_ALARM_METRICS, LaneAgeScaling


def dispatcher_steps(
    max_dispatchers: int, per_dispatcher: int
) -> list[tuple[int, int | None, int]]:
    """Step rows (backlog from, to or None, tasks): 1 task from a backlog of 1, one more
    per ``per_dispatcher`` messages, ``max_dispatchers`` at most."""
    rows: list[tuple[int, int | None, int]] = []
    for tasks in range(1, max_dispatchers + 1):
        lower = 1 if tasks == 1 else (tasks - 1) * per_dispatcher
        upper = None if tasks == max_dispatchers else tasks * per_dispatcher
        rows.append((lower, upper, tasks))
    return rows


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
        max_dispatchers: int = 1,
        backlog_per_dispatcher: int = 2000,
    ) -> None:
        super().__init__(scope, construct_id)
        if max_dispatchers < 1:
            raise ValueError(f"max_dispatchers must be >= 1, got {max_dispatchers}")
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
            max_healthy_percent=200,
        )
        self.task_definition, self.service = app.task_definition, app.service
        self.task_role = app.task_role
        self.scaling: DepthScaling | LaneAgeScaling | None = None
        if lanes and 2 * len(lanes) <= MAX_ALARM_METRICS:
            self.scaling = DepthScaling(
                self,
                "Scaling",
                service=self.service,
                queues=list(lanes),
                scaling=StepScaling(
                    steps=dispatcher_steps(max_dispatchers, backlog_per_dispatcher),
                    max_workers=max_dispatchers,
                    idle_minutes=idle_minutes,
                ),
            )
        elif lanes:
            self.scaling = LaneAgeScaling(
                self,
                "Scaling",
                service=self.service,
                queues=list(lanes),
                max_tasks=max(1, max_dispatchers),
                idle_minutes=idle_minutes,
            )

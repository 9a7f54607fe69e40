"""A Fargate worker service for one long-running task type, scaled on its work queue.

KEDA-like scaling from zero: the backlog (visible + in-flight messages) drives an
Application Auto Scaling step policy with ``ExactCapacity`` adjustments taken from the
pure ``ScalingRule`` table (the dev cloud's autoscaler uses the same table); an alarm on
an empty queue for ``idle_minutes`` scales back to zero; an alarm on the age of the
oldest message adds one more worker. Workers protect themselves from scale-in while busy
(ECS task scale-in protection), so scaling in never interrupts a running task.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from aws_cdk import Duration
from aws_cdk import aws_applicationautoscaling as aas
from aws_cdk import aws_cloudwatch as cw
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from .fargate import FargateApp


@dataclass(frozen=True)
class StepScaling:
    """(backlog lower bound, upper bound or None, workers) rows, ascending."""

    steps: Sequence[tuple[int, int | None, int]]
    max_workers: int
    age_boost_after_seconds: int = 300
    idle_minutes: int = 5


def backlog_metric(queue: sqs.IQueue) -> cw.MathExpression:
    period = Duration.minutes(1)
    return cw.MathExpression(
        expression="visible + inflight",
        using_metrics={
            "visible": queue.metric_approximate_number_of_messages_visible(
                period=period, statistic="Maximum"
            ),
            "inflight": queue.metric_approximate_number_of_messages_not_visible(
                period=period, statistic="Maximum"
            ),
        },
        label="backlog",
        period=period,
    )


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
        self._scale(queue, scaling)

    def _scale(self, queue: sqs.IQueue, scaling: StepScaling) -> None:
        target = aas.ScalableTarget(
            self,
            "ScalableTarget",
            service_namespace=aas.ServiceNamespace.ECS,
            scalable_dimension="ecs:service:DesiredCount",
            min_capacity=0,
            max_capacity=scaling.max_workers,
            resource_id=f"service/{self.service.cluster.cluster_name}/{self.service.service_name}",
        )
        target.node.add_dependency(self.service)
        self.scaling_target = target
        backlog = backlog_metric(queue)
        scale_out = aas.StepScalingAction(
            self,
            "ScaleOut",
            scaling_target=target,
            adjustment_type=aas.AdjustmentType.EXACT_CAPACITY,
            metric_aggregation_type=aas.MetricAggregationType.MAXIMUM,
            cooldown=Duration.seconds(60),
        )
        for lower, upper, workers in scaling.steps:
            # Bounds are relative to the alarm threshold (a backlog of 1).
            scale_out.add_adjustment(
                adjustment=workers,
                lower_bound=lower - 1,
                upper_bound=None if upper is None else upper - 1,
            )
        self.backlog_alarm = cw.Alarm(
            self,
            "BacklogAlarm",
            metric=backlog,
            threshold=1,
            evaluation_periods=1,
            comparison_operator=cw.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            treat_missing_data=cw.TreatMissingData.NOT_BREACHING,
            alarm_description="work waiting: set the worker count from the step table",
        )
        self.backlog_alarm.add_alarm_action(cw_actions.ApplicationScalingAction(scale_out))

        scale_to_zero = aas.StepScalingAction(
            self,
            "ScaleToZero",
            scaling_target=target,
            adjustment_type=aas.AdjustmentType.EXACT_CAPACITY,
            metric_aggregation_type=aas.MetricAggregationType.MAXIMUM,
        )
        scale_to_zero.add_adjustment(adjustment=0, upper_bound=0)
        self.idle_alarm = cw.Alarm(
            self,
            "IdleAlarm",
            metric=backlog,
            threshold=0,
            evaluation_periods=scaling.idle_minutes,
            comparison_operator=cw.ComparisonOperator.LESS_THAN_OR_EQUAL_TO_THRESHOLD,
            treat_missing_data=cw.TreatMissingData.BREACHING,
            alarm_description="no work: scale the workers to zero",
        )
        self.idle_alarm.add_alarm_action(cw_actions.ApplicationScalingAction(scale_to_zero))

        boost = aas.StepScalingAction(
            self,
            "AgeBoost",
            scaling_target=target,
            adjustment_type=aas.AdjustmentType.CHANGE_IN_CAPACITY,
            metric_aggregation_type=aas.MetricAggregationType.MAXIMUM,
            cooldown=Duration.seconds(120),
        )
        boost.add_adjustment(adjustment=1, lower_bound=0)
        self.age_alarm = cw.Alarm(
            self,
            "AgeAlarm",
            metric=queue.metric_approximate_age_of_oldest_message(
                period=Duration.minutes(1), statistic="Maximum"
            ),
            threshold=scaling.age_boost_after_seconds,
            evaluation_periods=2,
            comparison_operator=cw.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            treat_missing_data=cw.TreatMissingData.NOT_BREACHING,
            alarm_description="work is getting old: one more worker",
        )
        self.age_alarm.add_alarm_action(cw_actions.ApplicationScalingAction(boost))

"""KEDA-like scaling of an ECS service on queue depth, from zero and back to zero.

The backlog (visible + in-flight messages, summed over the given queues) drives an
Application Auto Scaling step policy with ``ExactCapacity`` adjustments taken from the
pure ``ScalingRule`` table (the dev cloud's autoscaler uses the same table); an alarm on
an empty backlog for ``idle_minutes`` scales to zero; an alarm on the age of the oldest
message adds one more task.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from aws_cdk import Duration
from aws_cdk import aws_applicationautoscaling as aas
from aws_cdk import aws_cloudwatch as cw
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_sqs as sqs
from constructs import Construct

MINUTE = Duration.minutes(1)


@dataclass(frozen=True)
class StepScaling:
    """(backlog lower bound, upper bound or None, tasks) rows, ascending."""

    steps: Sequence[tuple[int, int | None, int]]
    max_workers: int
    age_boost_after_seconds: int = 300
    idle_minutes: int = 5


def backlog_metric(queues: Sequence[sqs.IQueue]) -> cw.MathExpression:
    """Visible plus in-flight messages over ``queues`` (maximum per minute)."""
    metrics: dict[str, cw.IMetric] = {}
    for i, queue in enumerate(queues):
        metrics[f"v{i}"] = queue.metric_approximate_number_of_messages_visible(
            period=MINUTE, statistic="Maximum"
        )
        metrics[f"f{i}"] = queue.metric_approximate_number_of_messages_not_visible(
            period=MINUTE, statistic="Maximum"
        )
    return cw.MathExpression(
        expression=" + ".join(metrics), using_metrics=metrics, label="backlog", period=MINUTE
    )


def oldest_age_metric(queues: Sequence[sqs.IQueue]) -> cw.IMetric:
    if len(queues) == 1:
        return queues[0].metric_approximate_age_of_oldest_message(
            period=MINUTE, statistic="Maximum"
        )
    metrics: dict[str, cw.IMetric] = {
        f"a{i}": q.metric_approximate_age_of_oldest_message(period=MINUTE, statistic="Maximum")
        for i, q in enumerate(queues)
    }
    return cw.MathExpression(
        expression=f"MAX([{', '.join(metrics)}])",
        using_metrics=metrics,
        label="oldest",
        period=MINUTE,
    )


def service_target(
    scope: Construct, service: ecs.FargateService, min_tasks: int, max_tasks: int
) -> aas.ScalableTarget:
    """The desired-count scalable target of an ECS service, created after the service."""
    target = aas.ScalableTarget(
        scope,
        "ScalableTarget",
        service_namespace=aas.ServiceNamespace.ECS,
        scalable_dimension="ecs:service:DesiredCount",
        min_capacity=min_tasks,
        max_capacity=max_tasks,
        resource_id=f"service/{service.cluster.cluster_name}/{service.service_name}",
    )
    target.node.add_dependency(service)
    return target


class DepthScaling(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        service: ecs.FargateService,
        queues: Sequence[sqs.IQueue],
        scaling: StepScaling,
    ) -> None:
        super().__init__(scope, construct_id)
        target = service_target(self, service, 0, scaling.max_workers)
        self.target = target
        backlog = backlog_metric(queues)

        def action(
            name: str, kind: aas.AdjustmentType, cooldown: int | None
        ) -> aas.StepScalingAction:
            return aas.StepScalingAction(
                self,
                name,
                scaling_target=target,
                adjustment_type=kind,
                metric_aggregation_type=aas.MetricAggregationType.MAXIMUM,
                cooldown=Duration.seconds(cooldown) if cooldown else None,
            )

        def alarm(
            name: str,
            metric: cw.IMetric,
            threshold: float,
            periods: int,
            op: cw.ComparisonOperator,
            missing: cw.TreatMissingData,
            why: str,
            step: aas.StepScalingAction,
        ) -> cw.Alarm:
            made = cw.Alarm(
                self,
                name,
                metric=metric,
                threshold=threshold,
                evaluation_periods=periods,
                comparison_operator=op,
                treat_missing_data=missing,
                alarm_description=why,
            )
            made.add_alarm_action(cw_actions.ApplicationScalingAction(step))
            return made

        scale_out = action("ScaleOut", aas.AdjustmentType.EXACT_CAPACITY, 60)
        for lower, upper, workers in scaling.steps:
            # Bounds are relative to the alarm threshold (a backlog of 1).
            scale_out.add_adjustment(
                adjustment=workers,
                lower_bound=lower - 1,
                upper_bound=None if upper is None else upper - 1,
            )
        self.backlog_alarm = alarm(
            "BacklogAlarm",
            backlog,
            1,
            1,
            cw.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            cw.TreatMissingData.NOT_BREACHING,
            "work waiting: set the task count from the step table",
            scale_out,
        )

        to_zero = action("ScaleToZero", aas.AdjustmentType.EXACT_CAPACITY, None)
        to_zero.add_adjustment(adjustment=0, upper_bound=0)
        self.idle_alarm = alarm(
            "IdleAlarm",
            backlog,
            0,
            scaling.idle_minutes,
            cw.ComparisonOperator.LESS_THAN_OR_EQUAL_TO_THRESHOLD,
            cw.TreatMissingData.BREACHING,
            "no work: scale to zero",
            to_zero,
        )

        boost = action("AgeBoost", aas.AdjustmentType.CHANGE_IN_CAPACITY, 120)
        boost.add_adjustment(adjustment=1, lower_bound=0)
        self.age_alarm = alarm(
            "AgeAlarm",
            oldest_age_metric(queues),
            scaling.age_boost_after_seconds,
            2,
            cw.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            cw.TreatMissingData.NOT_BREACHING,
            "work is getting old: one more task",
            boost,
        )

"""Scaling of an always-on service over more queues than one CloudWatch alarm can watch.

A metric-math alarm reads at most 10 metrics, so the backlog sum ``DepthScaling`` uses
(two metrics per queue) stops at 5 queues. Over more (8 shards x 3 classes + a pool is
28 lanes) this construct scales between ``min_tasks`` (>= 1) and ``max_tasks``:

* out: one alarm per group of up to 10 queues on the age of the oldest message (MAX
  over the group) for two minutes; any of them adds one task (cooldown 3 minutes);
* in: the service's average CPU at or under ``idle_cpu`` % for ``idle_minutes`` removes
  one task (cooldown 5 minutes): a dispatcher that has little to do idles.

It cannot scale to zero (no alarm sees the whole backlog to wake it again), which a
many-tenant deployment wants anyway: the back-pressure signal, lane depths and routes
that producers read are published by a live dispatcher.
"""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import Duration
from aws_cdk import aws_applicationautoscaling as aas
from aws_cdk import aws_cloudwatch as cw
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from .depth_scaling import MINUTE, oldest_age_metric, service_target

#: CloudWatch's hard limit on metrics in one metric-math alarm.
MAX_ALARM_METRICS = 10


class LaneAgeScaling(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        service: ecs.FargateService,
        queues: Sequence[sqs.IQueue],
        max_tasks: int,
        min_tasks: int = 1,
        age_seconds: int = 120,
        idle_cpu: float = 10.0,
        idle_minutes: int = 15,
    ) -> None:
        super().__init__(scope, construct_id)
        self.target = service_target(self, service, min_tasks, max_tasks)

        def step(name: str, change: int, cooldown: int) -> aas.StepScalingAction:
            action = aas.StepScalingAction(
                self,
                name,
                scaling_target=self.target,
                adjustment_type=aas.AdjustmentType.CHANGE_IN_CAPACITY,
                metric_aggregation_type=aas.MetricAggregationType.MAXIMUM,
                cooldown=Duration.seconds(cooldown),
            )
            if change > 0:
                action.add_adjustment(adjustment=change, lower_bound=0)
            else:
                action.add_adjustment(adjustment=change, upper_bound=0)
            return action

        scale_out = step("ScaleOut", 1, 180)
        self.age_alarms: list[cw.Alarm] = []
        for index, start in enumerate(range(0, len(queues), MAX_ALARM_METRICS)):
            alarm = cw.Alarm(
                self,
                f"AgeAlarm{index}",
                metric=oldest_age_metric(queues[start : start + MAX_ALARM_METRICS]),
                threshold=age_seconds,
                evaluation_periods=2,
                comparison_operator=cw.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
                treat_missing_data=cw.TreatMissingData.NOT_BREACHING,
                alarm_description="lane work is getting old: one more task",
            )
            alarm.add_alarm_action(cw_actions.ApplicationScalingAction(scale_out))
            self.age_alarms.append(alarm)

        self.idle_alarm = cw.Alarm(
            self,
            "IdleAlarm",
            metric=service.metric_cpu_utilization(period=MINUTE, statistic="Average"),
            threshold=idle_cpu,
            evaluation_periods=idle_minutes,
            comparison_operator=cw.ComparisonOperator.LESS_THAN_OR_EQUAL_TO_THRESHOLD,
            treat_missing_data=cw.TreatMissingData.NOT_BREACHING,
            alarm_description="little to do: one task fewer",
        )
        self.idle_alarm.add_alarm_action(
            cw_actions.ApplicationScalingAction(step("ScaleIn", -1, 300))
        )

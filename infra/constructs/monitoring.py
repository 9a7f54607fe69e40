"""Alarms on what needs a human (anything in the DLQ; lanes whose oldest message is too
old), sent to one SNS topic (TLS-only; with an email subscription when ``alarm_email``
is given: AWS mails a confirmation link first), and one dashboard per deployment: depth
and age per lane, throughput, outcomes, retries, the DLQ, and queue wait against run time
(from the executors' EMF metrics)."""

from __future__ import annotations

from collections.abc import Mapping

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cw
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_sqs as sqs
from constructs import Construct

MINUTE = Duration.minutes(1)


class Monitoring(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        dashboard_name: str,
        lanes: Mapping[str, sqs.IQueue],
        dlq: sqs.IQueue,
        namespace: str,
        service: str,
        max_age_seconds: int = 900,
        topic_name: str | None = None,
        alarm_email: str | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        self.topic = sns.Topic(self, "AlarmTopic", topic_name=topic_name, enforce_ssl=True)
        if alarm_email:
            self.topic.add_subscription(subscriptions.EmailSubscription(alarm_email))
        self.alarms: list[cw.Alarm] = []
        self.dlq_alarm = cw.Alarm(
            self,
            "DlqDepth",
            metric=dlq.metric_approximate_number_of_messages_visible(
                period=MINUTE, statistic="Maximum"
            ),
            threshold=1,
            evaluation_periods=1,
            comparison_operator=cw.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            treat_missing_data=cw.TreatMissingData.NOT_BREACHING,
            alarm_description="tasks failed for good: see `conveyor dlq list`",
        )
        self.alarms.append(self.dlq_alarm)
        for index, (name, queue) in enumerate(lanes.items()):
            self.alarms.append(
                cw.Alarm(
                    self,
                    f"LaneAge{index}",
                    metric=queue.metric_approximate_age_of_oldest_message(
                        period=MINUTE, statistic="Maximum"
                    ),
                    threshold=max_age_seconds,
                    evaluation_periods=3,
                    comparison_operator=cw.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
                    treat_missing_data=cw.TreatMissingData.NOT_BREACHING,
                    alarm_description=f"{name}: oldest task waits over {max_age_seconds}s",
                )
            )

        notify = cw_actions.SnsAction(self.topic)
        for alarm in self.alarms:
            alarm.add_alarm_action(notify)
            alarm.add_ok_action(notify)

        def emf(metric: str, statistic: str = "Sum") -> cw.Metric:
            return cw.Metric(
                namespace=namespace,
                metric_name=metric,
                dimensions_map={"service": service},
                period=MINUTE,
                statistic=statistic,
            )

        self.dashboard = cw.Dashboard(self, "Dashboard", dashboard_name=dashboard_name)
        self.dashboard.add_widgets(
            cw.GraphWidget(
                title="Lane depth",
                width=12,
                left=[
                    q.metric_approximate_number_of_messages_visible(period=MINUTE, label=n)
                    for n, q in lanes.items()
                ],
            ),
            cw.GraphWidget(
                title="Oldest task age (s)",
                width=12,
                left=[
                    q.metric_approximate_age_of_oldest_message(period=MINUTE, label=n)
                    for n, q in lanes.items()
                ],
            ),
            cw.GraphWidget(
                title="Throughput and outcomes",
                width=12,
                left=[
                    emf("outcome_ok"),
                    emf("outcome_retryable"),
                    emf("outcome_throttled"),
                    emf("outcome_fatal"),
                    emf("outcome_expired"),
                ],
            ),
            cw.GraphWidget(
                title="Queue wait vs run time (ms, p90)",
                width=12,
                left=[emf("queue_wait", "p90"), emf("run_time", "p90")],
            ),
            cw.SingleValueWidget(
                title="DLQ",
                width=6,
                metrics=[dlq.metric_approximate_number_of_messages_visible(period=MINUTE)],
            ),
            cw.AlarmStatusWidget(title="Alarms", width=18, alarms=list(self.alarms)),
        )
        self.dashboard.add_widgets(*component_widgets(namespace, list(lanes)))


#: ``service`` dimension of each long-running component's EMF metrics.
DISPATCHER, WORKER, API = "conveyor-dispatcher", "conveyor-worker", "conveyor-api"


def search(namespace: str, dims: str, metric: str, statistic: str = "Sum") -> cw.MathExpression:
    """Every series of ``metric`` with dimensions ``dims`` (e.g. "service,tenant"), found
    at view time: the types and top tenants are not known when the stack is built."""
    return cw.MathExpression(
        expression=f"SEARCH('{{{namespace},{dims}}} MetricName=\"{metric}\"', '{statistic}', 60)",
        using_metrics={},
        period=MINUTE,
        label=metric,
    )


def component_widgets(namespace: str, lanes: list[str]) -> list[cw.IWidget]:
    """The dispatcher's, workers' and reconciler's EMF metrics (``conveyor.runtime``)."""

    def metric(name: str, service: str, statistic: str = "Sum", **dims: str) -> cw.Metric:
        return cw.Metric(
            namespace=namespace,
            metric_name=name,
            dimensions_map={"service": service, **dims},
            period=MINUTE,
            statistic=statistic,
            label=" ".join([name, *dims.values()]),
        )

    held = [metric("settled", DISPATCHER, kind=k) for k in ("paused", "quota", "throttled")]
    return [
        cw.GraphWidget(
            title="Dispatcher: backlog per lane (visible)",
            width=12,
            left=[metric("backlog", DISPATCHER, "Maximum", lane=lane) for lane in lanes],
        ),
        cw.GraphWidget(
            title="Dispatcher: age of the oldest message received per lane (ms)",
            width=12,
            left=[
                metric("oldest_age_received", DISPATCHER, "Maximum", lane=lane) for lane in lanes
            ],
        ),
        cw.GraphWidget(
            title="Dispatcher: oldest age handed over (ms) and DLQ depth",
            width=12,
            left=[
                metric("oldest_age", DISPATCHER, "Maximum", priority=p)
                for p in ("high", "normal", "low")
            ],
            right=[metric("dlq_depth", DISPATCHER, "Maximum")],
        ),
        cw.GraphWidget(
            title="Dispatch rate per type; held, over limit, throttled",
            width=12,
            left=[search(namespace, "service,type", "dispatched")],
            right=held,
        ),
        cw.GraphWidget(
            title="AIMD windows per executor (calls in flight)",
            width=12,
            left=[search(namespace, "service,target", "aimd_window", "Maximum")],
        ),
        cw.GraphWidget(
            title="Top tenants: dispatches and executor-seconds",
            width=12,
            left=[search(namespace, "service,tenant", "tenant_dispatches")],
            right=[search(namespace, "service,tenant", "tenant_executor_seconds")],
        ),
        cw.GraphWidget(
            title="Workers: outcomes per type and kind; released",
            width=12,
            left=[search(namespace, "kind,service,type", "settled")],
            right=[search(namespace, "service,type", "released")],
        ),
        cw.GraphWidget(
            title="Reconciler repairs; back-pressure refusals at submit",
            width=12,
            left=[metric(f"reconciler_{n}", DISPATCHER) for n in ("resent", "dead_lettered")],
            right=[metric("backpressure_refusals", API)],
        ),
    ]

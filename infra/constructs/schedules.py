"""EventBridge Scheduler: the deployment's schedule group, the role schedules assume to
put messages on lanes, and recurring schedules (cron/rate) declared in the catalog.

One-time ``at()`` schedules for far-future tasks (the submit API) and for retries that
wait over 15 minutes (executors and workers) are created at run time in the same group
with the same role, so those principals get ``scheduler:CreateSchedule`` on the group's
schedules and ``iam:PassRole`` on exactly this role, passed only to the Scheduler.
"""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import aws_iam as iam
from aws_cdk import aws_scheduler as scheduler
from aws_cdk import aws_sqs as sqs
from constructs import Construct


class SchedulerGroup(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        group_name: str,
        role_name: str,
        target_queues: Sequence[sqs.IQueue],
        dlq: sqs.IQueue,
    ) -> None:
        super().__init__(scope, construct_id)
        self.group = scheduler.CfnScheduleGroup(self, "Group", name=group_name)
        self.role = iam.Role(
            self,
            "Role",
            role_name=role_name,
            assumed_by=iam.ServicePrincipal("scheduler.amazonaws.com"),
            description="EventBridge Scheduler puts task messages on lanes",
        )
        for queue in [*target_queues, dlq]:
            queue.grant_send_messages(self.role)
        self.dlq = dlq

    def schedule_arn(self, region: str, account: str) -> str:
        """Every schedule of this group (names are derived from task IDs at run time)."""
        return f"arn:aws:scheduler:{region}:{account}:schedule/{self.group.name}/*"

    def grant_pass_role(self, grantee: iam.IGrantable) -> None:
        """Pass this group's role, and only to EventBridge Scheduler."""
        iam.Grant.add_to_principal(
            grantee=grantee,
            actions=["iam:PassRole"],
            resource_arns=[self.role.role_arn],
            conditions={"StringEquals": {"iam:PassedToService": "scheduler.amazonaws.com"}},
        )

    def grant_create(self, grantee: iam.IGrantable, region: str, account: str) -> None:
        """Create one-time schedules in this group (retries that wait over 15 minutes);
        nothing else: no delete, update or read."""
        iam.Grant.add_to_principal(
            grantee=grantee,
            resource_arns=[self.schedule_arn(region, account)],
            actions=["scheduler:CreateSchedule"],
        )
        self.grant_pass_role(grantee)

    def grant_manage(self, grantee: iam.IGrantable, region: str, account: str) -> None:
        """Create and delete one-time schedules in this group, passing this group's role."""
        iam.Grant.add_to_principal(
            grantee=grantee,
            resource_arns=[self.schedule_arn(region, account)],
            actions=[
                "scheduler:CreateSchedule",
                "scheduler:DeleteSchedule",
                "scheduler:GetSchedule",
                "scheduler:UpdateSchedule",
            ],
        )
        self.grant_pass_role(grantee)


class RecurringSchedule(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        group: SchedulerGroup,
        name: str,
        expression: str,
        timezone: str,
        queue: sqs.IQueue,
        message: str,
        enabled: bool = True,
    ) -> None:
        super().__init__(scope, construct_id)
        self.schedule = scheduler.CfnSchedule(
            self,
            "Schedule",
            name=name,
            group_name=group.group.name,
            schedule_expression=expression,
            schedule_expression_timezone=timezone,
            flexible_time_window=scheduler.CfnSchedule.FlexibleTimeWindowProperty(mode="OFF"),
            state="ENABLED" if enabled else "DISABLED",
            target=scheduler.CfnSchedule.TargetProperty(
                arn=queue.queue_arn,
                role_arn=group.role.role_arn,
                input=message,
                retry_policy=scheduler.CfnSchedule.RetryPolicyProperty(
                    maximum_retry_attempts=185, maximum_event_age_in_seconds=86400
                ),
                dead_letter_config=scheduler.CfnSchedule.DeadLetterConfigProperty(
                    arn=group.dlq.queue_arn
                ),
            ),
        )
        self.schedule.node.add_dependency(group.group)

"""EventBridgeScheduler: one-time ``at()`` schedules for far-future tasks and retries, and
recurring ``cron()``/``rate()`` schedules, all in the deployment's schedule group.

A one-time schedule targets the task's lane with the task's own envelope, deletes itself
after completion, retries delivery, and dead-letters to the deployment's DLQ. The role
the Scheduler assumes is ``{prefix}-scheduler`` (created by the stack) in the lanes'
account; queue ARNs are read once from SQS.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from ..topology import Topology


class EventBridgeScheduler:
    def __init__(self, client: Any, lanes: Any, topology: Topology) -> None:
        self.client = client
        self.lanes = lanes
        self.topology = topology
        self._arns: dict[str, str] = {}

    def queue_arn(self, queue: str) -> str:
        if queue not in self._arns:
            self._arns[queue] = self.lanes.sqs.get_queue_attributes(
                QueueUrl=self.lanes.url(queue), AttributeNames=["QueueArn"]
            )["Attributes"]["QueueArn"]
        return self._arns[queue]

    def role_arn(self) -> str:
        account = self.queue_arn(self.topology.dlq).split(":")[4]
        return f"arn:aws:iam::{account}:role/{self.topology.prefix}-scheduler"

    def _target(self, queue: str, body: str) -> dict[str, Any]:
        return {
            "Arn": self.queue_arn(queue),
            "RoleArn": self.role_arn(),
            "Input": body,
            "RetryPolicy": {"MaximumRetryAttempts": 185, "MaximumEventAgeInSeconds": 86400},
            "DeadLetterConfig": {"Arn": self.queue_arn(self.topology.dlq)},
        }

    def create_at(
        self,
        task_id: str,
        fire_at_ms: int,
        queue: str,
        body: str,
        window_minutes: int | None = None,
    ) -> str:
        # at() has whole seconds: round up, so the task never fires before its time.
        when = datetime.fromtimestamp(-(-fire_at_ms // 1000), UTC).strftime("%Y-%m-%dT%H:%M:%S")
        window = (
            {"Mode": "FLEXIBLE", "MaximumWindowInMinutes": window_minutes}
            if window_minutes
            else {"Mode": "OFF"}
        )
        from ..triggers import scheduler_name  # on use: keeps the Lambda import path short

        name = scheduler_name("t-" + task_id)
        self.client.create_schedule(
            Name=name,
            GroupName=self.topology.schedule_group,
            ScheduleExpression=f"at({when})",
            ScheduleExpressionTimezone="UTC",
            FlexibleTimeWindow=window,
            Target=self._target(queue, body),
            ActionAfterCompletion="DELETE",
            State="ENABLED",
        )
        return name

    def delete(self, task_id: str) -> None:
        from ..triggers import scheduler_name

        self.delete_schedule(scheduler_name("t-" + task_id))

    def delete_schedule(self, name: str) -> None:
        try:
            self.client.delete_schedule(Name=name, GroupName=self.topology.schedule_group)
        except self.client.exceptions.ResourceNotFoundException:
            return

    def create_recurring(
        self,
        name: str,
        expression: str,
        timezone: str,
        queue: str,
        body: str,
        *,
        enabled: bool = True,
    ) -> None:
        self.client.create_schedule(
            Name=name,
            GroupName=self.topology.schedule_group,
            ScheduleExpression=expression,
            ScheduleExpressionTimezone=timezone,
            FlexibleTimeWindow={"Mode": "OFF"},
            Target=self._target(queue, body),
            State="ENABLED" if enabled else "DISABLED",
        )

    def set_enabled(self, name: str, enabled: bool) -> None:
        current = self.client.get_schedule(Name=name, GroupName=self.topology.schedule_group)
        self.client.update_schedule(
            Name=name,
            GroupName=self.topology.schedule_group,
            ScheduleExpression=current["ScheduleExpression"],
            ScheduleExpressionTimezone=current.get("ScheduleExpressionTimezone", "UTC"),
            FlexibleTimeWindow=current["FlexibleTimeWindow"],
            Target=current["Target"],
            State="ENABLED" if enabled else "DISABLED",
        )

    def list(self) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        token = None
        while True:
            params: dict[str, Any] = {"GroupName": self.topology.schedule_group}
            if token:
                params["NextToken"] = token
            page = self.client.list_schedules(**params)
            for item in page.get("Schedules", []):
                out.append(
                    self.client.get_schedule(
                        Name=item["Name"], GroupName=self.topology.schedule_group
                    )
                )
            token = page.get("NextToken")
            if not token:
                return out

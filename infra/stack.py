"""ConveyorStack: composes the constructs for one catalog and one stage. No logic of its
own beyond looping over the catalog through ``infra.binding``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from aws_cdk import CfnOutput, Stack
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as sources
from constructs import Construct

from conveyor.aws.store import GSI_BY_TYPE
from conveyor.catalog import load_catalog
from conveyor.topology import Topology
from conveyor.triggers import fire_body, schedule_name, trigger_transformer

from . import binding, permissions
from .constructs import (
    DispatcherService,
    LambdaExecutor,
    LaneQueues,
    Monitoring,
    Network,
    PayloadBucket,
    QueueTriggerRule,
    RecurringSchedule,
    SchedulerGroup,
    SubmitApi,
    TaskTable,
    WorkerService,
    conveyor_code,
)

ROOT = Path(__file__).resolve().parents[1]
IMAGE_EXCLUDE = [
    ".venv",
    ".git",
    "cdk.out",
    "node_modules",
    "tests",
    "bench",
    "**/__pycache__",
    ".mypy_cache",
    ".ruff_cache",
    ".pytest_cache",
    "*.egg-info",
]
POWERTOOLS_LAYER = (
    "arn:aws:lambda:{region}:017000801446:layer:"
    "AWSLambdaPowertoolsPythonV3-python313-x86_64:{version}"
)


class ConveyorStack(Stack):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        catalog_module: str,
        stage: str,
        shards: int = 1,
        spread: int = 2,
        pool: int = 0,
        max_dispatchers: int = 1,
        alarm_email: str | None = None,
        admin_principals: tuple[str, ...] = (),
        scale_dispatcher: bool = True,
        powertools_layer_version: int = 27,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        catalog = load_catalog(catalog_module)
        task_types = list(catalog)
        topology = Topology(prefix=f"conveyor-{stage}", shards=shards, spread=spread, pool=pool)
        self.topology = topology

        queues = LaneQueues(
            self,
            "Queues",
            dlq_name=topology.dlq,
            visibility=binding.queue_visibility(topology, task_types),
        )
        table = TaskTable(self, "Tasks", table_name=topology.table, index_name=GSI_BY_TYPE).table
        bucket = PayloadBucket(self, "Payloads", bucket_name=None).bucket
        bus = events.EventBus(self, "Bus", event_bus_name=topology.event_bus)
        env = binding.environment(topology, catalog_module, bucket.bucket_name)

        def grant_state(
            role: iam.IGrantable,
            table_actions: tuple[str, ...],
            object_actions: tuple[str, ...] = permissions.RUNTIME_OBJECT_ACTIONS,
            dead_letters: bool = True,
        ) -> None:
            """Only the table and object actions the role's code calls (``permissions``)."""
            table.grant(role, *table_actions)
            bus.grant_put_events_to(role)
            if dead_letters:
                queues.dlq.grant_send_messages(role)
            iam.Grant.add_to_principal(
                grantee=role,
                actions=list(object_actions),
                resource_arns=[bucket.arn_for_objects("*")],
            )

        layer = lambda_.LayerVersion.from_layer_version_arn(
            self,
            "Powertools",
            POWERTOOLS_LAYER.format(region=self.region, version=powertools_layer_version),
        )
        code = conveyor_code(ROOT, catalog_module)
        self.functions: dict[str, lambda_.Function] = {}
        for task_type in task_types:
            if task_type.executor != "lambda":
                continue
            executor = LambdaExecutor(
                self,
                f"Fn-{task_type.name}",
                code=code,
                handler="functions.executor.app.handler",
                environment=env,
                layers=[layer],
                **binding.lambda_props(task_type, topology),
            )
            grant_state(executor.function, permissions.EXECUTOR_TABLE_ACTIONS)
            if task_type.direct:
                queue = queues.queues[topology.work_queue(task_type.name)]
                executor.function.add_event_source(
                    sources.SqsEventSource(queue, batch_size=10, report_batch_item_failures=True)
                )
            self.functions[task_type.name] = executor.function

        network = Network(self, "Network", cluster_name=topology.prefix)
        image = ecs.ContainerImage.from_asset(
            str(ROOT), file="functions/container/Dockerfile", exclude=IMAGE_EXCLUDE
        )
        self.workers: dict[str, WorkerService] = {}
        for task_type in task_types:
            if task_type.executor != "fargate":
                continue
            queue = queues.queues[topology.work_queue(task_type.name)]
            worker = WorkerService(
                self,
                f"Worker-{task_type.name}",
                cluster=network.cluster,
                image=image,
                environment={**env, "CONVEYOR_TASK_TYPE": task_type.name},
                queue=queue,
                **binding.worker_props(task_type, topology),
            )
            grant_state(worker.task_role, permissions.WORKER_TABLE_ACTIONS)
            queue.grant_consume_messages(worker.task_role)
            queue.grant_send_messages(worker.task_role)
            self.workers[task_type.name] = worker

        dispatcher = DispatcherService(
            self,
            "Dispatcher",
            cluster=network.cluster,
            service_name=f"{topology.prefix}-dispatcher",
            image=image,
            environment=env,
            lanes=[queues.queues[name] for name in topology.lanes] if scale_dispatcher else (),
            max_dispatchers=max_dispatchers,
        )
        grant_state(dispatcher.task_role, permissions.DISPATCHER_TABLE_ACTIONS)
        dispatcher.task_role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["dynamodb:DeleteItem"],
                resources=[table.table_arn],
                conditions={
                    "ForAllValues:StringLike": {
                        "dynamodb:LeadingKeys": list(permissions.DISPATCHER_DELETE_KEYS)
                    }
                },
            )
        )
        for name, queue in queues.queues.items():
            if name in topology.lanes:
                queue.grant_consume_messages(dispatcher.task_role)
            queue.grant_send_messages(dispatcher.task_role)
        # The reconciler reads the DLQ (is a FAILED task's dead letter there?) and puts
        # each entry back at once.
        queues.dlq.grant(dispatcher.task_role, "sqs:ReceiveMessage", "sqs:ChangeMessageVisibility")
        for function in self.functions.values():
            function.grant_invoke(dispatcher.task_role)
        self.dispatcher = dispatcher

        # The submit API alone reads the admins (the HTTP tenant boundary, runtime.access).
        admins = (
            {"CONVEYOR_ADMIN_PRINCIPALS": ",".join(admin_principals)} if admin_principals else {}
        )
        self._time_and_triggers(
            task_types,
            topology,
            queues,
            catalog_module,
            code,
            layer,
            {**env, **admins},
            grant_state,
        )

        monitoring = Monitoring(
            self,
            "Monitoring",
            dashboard_name=topology.prefix,
            lanes={n: queues.queues[n] for n in topology.lanes},
            dlq=queues.dlq,
            namespace="Conveyor",
            service="conveyor",
            topic_name=f"{topology.prefix}-alarms",
            alarm_email=alarm_email,
        )
        self.queues, self.table, self.bucket, self.bus = queues, table, bucket, bus
        self.monitoring, self.network = monitoring, network

        CfnOutput(self, "TableName", value=table.table_name)
        CfnOutput(self, "BucketName", value=bucket.bucket_name)
        CfnOutput(self, "EventBusName", value=bus.event_bus_name)
        CfnOutput(
            self,
            "Environment",
            value=" ".join(f"{k}={v}" for k, v in env.items() if k.startswith("CONVEYOR_")),
        )

    def _grant_long_retries(self, group: SchedulerGroup, lanes: list[Any]) -> None:
        """Executors and workers schedule retries that wait over 15 minutes: create a
        one-time schedule in the group (passing its role), and read the lanes' ARNs."""
        roles = [f.role for f in self.functions.values()]
        roles += [w.task_role for w in self.workers.values()]
        for role in roles:
            assert role is not None
            group.grant_create(role, self.region, self.account)
            iam.Grant.add_to_principal(
                grantee=role,
                actions=["sqs:GetQueueAttributes", "sqs:GetQueueUrl"],
                resource_arns=[queue.queue_arn for queue in lanes],
            )

    def _time_and_triggers(
        self,
        task_types: list[Any],
        topology: Topology,
        queues: LaneQueues,
        catalog_module: str,
        code: lambda_.Code,
        layer: lambda_.ILayerVersion,
        env: dict[str, str],
        grant_state: Any,
    ) -> None:
        """Scheduler group and catalog schedules, event-trigger rules, the HTTP submit API."""
        lanes = [queues.queues[name] for name in topology.lanes]
        # Schedules put messages on a task's lane: a priority lane, or a direct type's queue.
        direct = [queues.queues[topology.work_queue(t.name)] for t in task_types if t.direct]
        group = SchedulerGroup(
            self,
            "Scheduler",
            group_name=topology.schedule_group,
            role_name=f"{topology.prefix}-scheduler",
            target_queues=[*lanes, *direct],
            dlq=queues.dlq,
        )
        self._grant_long_retries(group, lanes)
        for task_type in task_types:
            for schedule in task_type.schedules:
                name = schedule_name(task_type.name, schedule)
                RecurringSchedule(
                    self,
                    f"Schedule-{name}",
                    group=group,
                    name=name,
                    expression=schedule.expression,
                    timezone=schedule.timezone,
                    queue=queues.queues[topology.lane_for(task_type.priority, schedule.tenant)],
                    message=fire_body(task_type.name, schedule, name),
                    enabled=schedule.enabled,
                )
            for trigger in task_type.triggers:
                paths, template = trigger_transformer(task_type.name, trigger)
                QueueTriggerRule(
                    self,
                    f"Trigger-{trigger.name}",
                    rule_name=f"{topology.prefix}-{trigger.name}",
                    pattern=trigger.pattern,
                    input_paths=paths,
                    input_template=template,
                    dlq=queues.dlq,
                    queue=queues.queues[topology.lane_for(task_type.priority, trigger.tenant)],
                )

        submit = LambdaExecutor(
            self,
            "SubmitFunction",
            function_name=f"{topology.prefix}-submit-api",
            code=code,
            handler="functions.submit.app.handler",
            timeout_seconds=15,
            memory_mb=512,
            reserved_concurrency=None,
            environment=env,
            layers=[layer],
        )
        # Who submits: the HTTP API, and the executors of types declared submits=True
        # (their handlers call ctx.submit). A submit sends to a lane or, for a direct
        # type, to its own queue; a delayed one creates a one-time schedule (executors
        # may already: long retries), and the API also deletes schedules (cancel).
        submitters: list[iam.IGrantable] = [submit.function]
        for task_type in task_types:
            if task_type.submits and task_type.name in self.functions:
                submitters.append(self.functions[task_type.name])
            elif task_type.submits and task_type.name in self.workers:
                submitters.append(self.workers[task_type.name].task_role)
        for submitter in submitters:
            grant_state(
                submitter,
                permissions.SUBMIT_TABLE_ACTIONS,
                permissions.SUBMIT_OBJECT_ACTIONS,
                dead_letters=False,
            )
            for queue in [*lanes, *direct]:
                queue.grant_send_messages(submitter)
        group.grant_manage(submit.function, self.region, self.account)
        self.scheduler_group = group
        self.submit_api = SubmitApi(
            self, "SubmitApi", api_name=f"{topology.prefix}-submit", function=submit.function
        )
        self.submit_function = submit.function
        CfnOutput(self, "SubmitApiUrl", value=self.submit_api.api.api_endpoint)

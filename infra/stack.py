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

from . import binding
from .constructs import (
    DispatcherService,
    LambdaExecutor,
    LaneQueues,
    Monitoring,
    Network,
    PayloadBucket,
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
        powertools_layer_version: int = 27,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        catalog = load_catalog(catalog_module)
        task_types = list(catalog)
        topology = Topology(prefix=f"conveyor-{stage}", shards=shards)
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

        def grant_state(role: iam.IGrantable) -> None:
            table.grant_read_write_data(role)
            bus.grant_put_events_to(role)
            queues.dlq.grant_send_messages(role)
            assert role.grant_principal is not None
            iam.Grant.add_to_principal(
                grantee=role,
                actions=["s3:GetObject", "s3:PutObject", "s3:DeleteObject"],
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
            grant_state(executor.function)
            if task_type.direct:
                queue = queues.queues[topology.work_queue(task_type.name)]
                executor.function.add_event_source(
                    sources.SqsEventSource(queue, batch_size=10, report_batch_item_failures=True)
                )
            self.functions[task_type.name] = executor.function

        network = Network(self, "Network", cluster_name=topology.prefix)
        worker_image = ecs.ContainerImage.from_asset(
            str(ROOT), file="functions/worker/Dockerfile", exclude=IMAGE_EXCLUDE
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
                image=worker_image,
                environment={**env, "CONVEYOR_TASK_TYPE": task_type.name},
                queue=queue,
                **binding.worker_props(task_type, topology),
            )
            grant_state(worker.task_role)
            queue.grant_consume_messages(worker.task_role)
            queue.grant_send_messages(worker.task_role)
            self.workers[task_type.name] = worker

        dispatcher = DispatcherService(
            self,
            "Dispatcher",
            cluster=network.cluster,
            service_name=f"{topology.prefix}-dispatcher",
            image=ecs.ContainerImage.from_asset(
                str(ROOT), file="functions/dispatcher/Dockerfile", exclude=IMAGE_EXCLUDE
            ),
            environment=env,
        )
        grant_state(dispatcher.task_role)
        for name, queue in queues.queues.items():
            if name in topology.lanes:
                queue.grant_consume_messages(dispatcher.task_role)
            queue.grant_send_messages(dispatcher.task_role)
        for function in self.functions.values():
            function.grant_invoke(dispatcher.task_role)
        self.dispatcher = dispatcher

        monitoring = Monitoring(
            self,
            "Monitoring",
            dashboard_name=topology.prefix,
            lanes={n: queues.queues[n] for n in topology.lanes},
            dlq=queues.dlq,
            namespace="Conveyor",
            service="conveyor",
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

"""Cost benchmark: AWS requests and dollars per million tasks, Conveyor vs a naive baseline.

All approaches run in the same process against the same in-process moto, and every AWS
request is counted by the same botocore hook, so the comparison is like for like. moto's
speed says nothing about AWS's, so wall time is printed for information only.

    python -m bench.cost [--tasks N] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
for _k, _v in {
    "AWS_ACCESS_KEY_ID": "bench",
    "AWS_SECRET_ACCESS_KEY": "bench",
    "AWS_DEFAULT_REGION": "us-east-1",
}.items():
    os.environ.setdefault(_k, _v)
os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")

from moto import mock_aws  # noqa: E402
from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402

from conveyor import Conveyor, SubmitRequest  # noqa: E402
from conveyor.aws import AwsClients, DynamoTaskStore, SqsLanes  # noqa: E402
from conveyor.aws.accounting import RequestCounter  # noqa: E402
from conveyor.cost import per_million  # noqa: E402
from conveyor.local.provision import provision  # noqa: E402
from conveyor.runtime.bootstrap import aws_runtime  # noqa: E402
from conveyor.topology import Topology  # noqa: E402
from examples.catalog import catalog  # noqa: E402

PAYLOAD = {"email": "user@example.com", "name": "A. User", "plan": "pro", "locale": "en-GB"}


def _row(name: str, counter: RequestCounter, tasks: int, seconds: float) -> dict[str, Any]:
    requests, units = counter.snapshot()
    return {
        "approach": name,
        "tasks": tasks,
        "requests_per_task": sum(requests.values()) / tasks,
        "units_per_task": {k: v / tasks for k, v in sorted(units.items())},
        "usd_per_million_tasks": per_million(units, tasks),
        "wall_seconds": seconds,
        "requests": {f"{s}:{o}": n for (s, o), n in sorted(requests.items())},
    }


def _conveyor(prefix: str, counter: RequestCounter) -> Conveyor:
    """A client on a freshly provisioned deployment, its requests counted by ``counter``."""
    topology = Topology(prefix=prefix)
    provision(AwsClients(region="us-east-1"), topology, catalog)
    aws = AwsClients(region="us-east-1", counter=counter)
    client = Conveyor(
        catalog,
        topology=topology,
        store=DynamoTaskStore(aws.dynamodb, topology.table),
        lanes=SqsLanes(aws.sqs),
        payloads=_NoPayloads(),
    )
    client.lanes.url(topology.lane_for("high", "default"))  # resolved once per process
    counter.reset()
    return client


def submit_one_by_one(tasks: int) -> dict[str, Any]:
    counter = RequestCounter({"b1-tasks": [("type", "id")]})
    client = _conveyor("b1", counter)
    start = time.perf_counter()
    for _ in range(tasks):
        client.submit("send_welcome_email", PAYLOAD)
    return _row("conveyor submit", counter, tasks, time.perf_counter() - start)


def submit_batched(tasks: int) -> dict[str, Any]:
    counter = RequestCounter({"b2-tasks": [("type", "id")]})
    client = _conveyor("b2", counter)
    start = time.perf_counter()
    for offset in range(0, tasks, 100):
        client.submit_many(
            [SubmitRequest("send_welcome_email", PAYLOAD) for _ in range(min(100, tasks - offset))]
        )
    return _row("conveyor submit_many", counter, tasks, time.perf_counter() - start)


class _NoPayloads:
    """Small payloads never touch S3; any call here would be a bug in the benchmark."""

    def put(self, key: str, data: bytes) -> None:
        raise AssertionError("unexpected S3 put")

    get = delete = put  # type: ignore[assignment]


def _naive_submits(name: str, tasks: int, counter: RequestCounter) -> tuple[Any, Any, str]:
    """The hand-wired submit: one put_item of the whole task (payload included) and one
    send_message per task, no dedup condition, no index. Returns (ddb, sqs, queue url)."""
    aws = AwsClients(region="us-east-1")
    aws.dynamodb.create_table(
        TableName=f"{name}-tasks",
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
    )
    url = aws.sqs.create_queue(QueueName=f"{name}-queue")["QueueUrl"]
    counted = AwsClients(region="us-east-1", counter=counter)
    ddb, sqs = counted.dynamodb, counted.sqs
    for _ in range(tasks):
        task_id = str(uuid.uuid4())
        body = json.dumps({"id": task_id, "type": "send_welcome_email", "payload": PAYLOAD})
        ddb.put_item(
            TableName=f"{name}-tasks",
            Item={
                "id": {"S": task_id},
                "state": {"S": "QUEUED"},
                "body": {"S": body},
                "created": {"N": str(int(time.time() * 1000))},
            },
        )
        sqs.send_message(QueueUrl=url, MessageBody=body)
    return ddb, sqs, url


def naive_baseline(tasks: int) -> dict[str, Any]:
    counter = RequestCounter()
    start = time.perf_counter()
    _naive_submits("naive", tasks, counter)
    return _row("naive boto3 (baseline)", counter, tasks, time.perf_counter() - start)


def lifecycle_conveyor(tasks: int, *, events: bool = True) -> dict[str, Any]:
    """submit_many -> dispatcher service loop -> executor -> SUCCEEDED, every request
    counted (long-poll receives on idle lanes included)."""
    prefix = "b3" if events else "b4"
    counter = RequestCounter({f"{prefix}-tasks": [("type", "id")]})
    topology = Topology(prefix=prefix)
    provision(AwsClients(region="us-east-1"), topology, catalog)
    runtime = aws_runtime(catalog, topology, AwsClients(region="us-east-1", counter=counter))
    if not events:
        runtime.events = None  # a type declared with events=False
    for lane in topology.lanes:
        runtime.lanes.url(lane)
    client = runtime.client()
    dispatcher = runtime.dispatcher(pause_refresh=3600)
    counter.reset()
    start = time.perf_counter()
    for offset in range(0, tasks, 100):
        client.submit_many(
            [SubmitRequest("send_welcome_email", PAYLOAD) for _ in range(min(100, tasks - offset))]
        )
    stop = threading.Event()
    service = threading.Thread(target=dispatcher.run, args=(stop,), kwargs={"wait_seconds": 2})
    service.start()  # the production loop: per-lane long-polling pullers
    deadline = time.monotonic() + 600
    while dispatcher.stats.kinds["ok"] < tasks and time.monotonic() < deadline:
        time.sleep(0.1)
    stop.set()
    service.join()
    seconds = time.perf_counter() - start
    label = "on" if events else "off"
    row = _row(f"conveyor lifecycle (events {label})", counter, tasks, seconds)
    done = client.list(task_type="send_welcome_email", state="SUCCEEDED", limit=1000)
    assert len(done.records) == tasks, "every task must succeed"
    return row


def lifecycle_naive(tasks: int) -> dict[str, Any]:
    """The hand-wired loop: the naive submit, then receive one, mark RUNNING, run, mark
    SUCCEEDED, delete -- one call each, no batching, no dedup, no events."""
    counter = RequestCounter()
    start = time.perf_counter()
    ddb, sqs, url = _naive_submits("naive2", tasks, counter)
    for _ in range(tasks):
        message = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=1)["Messages"][0]
        task_id = json.loads(message["Body"])["id"]
        for state in ("RUNNING", "SUCCEEDED"):
            ddb.update_item(
                TableName="naive2-tasks",
                Key={"id": {"S": task_id}},
                UpdateExpression="SET #s = :s",
                ExpressionAttributeNames={"#s": "state"},
                ExpressionAttributeValues={":s": {"S": state}},
                ReturnValues="ALL_NEW",
            )
        sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    return _row("naive lifecycle (baseline)", counter, tasks, time.perf_counter() - start)


def render(rows: list[dict[str, Any]], title: str) -> None:
    table = Table(title=title)
    for column in (
        "approach",
        "tasks",
        "AWS requests/task",
        "DDB WRU/task",
        "DDB RRU/task",
        "SQS units/task",
        "events/task",
        "USD per 1M tasks",
        "vs baseline",
        "wall s (moto)",
    ):
        table.add_column(column, justify="left" if column == "approach" else "right")
    base = next(r for r in rows if "baseline" in r["approach"])["usd_per_million_tasks"]
    for row in rows:
        units = row["units_per_task"]
        table.add_row(
            row["approach"],
            str(row["tasks"]),
            f"{row['requests_per_task']:.2f}",
            f"{units.get('ddb_wru', 0):.2f}",
            f"{units.get('ddb_rru', 0):.2f}",
            f"{units.get('sqs_requests', 0):.2f}",
            f"{units.get('events', 0):.2f}",
            f"${row['usd_per_million_tasks']:.3f}",
            f"{row['usd_per_million_tasks'] / base:.2f}x" if base else "-",
            f"{row['wall_seconds']:.2f}",
        )
    Console(width=170).print(table)


def run(tasks: int) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    with mock_aws():
        submit = [naive_baseline(tasks), submit_one_by_one(tasks), submit_batched(tasks)]
        lifecycle = [
            lifecycle_naive(tasks),
            lifecycle_conveyor(tasks),
            lifecycle_conveyor(tasks, events=False),
        ]
    return submit, lifecycle


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=300)
    parser.add_argument("--json", type=Path, default=None, help="also write the rows here")
    args = parser.parse_args(argv)
    submit, lifecycle = run(args.tasks)
    render(submit, f"Submit cost, {args.tasks} tasks (us-east-1 list prices)")
    render(
        lifecycle,
        f"Whole lifecycle, submit -> SUCCEEDED, {args.tasks} tasks "
        "(compute excluded: the same for both)",
    )
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"submit": submit, "lifecycle": lifecycle}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

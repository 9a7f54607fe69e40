"""A handler submitting follow-up tasks on moto, through the runtime the executors build:
``Runtime.runner()`` hands the runner the SDK client that ``ctx.submit`` uses, and the
table actions that takes are the executor's plus the submit API's (``infra.permissions``,
granted to types declared ``submits=True``)."""

from __future__ import annotations

import hashlib
from collections import Counter
from types import SimpleNamespace

from conveyor.memory import MemoryEvents
from conveyor.model import TaskState
from conveyor.runtime.bootstrap import aws_runtime
from infra.permissions import OPERATIONS

IMAGES = [{"key": f"products/{n}.jpg", "width": 1024, "height": 768} for n in range(3)]


def test_a_reindex_submits_one_thumbnail_per_changed_image(
    provisioned, aws, topology, example_catalog
):
    ops: Counter[str] = Counter()
    dynamodb = aws.session.client("dynamodb", region_name=aws.region, endpoint_url=aws.endpoint_url)
    dynamodb.meta.events.register(
        "before-parameter-build.dynamodb", lambda model, **_: ops.update([model.name])
    )
    clients = SimpleNamespace(
        dynamodb=dynamodb, sqs=aws.sqs, s3=aws.s3, events=aws.events, scheduler=aws.scheduler
    )
    producer = aws_runtime(example_catalog, topology, aws).client()
    parent = producer.submit(
        "reindex_catalog", {"images": IMAGES, "chunks": 1, "chunk_seconds": 0}, tenant="acme"
    ).task_id
    lane = producer.get(parent).lane
    (message,) = [
        m
        for m in aws_runtime(example_catalog, topology, aws).lanes.receive(lane, max_messages=10)
        if parent in m.body
    ]

    executor = aws_runtime(example_catalog, topology, clients)
    executor.events = MemoryEvents()
    runner = executor.runner()
    assert runner.run_body(message.body).kind == "ok"
    assert runner.run_body(message.body).kind == "duplicate"  # a re-delivery: nothing new

    children = producer.list(task_type="make_thumbnail").records
    expected = {f"{parent}.{hashlib.sha256(i['key'].encode()).hexdigest()[:12]}" for i in IMAGES}
    assert {c.task_id for c in children} == expected
    assert {(c.tenant, c.state) for c in children} == {("acme", TaskState.QUEUED)}
    queued = producer.lanes.receive(children[0].lane, max_messages=10)
    assert expected <= {c for m in queued for c in expected if c in m.body}
    assert set(ops) <= OPERATIONS["executor"] | OPERATIONS["submit"]
    assert ops["PutItem"] == len(IMAGES)  # one conditional create per child

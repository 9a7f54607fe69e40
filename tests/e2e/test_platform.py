"""The running platform on the dev cloud (moto server on loopback): what issue-level
guarantees look like end to end."""

from __future__ import annotations

import io
import json
import threading
import time

import pytest
from botocore.awsrequest import AWSResponse
from botocore.response import StreamingBody

from conveyor import TaskState
from conveyor.local.devcloud import dev_runtime
from conveyor.local.platform import LocalPlatform
from conveyor.ports import OutMessage
from conveyor.runtime.executors import LambdaExecutor
from tests.support import ledger
from tests.support.waiting import wait_terminal

pytestmark = pytest.mark.e2e


def test_n_in_n_terminal_none_lost_none_twice(cloud, ledger_dir):
    platform = LocalPlatform(cloud, dispatcher_options={"pause_refresh": 0.5})
    client = platform.runtime.client()
    modes = ["ok"] * 40 + ["flaky"] * 6 + ["fatal"] * 3 + ["throttle"] * 4
    with platform:
        results = client.submit_many(
            [
                {"task_type": "work", "payload": {"mode": m}, "tenant": f"t{i % 5}"}
                for i, m in enumerate(modes)
            ]
        )
        results += client.submit_many(
            [
                {"task_type": "long_job", "payload": {"chunks": 2, "chunk_seconds": 0.1}}
                for _ in range(3)
            ]
        )
        ids = [r.task_id for r in results]
        records = wait_terminal(client, ids)
    assert len(records) == len(modes) + 3
    states = [r.state for r in records]
    assert states.count(TaskState.SUCCEEDED) == len(modes) - 3 + 3
    assert states.count(TaskState.FAILED) == 3
    effects = ledger.effects()
    assert all(effects[r.task_id] == 1 for r in records if r.state is TaskState.SUCCEEDED)
    assert sum(effects.values()) == states.count(TaskState.SUCCEEDED)
    throttled = [r for r, m in zip(records, modes, strict=False) if m == "throttle"]
    assert all(r.attempts == 1 and r.throttles == 2 for r in throttled)


def test_injected_duplicate_delivery_runs_once(cloud, ledger_dir):
    rt = dev_runtime(cloud)
    client = rt.client()
    task_id = client.submit("work", {"mode": "sleep", "seconds": 0.5}).task_id
    lane = client.get(task_id).lane
    original = rt.lanes.receive(lane, max_messages=10, visibility=0)
    body = next(m.body for m in original if task_id in m.body)
    rt.lanes.send(lane, [OutMessage(body=body, group="default", id="dup")])  # the duplicate
    dispatcher = rt.dispatcher()
    assert dispatcher.drain(idle_passes=3, timeout=60)
    assert client.get(task_id).state is TaskState.SUCCEEDED
    assert ledger.effects()[task_id] == 1
    assert dispatcher.stats.kinds["ok"] == 1
    assert dispatcher.stats.kinds["duplicate"] + dispatcher.stats.kinds["busy"] >= 1


def test_malformed_message_in_the_dev_cloud_goes_to_the_dlq_and_work_goes_on(cloud, ledger_dir):
    rt = dev_runtime(cloud)
    client = rt.client()
    lane = rt.topology.lane_for("normal", "default")
    rt.lanes.send(lane, [OutMessage(body="\x00garbage", group="x", id="g")])
    good = [client.submit("work", {"mode": "ok"}).task_id for _ in range(3)]
    dispatcher = rt.dispatcher()
    assert dispatcher.drain(idle_passes=3, timeout=60)
    assert [client.get(i).state for i in good] == [TaskState.SUCCEEDED] * 3
    entries = [e for e in client.dlq_list() if e.kind == "malformed"]
    assert entries
    assert entries[0].reason.startswith("body is not JSON")
    assert entries[0].body == "\x00garbage"
    client.dlq().redrive(now_ms=0)  # drop what is left, for the next tests


class FakeLambda:
    """A botocore hook standing in for Lambda: the first ``throttles`` Invokes answer 429
    (TooManyRequestsException); the others run the real runner, as the function would."""

    def __init__(self, runner, throttles: int) -> None:
        self.runner = runner
        self.throttles = throttles
        self.calls = 0
        self.ran: list[str] = []
        self.lock = threading.Lock()

    def __call__(self, model, params, **kwargs):
        with self.lock:
            self.calls += 1
            throttle = self.calls <= self.throttles
        if throttle:
            error = {
                "Error": {"Code": "TooManyRequestsException", "Message": "Rate exceeded"},
                "ResponseMetadata": {"HTTPStatusCode": 429},
            }
            return AWSResponse("https://lambda.local", 429, {}, None), error
        event = json.loads(params["body"])
        outcome = self.runner.run_body(event["conveyor"])
        with self.lock:
            self.ran.append(outcome.task_id)
        payload = json.dumps(outcome.to_dict()).encode()
        parsed = {
            "StatusCode": 200,
            "Payload": StreamingBody(io.BytesIO(payload), len(payload)),
            "ResponseMetadata": {"HTTPStatusCode": 200},
        }
        return AWSResponse("https://lambda.local", 200, {}, None), parsed


def test_lambda_throttles_spend_no_attempts(cloud, ledger_dir):
    rt = dev_runtime(cloud)
    client = rt.client()
    runner = rt.runner()
    aws = cloud.clients()
    lam = aws.session.client(
        "lambda", endpoint_url=aws.endpoint_url, config=LambdaExecutor.CLIENT_CONFIG
    )
    fake = FakeLambda(runner, throttles=3)
    lam.meta.events.register("before-call.lambda.Invoke", fake)
    ids = [client.submit("work", {"mode": "ok"}).task_id for _ in range(2)]
    dispatcher = rt.dispatcher(
        LambdaExecutor(lam, rt.topology.prefix, max_workers=2), runner=runner
    )
    assert dispatcher.drain(idle_passes=3, timeout=90)
    records = [client.get(i) for i in ids]
    assert [r.state for r in records] == [TaskState.SUCCEEDED] * 2
    assert [r.attempts for r in records] == [1, 1]
    assert dispatcher.stats.kinds["throttled"] == 3
    assert sorted(i for i in fake.ran if i in ids) == sorted(ids)  # one invocation each


def test_pause_on_the_running_platform(cloud, ledger_dir):
    platform = LocalPlatform(cloud, dispatcher_options={"pause_refresh": 0.2, "hold_seconds": 1.0})
    client = platform.runtime.client()
    client.pause(task_type="work")
    with platform:
        held = [client.submit("work", {"mode": "ok"}).task_id for _ in range(3)]
        free = client.submit("other", {}).task_id
        wait_terminal(client, [free])
        time.sleep(2.0)
        assert [client.get(i).state for i in held] == [TaskState.QUEUED] * 3
        assert sum(ledger.effects()[i] for i in held) == 0
        client.resume(task_type="work")
        records = wait_terminal(client, held)
    assert [r.state for r in records] == [TaskState.SUCCEEDED] * 3

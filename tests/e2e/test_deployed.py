"""The deployed shape, end to end: what ``cdk deploy`` ships, run as shipped.

The app is synthesized once; from its template come each Lambda function's handler,
environment and asset directory, and each ECS container's command and environment.
Those run, unchanged, against the dev cloud (moto server on loopback):

* the dispatcher container's command, as a process with the template's environment; its
  boto3 ``lambda.invoke`` reaches the loopback Lambda host through
  ``AWS_ENDPOINT_URL_LAMBDA``;
* every function in the host, from its cdk.out asset with only boto3 and the Powertools
  layer importable, and nothing injected;
* the Fargate worker's command for each Fargate type;
* the submit function, invoked with API Gateway events, as the only producer.

The only additions are what the cloud itself provides: the endpoint, credentials and
region, ``PYTHONPATH`` as the container image sets it, and tracing off (no X-Ray daemon).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import boto3
import pytest
from botocore.config import Config

from conveyor import TaskState
from conveyor.catalog import load_catalog
from conveyor.local.devcloud import DEV_CREDENTIALS, DevCloud, dev_client
from conveyor.local.lambda_host import LambdaHost
from conveyor.topology import Topology
from tests.infra.conftest import Synth
from tests.support.deployed import Shipped
from tests.support.waiting import wait_terminal

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]

#: (task type, payload) -> the state each example task must end in.
EXAMPLES = [
    ("send_welcome_email", {"email": "ada@example.com"}, TaskState.SUCCEEDED),
    ("send_welcome_email", {"email": "not-an-email"}, TaskState.FAILED),
    ("make_thumbnail", {"key": "a.png", "width": 1024, "height": 512}, TaskState.SUCCEEDED),
    ("make_thumbnail", {"key": "b.png"}, TaskState.FAILED),
    ("nightly_report", {"report": "usage", "rows": 3}, TaskState.SUCCEEDED),
    ("call_webhook", {"fail_first": 1}, TaskState.SUCCEEDED),
    ("call_webhook", {"throttle_first": 1}, TaskState.SUCCEEDED),
    ("reindex_catalog", {"chunks": 2, "chunk_seconds": 0.05}, TaskState.SUCCEEDED),
]


class Process:
    """A child process whose output is kept in a file, for the failure message."""

    def __init__(self, name: str, command: list[str], env: dict[str, str], logs: Path) -> None:
        self.log = logs / f"{name}.log"
        self.proc = subprocess.Popen(
            command,
            env=env,
            cwd=ROOT,
            stdout=self.log.open("w"),
            stderr=subprocess.STDOUT,
        )

    def tail(self) -> str:
        return self.log.read_text()[-3000:] if self.log.exists() else ""

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def _executable(command: tuple[str, ...]) -> list[str]:
    """The container's command on this machine: ``python`` is this interpreter and console
    scripts come from its environment, as ``pip install`` puts them in the image."""
    first = command[0]
    if first == "python":
        return [sys.executable, *command[1:]]
    found = shutil.which(first, path=str(Path(sys.executable).parent))
    assert found, f"{first} is not installed next to {sys.executable}"
    return [found, *command[1:]]


@pytest.fixture(scope="module")
def deployed(tmp_path_factory):
    synth = Synth(tmp_path_factory.mktemp("cdk.out"))
    buckets = dict.fromkeys(
        synth.resources("AWS::S3::Bucket"), f"{synth.stack.topology.prefix}-payloads"
    )
    shipped = Shipped.from_synth(synth.json, synth.template_path.parent, buckets)
    (dispatcher,) = shipped.container("conveyor", "dispatcher")
    env = dispatcher.environment
    saved = {k: os.environ.pop(k) for k in list(os.environ) if k.startswith("AWS_ENDPOINT")}
    cloud = DevCloud(
        load_catalog(env["CONVEYOR_CATALOG"]),
        Topology.from_env(env),
        catalog_module=env["CONVEYOR_CATALOG"],
    ).start()
    aws = {**DEV_CREDENTIALS, "AWS_REGION": DEV_CREDENTIALS["AWS_DEFAULT_REGION"]}
    host = LambdaHost(
        shipped.functions.values(),
        env={**aws, "AWS_ENDPOINT_URL": cloud.endpoint, "POWERTOOLS_TRACE_DISABLED": "true"},
    ).start()
    logs = tmp_path_factory.mktemp("logs")
    base = {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/tmp"), **aws}
    base.update(AWS_ENDPOINT_URL=cloud.endpoint, PYTHONPATH=str(ROOT))
    base.update(POWERTOOLS_LOG_LEVEL="WARNING", POWERTOOLS_TRACE_DISABLED="true")
    processes = [
        Process(
            "dispatcher",
            _executable(dispatcher.command),
            {**base, **env, "AWS_ENDPOINT_URL_LAMBDA": host.endpoint},
            logs,
        )
    ]
    for worker in shipped.container("python", "-m", "conveyor.worker"):
        processes.append(
            Process(
                worker.logical_id, _executable(worker.command), {**base, **worker.environment}, logs
            )
        )
    try:
        yield shipped, cloud, host, processes
    finally:
        for process in processes:
            process.stop()
        host.stop()
        cloud.stop()
        os.environ.update(saved)


def _submit(lam, function: str, task_type: str, payload: object) -> dict:
    event = {
        "rawPath": f"/tasks/{task_type}",
        "requestContext": {"http": {"method": "POST"}},
        "headers": {"content-type": "application/json"},
        "body": json.dumps({"payload": payload}),
    }
    response = lam.invoke(FunctionName=function, Payload=json.dumps(event).encode())
    answer = json.loads(response["Payload"].read())
    assert "FunctionError" not in response, answer
    assert answer["statusCode"] == 202, answer
    return json.loads(answer["body"])


def test_the_template_ships_every_type_and_the_submit_function(deployed):
    shipped, cloud, _, _ = deployed
    lambda_types = {t.name for t in cloud.catalog if t.executor == "lambda"}
    handlers = {f.handler for f in shipped.functions.values()}
    assert handlers == {"functions.executor.app.handler", "functions.submit.app.handler"}
    assert len(shipped.functions) == len(lambda_types) + 1
    for spec in shipped.functions.values():
        module = spec.handler.rsplit(".", 1)[0].replace(".", "/") + ".py"
        assert (spec.code_dir / module).is_file(), spec
    fargate = {t.name for t in cloud.catalog if t.executor == "fargate"}
    workers = shipped.container("python", "-m", "conveyor.worker")
    assert {w.environment["CONVEYOR_TASK_TYPE"] for w in workers} == fargate


def test_the_example_catalog_runs_to_its_terminal_states_as_deployed(deployed):
    shipped, cloud, host, processes = deployed
    lam = boto3.client(
        "lambda",
        endpoint_url=host.endpoint,
        region_name=DEV_CREDENTIALS["AWS_DEFAULT_REGION"],
        aws_access_key_id=DEV_CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=DEV_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        config=Config(retries={"total_max_attempts": 1}, read_timeout=60),
    )
    (submit,) = [f.name for f in shipped.functions.values() if "submit" in f.handler]
    ids = [_submit(lam, submit, t, p)["id"] for t, p, _ in EXAMPLES]
    client = dev_client(cloud)
    try:
        records = wait_terminal(client, ids, timeout=45)
    except AssertionError as exc:
        logs = "\n".join(f"--- {p.log.name}\n{p.tail()}" for p in processes)
        raise AssertionError(f"{exc}\nhost errors: {dict(host.errors)}\n{logs}") from None
    assert [r.state for r in records] == [state for _, _, state in EXAMPLES], [
        (r.task_type, r.state, r.error) for r in records
    ]
    thumbnail = client.result(ids[2])
    assert (thumbnail["width"], thumbnail["height"]) == (256, 128)
    assert thumbnail["key"].startswith("thumbs/")
    assert client.result(ids[-1]) == {"chunks": 2}  # ran by the Fargate worker command
    lambda_types = {t.name for t in cloud.catalog if t.executor == "lambda"}
    ran = {name for name, n in host.invocations.items() if n}
    assert {f"{cloud.topology.prefix}-{t}".replace("_", "-") for t in lambda_types} <= ran
    dead = sorted(d.task_id for d in client.dlq_list())
    assert dead == sorted(ids[i] for i, (_, _, s) in enumerate(EXAMPLES) if s is TaskState.FAILED)

"""kill -9 scenarios on the dev cloud (moto server on loopback): real processes die.

* ``run_dispatcher_kills`` -- the dispatcher service (``bench.chaos.proc``, Lambda types
  run inside it) is killed at seeded moments and started again at once.
* ``run_worker_kills`` -- Fargate workers (``python -m conveyor.worker``) of the ledger's
  ``long_job`` type are killed at seeded moments and replaced, as ECS would.

Each attempt in flight at a kill may have finished its handler before its durable
write: those are the only handler re-runs allowed (at most one per executor thread of a
killed dispatcher, one per killed worker). ``Task Succeeded`` events are routed by an
EventBridge rule to a queue and counted, to find records that succeeded twice.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

from conveyor import TaskState
from conveyor.local.devcloud import DevCloud, dev_client, dev_runtime
from conveyor.topology import Topology
from tests.support import ledger

from .common import (
    DISPATCHER_OPTIONS,
    EXECUTOR_THREADS,
    Result,
    judge,
    shorten_lanes,
    task_mix,
    wait_terminal,
)

ROOT = Path(__file__).resolve().parents[2]
WORKER_ENV = {
    "CONVEYOR_TASK_TYPE": "long_job",
    "CONVEYOR_HEARTBEAT": "0.5",
    "CONVEYOR_LEASE": "3",
    "CONVEYOR_WAIT": "1",
    "CONVEYOR_STOP_TIMEOUT": "5",
}


def _succeeded_queue(cloud: DevCloud) -> str:
    """A queue that receives every ``Task Succeeded`` event of the deployment's bus."""
    clients, topology = cloud.clients(), cloud.topology
    name = f"{topology.prefix}-succeeded"
    url: str = clients.sqs.create_queue(QueueName=name)["QueueUrl"]
    arn = clients.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])
    clients.events.put_rule(
        Name=name,
        EventBusName=topology.event_bus,
        EventPattern=json.dumps({"detail-type": ["Task Succeeded"]}),
        State="ENABLED",
    )
    clients.events.put_targets(
        Rule=name,
        EventBusName=topology.event_bus,
        Targets=[{"Id": "count", "Arn": arn["Attributes"]["QueueArn"]}],
    )
    return url


def _count_succeeded(cloud: DevCloud, url: str) -> Counter[str]:
    sqs, out = cloud.clients().sqs, Counter[str]()
    while True:
        got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=900)
        if not got.get("Messages"):
            return out
        for message in got["Messages"]:
            out[json.loads(message["Body"])["detail"]["id"]] += 1


def _env(cloud: DevCloud, workdir: Path, **extra: str) -> dict[str, str]:
    path = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    return {
        **os.environ,
        **cloud.env(),
        "LEDGER_DIR": str(workdir),
        "PYTHONPATH": path,
        "POWERTOOLS_LOG_LEVEL": "CRITICAL",
        **extra,
    }


def _spawn(command: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        command, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )


def _stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def _scenario(
    name: str,
    topology: Topology,
    workdir: Path,
    requests: list[tuple[dict[str, Any], TaskState]],
    run: Any,
    repair_window: float,
) -> Result:
    """Start a dev cloud, submit ``requests``, call ``run(cloud, ids)`` (it kills and
    returns (kills, allowed re-runs, the moment of the last fault)), wait and judge."""
    workdir.mkdir(parents=True, exist_ok=True)
    os.environ["LEDGER_DIR"] = str(workdir)
    with DevCloud(ledger.catalog, topology, catalog_module="tests.support.ledger") as cloud:
        shorten_lanes(cloud.clients().sqs, topology)
        events_url = _succeeded_queue(cloud)
        client = dev_client(cloud)
        ids = [s.task_id for s in client.submit_many([r for r, _ in requests])]
        store = dev_runtime(cloud).store
        kills, allowed, last_fault, cleanup = run(cloud, ids)
        try:
            repaired = wait_terminal(store.get_many, ids, repair_window)
            repair = time.monotonic() - last_fault if repaired else None
        finally:
            cleanup()
        return judge(
            name,
            ids,
            [expected for _, expected in requests],
            store.get_many(ids),
            {d.task_id for d in client.dlq_list(limit=10 * len(ids))},
            ledger.effects(),
            _count_succeeded(cloud, events_url),
            allowed_reruns=allowed,
            repair_seconds=repair,
            injected=f"kill -9: {kills}",
        )


def run_dispatcher_kills(
    *, workdir: Path, tasks: int = 200, seed: int = 1, kills: int = 4, repair_window: float = 40
) -> Result:
    rng = random.Random(seed)
    command = [sys.executable, "-m", "bench.chaos.proc"]

    def run(cloud: DevCloud, ids: list[str]) -> tuple[int, int, float, Any]:
        env = _env(cloud, workdir)
        proc = _spawn(command, env)
        for _ in range(kills):
            time.sleep(rng.uniform(1.5, 4.0))
            proc.kill()
            proc.wait()
            proc = _spawn(command, env)
        return kills, kills * EXECUTOR_THREADS, time.monotonic(), lambda: _stop(proc)

    return _scenario(
        f"kill -9 dispatcher x{kills}",
        Topology(prefix=f"chaos-kd{seed}"),
        workdir,
        task_mix(tasks, random.Random(seed)),
        run,
        repair_window,
    )


def run_worker_kills(
    *,
    workdir: Path,
    tasks: int = 200,
    seed: int = 1,
    kills: int = 4,
    workers: int = 3,
    repair_window: float = 40,
) -> Result:
    rng = random.Random(seed)
    command = [sys.executable, "-m", "conveyor.worker"]
    requests = [
        (
            {"task_type": "long_job", "payload": {"chunks": 1, "chunk_seconds": 0.05, "n": i}},
            TaskState.SUCCEEDED,
        )
        for i in range(tasks)
    ]

    def run(cloud: DevCloud, ids: list[str]) -> tuple[int, int, float, Any]:
        env = _env(cloud, workdir, **WORKER_ENV)
        stop = threading.Event()
        dispatcher = dev_runtime(cloud).dispatcher(**DISPATCHER_OPTIONS)
        service = threading.Thread(
            target=dispatcher.run, args=(stop,), kwargs={"wait_seconds": 1}, daemon=True
        )
        service.start()
        procs = [_spawn(command, env) for _ in range(workers)]
        for _ in range(kills):
            time.sleep(rng.uniform(1.0, 3.0))
            victim = rng.randrange(workers)
            procs[victim].kill()
            procs[victim].wait()
            procs[victim] = _spawn(command, env)

        def cleanup() -> None:
            stop.set()
            for proc in procs:
                _stop(proc)
            service.join(30)

        return kills, kills, time.monotonic(), cleanup

    return _scenario(
        f"kill -9 workers x{kills}",
        Topology(prefix=f"chaos-kw{seed}"),
        workdir,
        requests,
        run,
        repair_window,
    )

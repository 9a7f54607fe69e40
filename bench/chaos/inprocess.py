"""AWS faults on in-process moto: the dispatcher service and its runner use boto3 clients
with a ``FaultInjector`` attached; producers and the verdict use clean ones.

Needs moto's ``mock_aws`` active (the caller starts it) and DynamoDB made atomic
(``conveyor.local.atomic``), as in the test suite.
"""

from __future__ import annotations

import os
import random
import re
import threading
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from conveyor.aws import AwsClients
from conveyor.local.faults import (
    CONDITIONAL,
    FAIL,
    FAIL_AFTER,
    REPLY_LOST,
    SQS_BATCHES,
    STATE_WRITES,
    THROTTLE,
    FaultInjector,
    Rule,
)
from conveyor.local.provision import provision
from conveyor.memory import MemoryEvents
from conveyor.runtime.bootstrap import aws_runtime
from conveyor.runtime.executors import LocalExecutor
from conveyor.topology import Topology
from tests.support import ledger

from .common import (
    DISPATCHER_OPTIONS,
    EXECUTOR_THREADS,
    LEASE_MARGIN,
    Result,
    dead_letters,
    judge,
    read,
    reconciler,
    serve,
    shorten_lanes,
    task_mix,
    wait_settled,
)


@dataclass(frozen=True)
class Scenario:
    """Fault rules (rates per call; ``reply_lost`` per attempt) on the dispatcher service
    and its runner, and on the producer's client."""

    service: tuple[Rule, ...] = ()
    producer: tuple[Rule, ...] = ()


SCENARIOS: dict[str, Scenario] = {
    "reply lost 5% (state writes, SQS batches)": Scenario(
        service=(Rule(REPLY_LOST, 0.05, STATE_WRITES + SQS_BATCHES),)
    ),
    "errors after retries 4% (any call)": Scenario(
        service=(Rule(FAIL, 0.02), Rule(FAIL_AFTER, 0.01), Rule(THROTTLE, 0.01))
    ),
    "spurious ConditionalCheckFailed 3%": Scenario(
        service=(Rule(CONDITIONAL, 0.03, ("UpdateItem", "PutItem")),)
    ),
    "producer: reply lost 5%, errors 5% (submit)": Scenario(
        producer=(
            Rule(REPLY_LOST, 0.05, ("PutItem", "SendMessageBatch", "DeleteItem")),
            Rule(FAIL, 0.03, ("PutItem", "SendMessageBatch", "DeleteItem")),
            Rule(FAIL_AFTER, 0.02, ("PutItem", "SendMessageBatch")),
        )
    ),
}
#: Tries a producer makes to submit one task (it retries on any error, same task ID).
SUBMIT_TRIES = 20


def _submit_retrying(client: Any, requests: list[dict[str, Any]]) -> list[int]:
    """Submit each request with its own task ID as a careful producer would: on any error,
    again with the same ID. Returns the indexes of the requests that were accepted."""
    accepted = []
    for index, request in enumerate(requests):
        for _ in range(SUBMIT_TRIES):
            try:
                client.submit(
                    request["task_type"],
                    request["payload"],
                    task_id=f"chaos-{index:05d}",
                    tenant=request["tenant"],
                )
            except Exception:
                continue
            accepted.append(index)
            break
    return accepted


def _counts(*injectors: FaultInjector) -> str:
    counts: Counter[tuple[str, str]] = Counter()
    for injector in injectors:
        counts.update(injector.counts)
    return ", ".join(f"{k} {op}: {n}" for (k, op), n in sorted(counts.items()))


def run_faults(
    name: str,
    scenario: Scenario,
    *,
    workdir: Path,
    tasks: int = 200,
    seed: int = 1,
    fault_window: float = 60.0,
    repair_window: float = 40.0,
) -> Result:
    """Submit ``tasks`` tasks (through the producer's faults, if any), run the dispatcher
    under the service's faults until all are terminal or ``fault_window`` s pass; then
    switch the faults off and wait up to ``repair_window`` s more."""
    workdir.mkdir(parents=True, exist_ok=True)
    os.environ["LEDGER_DIR"] = str(workdir)
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:18]
    topology = Topology(prefix=f"c{seed}-{slug}".rstrip("-"))
    clean = AwsClients(region="us-east-1")
    provision(clean, topology, ledger.catalog)
    shorten_lanes(clean.sqs, topology)
    observer = aws_runtime(ledger.catalog, topology, clean)

    injector = FaultInjector(scenario.service, seed=seed)
    runtime = aws_runtime(ledger.catalog, topology, AwsClients(counter=injector))
    events = MemoryEvents()
    runtime.events = events
    runner = runtime.runner(lease_margin=LEASE_MARGIN)
    dispatcher = runtime.dispatcher(
        LocalExecutor(runner, max_workers=EXECUTOR_THREADS), runner=runner, **DISPATCHER_OPTIONS
    )
    stop = threading.Event()
    repairs = reconciler(dispatcher)
    service = threading.Thread(target=serve, args=(dispatcher, stop, repairs), daemon=True)
    service.start()

    mix = task_mix(tasks, random.Random(seed))
    requests = [request for request, _ in mix]
    producer = FaultInjector(scenario.producer, seed=seed + 1)
    if scenario.producer:
        client = aws_runtime(ledger.catalog, topology, AwsClients(counter=producer)).client()
        accepted = _submit_retrying(client, requests)
        producer.enabled = False
        ids = [f"chaos-{i:05d}" for i in accepted]
        mix = [mix[i] for i in accepted]
    else:
        ids = [s.task_id for s in observer.client().submit_many(requests)]
    faults_end = time.monotonic()
    try:
        done = wait_settled(observer, ids, fault_window)
        if not scenario.producer:
            injector.enabled = False
            faults_end = time.monotonic()
        repaired = done or wait_settled(observer, ids, repair_window)
        repair = max(0.0, time.monotonic() - faults_end) if repaired else None
        if done and not scenario.producer:
            repair = 0.0
    finally:
        injector.enabled = False
        stop.set()
        service.join(60)
    notes = [f"{tasks - len(ids)} never accepted"] if len(ids) < tasks else []
    result = judge(
        name,
        ids,
        [expected for _, expected in mix],
        read(observer.store.get_many, ids),
        dead_letters(observer.client(), tasks),
        ledger.effects(),
        Counter(d["id"] for d in events.of_type("Task Succeeded")),
        allowed_reruns=0,
        repair_seconds=repair,
        injected=_counts(injector, producer),
        reported=repairs.stats["reported"],
    )
    result.notes[:0] = notes
    return result

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
from collections.abc import Sequence
from pathlib import Path

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
    judge,
    shorten_lanes,
    task_mix,
    wait_terminal,
)

#: name -> the rules of the scenario (rates per call; ``reply_lost`` per attempt).
SCENARIOS: dict[str, tuple[Rule, ...]] = {
    "reply lost 5% (state writes, SQS batches)": (
        Rule(REPLY_LOST, 0.05, STATE_WRITES + SQS_BATCHES),
    ),
    "errors after retries 4% (any call)": (
        Rule(FAIL, 0.02),
        Rule(FAIL_AFTER, 0.01),
        Rule(THROTTLE, 0.01),
    ),
    "spurious ConditionalCheckFailed 3%": (Rule(CONDITIONAL, 0.03, ("UpdateItem", "PutItem")),),
}


def run_faults(
    name: str,
    rules: Sequence[Rule],
    *,
    workdir: Path,
    tasks: int = 200,
    seed: int = 1,
    fault_window: float = 40.0,
    repair_window: float = 25.0,
) -> Result:
    """Run ``tasks`` tasks with the dispatcher under ``rules`` until all are terminal or
    ``fault_window`` s pass; then switch the faults off and wait up to ``repair_window``."""
    workdir.mkdir(parents=True, exist_ok=True)
    os.environ["LEDGER_DIR"] = str(workdir)
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:18]
    topology = Topology(prefix=f"c{seed}-{slug}".rstrip("-"))
    clean = AwsClients(region="us-east-1")
    provision(clean, topology, ledger.catalog)
    shorten_lanes(clean.sqs, topology)
    producer = aws_runtime(ledger.catalog, topology, clean)
    client = producer.client()
    mix = task_mix(tasks, random.Random(seed))
    ids = [s.task_id for s in client.submit_many([request for request, _ in mix])]

    injector = FaultInjector(rules, seed=seed)
    faulty = AwsClients(region="us-east-1", counter=injector)
    runtime = aws_runtime(ledger.catalog, topology, faulty)
    events = MemoryEvents()
    runtime.events = events
    runner = runtime.runner(lease_margin=LEASE_MARGIN)
    dispatcher = runtime.dispatcher(
        LocalExecutor(runner, max_workers=EXECUTOR_THREADS), runner=runner, **DISPATCHER_OPTIONS
    )
    stop = threading.Event()
    service = threading.Thread(
        target=dispatcher.run, args=(stop,), kwargs={"wait_seconds": 1}, daemon=True
    )
    service.start()
    try:
        done = wait_terminal(producer.store.get_many, ids, fault_window)
        injector.enabled = False
        faults_off = time.monotonic()
        repaired = done or wait_terminal(producer.store.get_many, ids, repair_window)
        repair = 0.0 if done else (time.monotonic() - faults_off if repaired else None)
    finally:
        injector.enabled = False
        stop.set()
        service.join(60)
    succeeded = Counter(d["id"] for d in events.of_type("Task Succeeded"))
    return judge(
        name,
        ids,
        [expected for _, expected in mix],
        producer.store.get_many(ids),
        {d.task_id for d in client.dlq_list(limit=10 * tasks)},
        ledger.effects(),
        succeeded,
        allowed_reruns=0,
        repair_seconds=repair,
        injected=", ".join(f"{k} {op}: {n}" for (k, op), n in sorted(injector.counts.items())),
    )

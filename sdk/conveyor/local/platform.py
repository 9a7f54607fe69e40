"""The whole platform on the dev cloud: dispatcher, local executors, Fargate-style worker
processes scaled by the same rule as in AWS.

moto stores but never runs, so this is Conveyor's own runtime around it, on the same code
paths as in AWS: the dispatcher and ``TaskRunner`` are the deployed ones, Lambda types run
in a local thread pool (moto's Lambda cannot run code here), Fargate types run in
``python -m conveyor.worker`` processes, and ``LocalAutoscaler`` applies
``policy.scaling.ScalingRule`` to each work queue's backlog every ``interval`` seconds.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from ..aws.attribution import AttributingCounter
from ..aws.costledger import DynamoCostLedger
from ..policy.scaling import ScalingRule
from ..runtime.costmeter import CostMeter
from .devcloud import DevCloud, dev_runtime


@dataclass
class WorkerPool:
    """Worker processes of one task type."""

    task_type: str
    env: dict[str, str]
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def alive(self) -> list[subprocess.Popen[bytes]]:
        self.procs = [p for p in self.procs if p.poll() is None]
        return self.procs

    def scale_to(self, count: int) -> None:
        alive = self.alive()
        for _ in range(count - len(alive)):
            self.procs.append(
                subprocess.Popen(
                    [sys.executable, "-m", "conveyor.worker", "--type", self.task_type],
                    env=self.env,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
            )
        for proc in alive[count:] if count < len(alive) else []:
            proc.send_signal(signal.SIGTERM)  # finishes or releases its task, then exits

    def stop(self, timeout: float = 30.0) -> None:
        for proc in self.alive():
            proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + timeout
        for proc in self.procs:
            try:
                proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()


class LocalAutoscaler:
    """Applies the scaling rule to every Fargate type's work queue; keeps a history."""

    def __init__(self, runtime: Any, pools: dict[str, WorkerPool], *, interval: float = 1.0):
        self.runtime = runtime
        self.pools = pools
        self.interval = interval
        self.rules = {
            name: ScalingRule(max_workers=runtime.catalog.get(name).max_workers) for name in pools
        }
        self.history: list[tuple[float, str, int, int]] = []

    def tick(self) -> dict[str, int]:
        out = {}
        for name, pool in self.pools.items():
            depth = self.runtime.lanes.depth(self.runtime.topology.work_queue(name))
            backlog = depth.visible + depth.in_flight + depth.delayed
            desired = self.rules[name].desired(backlog)
            pool.scale_to(desired)
            self.history.append((time.time(), name, backlog, desired))
            out[name] = desired
        return out

    def run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                self.tick()
            except Exception as exc:
                self.history.append((time.time(), f"error: {exc}", 0, 0))
            stop.wait(self.interval)


class LocalPlatform:
    """Start and stop the running platform around a started DevCloud."""

    def __init__(
        self,
        cloud: DevCloud,
        *,
        executor_threads: int = 16,
        worker_env: dict[str, str] | None = None,
        autoscale_interval: float = 1.0,
        dispatcher_options: dict[str, Any] | None = None,
    ) -> None:
        self.cloud = cloud
        # every request this process makes is counted per tenant and type (conveyor cost)
        counter = AttributingCounter({cloud.topology.table: [("type", "id")]})
        self.runtime = dev_runtime(cloud, counter)
        table = cloud.topology.table
        self.meter = CostMeter(counter, DynamoCostLedger(self.runtime.store.ddb, table))
        from ..runtime.executors import LocalExecutor

        runner = self.runtime.runner()
        self.dispatcher = self.runtime.dispatcher(
            LocalExecutor(runner, max_workers=executor_threads),
            runner=runner,
            **(dispatcher_options or {}),
        )
        env = {**os.environ, **cloud.env(), **(worker_env or {})}
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [os.getcwd(), env.get("PYTHONPATH")]))
        self.pools = {
            t.name: WorkerPool(t.name, {**env, "CONVEYOR_TASK_TYPE": t.name})
            for t in cloud.catalog
            if t.executor == "fargate"
        }
        self.autoscaler = LocalAutoscaler(self.runtime, self.pools, interval=autoscale_interval)
        from .schedules import ScheduleDriver

        self.schedule_driver = ScheduleDriver(
            self.runtime.scheduler, self.runtime.lanes, clock=self.runtime.clock
        )
        self.stop_event = threading.Event()
        self.threads: list[threading.Thread] = []

    def start(self) -> LocalPlatform:
        for target, name in (
            (lambda: self.dispatcher.run(self.stop_event, wait_seconds=1), "dispatcher"),
            (lambda: self.autoscaler.run(self.stop_event), "autoscaler"),
            (self._drive_schedules, "schedules"),
            (lambda: self.meter.start(self.stop_event).join(), "cost-meter"),
        ):
            thread = threading.Thread(target=target, daemon=True, name=name)
            thread.start()
            self.threads.append(thread)
        return self

    def _drive_schedules(self) -> None:
        """Fire due schedules once a second (moto stores them but never fires them)."""
        while not self.stop_event.is_set():
            try:
                self.schedule_driver.tick()
            except Exception as exc:
                self.autoscaler.history.append((time.time(), f"schedule error: {exc}", 0, 0))
            self.stop_event.wait(1.0)

    def stop(self) -> None:
        """Stop the dispatcher and schedules, then the workers (each flushes its own cost
        meter as it exits), and flush this process's meter last, so every request made
        until now is in the ledger (``flush`` again after later requests, e.g. reads)."""
        self.stop_event.set()
        for thread in self.threads:
            thread.join(timeout=30)
        for pool in self.pools.values():
            pool.stop()
        self.meter.flush()

    def __enter__(self) -> LocalPlatform:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

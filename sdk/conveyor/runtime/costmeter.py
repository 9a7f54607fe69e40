"""Counting what each task costs, in a running process: counter -> ledger, every minute.

``CostMeter`` moves what its ``AttributingCounter`` attributed into a ``CostLedger`` and
flushes it every ``interval`` seconds (``maybe_flush`` from a loop, or ``start`` for a
thread); a Lambda calls ``maybe_flush`` after each invocation, so a container writes at
most once per interval, never once per task. Never raises.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

from aws_lambda_powertools import Logger

from ..aws.attribution import AttributingCounter
from ..aws.clients import AwsClients
from ..aws.costledger import CostLedger, DynamoCostLedger
from ..ports import Clock, SystemClock, now_ms
from ..topology import Topology

logger = Logger(service="conveyor")


class CostMeter:
    def __init__(
        self,
        counter: AttributingCounter,
        ledger: CostLedger,
        *,
        clock: Clock | None = None,
        interval: float = 60.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.counter = counter
        self.ledger = ledger
        self.clock = clock or SystemClock()
        self.interval = interval
        self.monotonic = monotonic
        self._next = monotonic() + interval

    def flush(self) -> int:
        """Move the counted units into the ledger and write it; items written."""
        try:
            self.ledger.add(self.counter.take(), now_ms(self.clock))
            return self.ledger.flush()
        except Exception:
            logger.exception("could not write the cost ledger; the next flush tries again")
            return 0
        finally:
            self._next = self.monotonic() + self.interval

    def maybe_flush(self) -> int:
        return self.flush() if self.monotonic() >= self._next else 0

    def start(self, stop: threading.Event) -> threading.Thread:
        def loop() -> None:
            while not stop.wait(self.interval):
                self.flush()
            self.flush()

        thread = threading.Thread(target=loop, daemon=True, name="cost-meter")
        thread.start()
        return thread


#: Env var: "off" turns cost counting off in a process (it is on by default).
COSTS_ENV = "CONVEYOR_COSTS"


def enabled(env: Mapping[str, str] = os.environ) -> bool:
    return env.get(COSTS_ENV, "on").lower() not in ("off", "0", "false", "no")


def counting(topology: Topology, **aws: Any) -> tuple[AwsClients, CostMeter | None]:
    """AWS clients whose every request is counted and attributed, and the meter that keeps
    the counts in the deployment's ledger (None, and plain clients, when turned off)."""
    if not enabled():
        return AwsClients(**aws), None
    counter = AttributingCounter({topology.table: [("type", "id")]})
    clients = AwsClients(counter=counter, **aws)
    return clients, CostMeter(counter, DynamoCostLedger(clients.dynamodb, topology.table))

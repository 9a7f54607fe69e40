"""The dispatcher's intake: classify freshly pulled lane messages.

For each message ``Intake.classify``

* turns a schedule firing or an event into a task (ID derived, so a second delivery is a
  duplicate and is acked);
* dead-letters it with a reason if it is malformed or of an unknown type;
* expires it if its TTL has passed (EXPIRED, never run);
* holds it (back to the lane, hidden for ``hold_seconds`` plus up to 50% jitter, so a
  resume releases held tasks spread out, not as a herd) if its type or tenant is paused;
* otherwise returns it as ``Held``, runnable, for the dispatcher's buffer.

Cancelled tasks need no check here: starting a task is a conditional write that a
cancelled task fails.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from dataclasses import dataclass

from ..admission import admit
from ..catalog import Catalog, TaskType
from ..envelope import Envelope, Malformed, parse
from ..errors import UnknownTaskType, ValidationError
from ..ports import Clock, InMessage, TaskStore
from ..topology import Topology
from ..triggers import expand, is_creator
from .outcome import ACK, DLQ, HOLD, Outcome
from .runner import TaskRunner

Settle = Callable[[str, InMessage, Outcome], None]


@dataclass
class Held:
    """A runnable message waiting in its lane's buffer since ``since`` (epoch seconds)."""

    lane: str
    message: InMessage
    env: Envelope
    task_type: TaskType
    since: float


class Intake:
    def __init__(
        self,
        catalog: Catalog,
        topology: Topology,
        store: TaskStore,
        runner: TaskRunner,
        settle: Settle,
        *,
        clock: Clock,
        rng: random.Random,
        hold_seconds: float,
        pause_refresh: float,
    ) -> None:
        self.catalog = catalog
        self.topology = topology
        self.store = store
        self.runner = runner
        self.settle = settle
        self.clock = clock
        self.rng = rng
        self.hold_seconds = hold_seconds
        #: Seconds the pause set is cached between reads of the store.
        self.pause_refresh = pause_refresh
        self._triggers = {t.name: t for task_type in catalog for t in task_type.triggers}
        self._paused: frozenset[tuple[str, str]] = frozenset()
        self._paused_at = -1e18

    def paused(self) -> frozenset[tuple[str, str]]:
        now = self.clock.now()
        if now - self._paused_at >= self.pause_refresh:
            self._paused = self.store.paused()
            self._paused_at = now
        return self._paused

    def classify(
        self, lane: str, messages: list[InMessage], paused: frozenset[tuple[str, str]]
    ) -> list[Held]:
        """Settle what must not run; return the runnable messages, in order."""
        now = self.clock.now()
        runnable: list[Held] = []
        for message in messages:
            settled, created = self._from_creator(lane, message, now)
            if settled:
                continue
            try:
                env = created or parse(message.body)
                task_type = self.catalog.get(env.task_type)
            except (Malformed, UnknownTaskType) as exc:
                kind = "malformed" if isinstance(exc, Malformed) else "unknown-type"
                task_id = "" if isinstance(exc, Malformed) else env.task_id
                self.settle(lane, message, Outcome(DLQ, task_id, kind, reason=str(exc)))
                continue
            if env.expires_at is not None and now * 1000 >= env.expires_at:
                self.settle(
                    lane, message, self.runner.expire(env.task_id, task_type, int(now * 1000))
                )
                continue
            if ("type", env.task_type) in paused or ("tenant", env.tenant) in paused:
                delay = self.hold_seconds * (1 + 0.5 * self.rng.random())
                held = Outcome(HOLD, env.task_id, "paused", delay=delay, reason="paused")
                self.settle(lane, message, held)
                continue
            runnable.append(Held(lane, message, env, task_type, now))
        return runnable

    def _from_creator(
        self, lane: str, message: InMessage, now: float
    ) -> tuple[bool, Envelope | None]:
        """A schedule firing or an event becomes a task here (ID derived, so a second
        delivery is a duplicate). Returns (settled, envelope): (False, env) for a new task,
        (False, None) for an ordinary message, (True, None) when the message was settled
        (a duplicate, or dead-lettered with a reason)."""
        if '"fire"' not in message.body and '"trigger"' not in message.body:
            return False, None
        try:
            data = json.loads(message.body)
        except ValueError:
            return False, None
        if not is_creator(data):
            return False, None
        now_ms = int(now * 1000)
        try:
            request = expand(data, self._triggers)
            admitted = admit(self.catalog, self.topology, request, now_ms)
        except (Malformed, ValidationError) as exc:
            self.settle(lane, message, Outcome(DLQ, "", "malformed", reason=str(exc)))
            return True, None
        if admitted.offload_key:
            self.runner.payloads.put(admitted.offload_key, admitted.payload_bytes)
        record, fresh = self.store.create(admitted.record, now_ms)
        if not fresh:
            same = record.payload_sha256 == admitted.record.payload_sha256
            self.settle(
                lane,
                message,
                Outcome(
                    ACK if same else DLQ,
                    record.task_id,
                    "duplicate" if same else "malformed",
                    reason="" if same else "derived task ID already used by another payload",
                ),
            )
            return True, None
        return False, Envelope.for_record(record, admitted.payload, now_ms)

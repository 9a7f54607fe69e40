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

No store error escapes for one message: a message whose classification fails (its
expiry or creation write refused after botocore's retries) is held for a few seconds
and looked at again. If the pause set cannot be read, the last one read is used for up
to ``PAUSE_STALE_MAX`` seconds; past that (or before any read) ``paused`` raises
``PauseSetUnknown`` and the dispatcher holds the batch, so a paused type never starts
because the store was briefly unreachable.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from dataclasses import dataclass

from aws_lambda_powertools import Logger

from .. import tracing
from ..admission import admit
from ..catalog import Catalog, TaskType
from ..envelope import Envelope, Malformed, parse
from ..errors import UnknownTaskType, ValidationError
from ..model import TaskState
from ..ports import Clock, InMessage, TaskStore
from ..topology import Topology
from ..triggers import expand, is_creator
from .outcome import ACK, DLQ, HOLD, Outcome
from .runner import TaskRunner

logger = Logger(service="conveyor-dispatcher")
Settle = Callable[[str, InMessage, Outcome], None]
#: Seconds a pause set read earlier may stand in for one that failed.
PAUSE_STALE_MAX = 60.0
#: Seconds a message is held when it could not be classified (plus up to 100% jitter).
RETRY_HOLD = 5.0


class PauseSetUnknown(Exception):
    """The pause set could not be read, and the last one read is too old to trust."""


@dataclass
class Held:
    """A runnable message waiting in its lane's buffer since ``since``; hidden in its lane
    until ``hidden_until`` (both seconds on the dispatcher's clock; the dispatcher sets
    and extends ``hidden_until``)."""

    lane: str
    message: InMessage
    env: Envelope
    task_type: TaskType
    since: float
    hidden_until: float = 0.0


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
        self._paused_at = -1e18  # when the cached set was read (epoch seconds)
        self._tried_at = -1e18  # when a read was last attempted

    def paused(self) -> frozenset[tuple[str, str]]:
        """The pause set, read at most every ``pause_refresh`` seconds."""
        now = self.clock.now()
        if now - self._tried_at >= self.pause_refresh:
            self._tried_at = now
            try:
                self._paused = self.store.paused()
                self._paused_at = now
            except Exception as exc:
                if now - self._paused_at > PAUSE_STALE_MAX:
                    raise PauseSetUnknown(str(exc)) from exc
                logger.exception("pause set read failed; using the last one read")
        if now - self._paused_at > PAUSE_STALE_MAX:
            raise PauseSetUnknown("the last read of the pause set failed")
        return self._paused

    def unknown_hold(self, message: InMessage) -> Outcome:
        """Hold a message that could not be looked at now: back in a few seconds."""
        delay = RETRY_HOLD * (1 + self.rng.random())
        return Outcome(HOLD, "", "busy", delay=delay, reason="could not classify; held")

    def classify(
        self,
        lane: str,
        messages: list[InMessage],
        paused: frozenset[tuple[str, str]],
        holds: list[tuple[InMessage, Outcome]] | None = None,
    ) -> list[Held]:
        """Settle what must not run; return the runnable messages, in order. With
        ``holds``, the messages of paused types or tenants are added to it (for the caller
        to hide in batches) instead of being settled one by one."""
        now = self.clock.now()
        runnable: list[Held] = []
        for message in messages:
            try:
                held = self._classify(lane, message, paused, now, holds)
            except Exception:
                logger.exception("could not classify a message", extra={"lane": lane})
                self.settle(lane, message, self.unknown_hold(message))
                continue
            if held is not None:
                runnable.append(held)
        return runnable

    def _classify(
        self,
        lane: str,
        message: InMessage,
        paused: frozenset[tuple[str, str]],
        now: float,
        holds: list[tuple[InMessage, Outcome]] | None,
    ) -> Held | None:
        settled, created = self._from_creator(lane, message, now)
        if settled:
            return None
        try:
            env = created or parse(message.body)
            task_type = self.catalog.get(env.task_type)
        except (Malformed, UnknownTaskType) as exc:
            kind = "malformed" if isinstance(exc, Malformed) else "unknown-type"
            task_id = "" if isinstance(exc, Malformed) else env.task_id
            self.settle(lane, message, Outcome(DLQ, task_id, kind, reason=str(exc)))
            return None
        if env.expires_at is not None and now * 1000 >= env.expires_at:
            self.settle(lane, message, self.runner.expire(env.task_id, task_type, int(now * 1000)))
            return None
        if ("type", env.task_type) in paused or ("tenant", env.tenant) in paused:
            delay = self.hold_seconds * (1 + 0.5 * self.rng.random())
            hold = Outcome(HOLD, env.task_id, "paused", delay=delay, reason="paused")
            if holds is not None:
                holds.append((message, hold))
            else:
                self.settle(lane, message, hold)
            return None
        return Held(lane, message, env, task_type, now)

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
        same = record.payload_sha256 == admitted.record.payload_sha256
        if not fresh and same and record.state is TaskState.QUEUED:
            # Created by an earlier delivery that was held, or retried: still to run
            # (starting it is a conditional write, so a second copy cannot run it twice).
            return False, Envelope.for_record(record, admitted.payload, now_ms)
        if not fresh:
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
        # the new task's trace starts here (derived from its ID: every later message of it
        # is in the same trace); its admission span is the trigger's creation
        under, header = tracing.admission(record.task_id, record.created_at, record.trace_parent)
        tracing.record(
            under, "admission", record.task_id, record.created_at, now_ms, span=header.parent
        )
        return False, Envelope.for_record(record, admitted.payload, now_ms)

"""The dispatcher: push mode. Pulls lanes, decides, hands tasks to executors.

For each message pulled from a lane it

* dead-letters it with a reason if it is malformed or of an unknown type;
* expires it if its TTL has passed (EXPIRED, never run);
* holds it (back to the lane, hidden for ``hold_seconds`` plus up to 50% jitter, so a
  resume releases held tasks spread out, not as a herd) if its type or tenant is paused;
* keeps it in a small per-lane buffer while its type is at its concurrency quota; one
  that waits longer than ``buffer_seconds`` (default 45 s, inside the lanes' 60 s
  visibility) is released to the lane, so nothing is redelivered behind our back;
* otherwise hands it to the executor of its type: Lambda types run one task per
  invocation; Fargate types are forwarded, in batches, to the type's work queue.

Cancelled tasks need no check here: starting a task is a conditional write that a
cancelled task fails. What to pull next is the ``WeightedLanePicker``'s choice (a pure
policy); pulls happen only while there is room, so excess work stays in SQS. Acks,
forwards and dead letters are sent in batches of 10.

``step()`` is one synchronous pass (tests and the dev cloud drive it); ``run()`` loops
with per-lane pollers that long-poll while idle, so an idle dispatcher costs a few
requests a minute per lane.
"""

from __future__ import annotations

import json
import random
import threading
import time
from collections import Counter, defaultdict, deque
from concurrent.futures import Future
from dataclasses import dataclass, field

from aws_lambda_powertools import Logger

from ..admission import admit
from ..catalog import Catalog, TaskType
from ..envelope import Envelope, Malformed, parse
from ..errors import UnknownTaskType, ValidationError
from ..model import PRIORITY_WEIGHTS
from ..policy.picker import WeightedLanePicker
from ..ports import Clock, InMessage, Lanes, OutMessage, SystemClock, TaskStore
from ..topology import Topology
from ..triggers import expand, is_creator
from .deadletter import dead_letter
from .executors import Executor
from .outcome import ACK, DLQ, HOLD, RETRY, Outcome
from .runner import TaskRunner

logger = Logger(service="conveyor-dispatcher")
MAX_VISIBILITY = 43_200
#: A message received this many times is re-sent as a fresh copy instead of being hidden
#: again, so long pauses, holds and throttles never reach the lane's maxReceiveCount
#: (100) and get dead-lettered by SQS itself.
RECYCLE_AT = 50
#: Seconds of lane visibility kept in hand before an attempt's message is extended.
EXTEND_MARGIN = 15.0


@dataclass
class _Held:
    lane: str
    message: InMessage
    env: Envelope
    task_type: TaskType
    since: float


@dataclass
class _Running:
    lane: str
    message: InMessage
    task_type: TaskType
    future: Future[Outcome]
    #: time.monotonic() when the lane message becomes visible again, and when the attempt
    #: must be over (the type's timeout plus a margin).
    visible_until: float = 0.0
    ends_by: float = 0.0


@dataclass
class DispatcherStats:
    """Counts by outcome kind, and per-type dispatches (for tests, metrics, the demo)."""

    kinds: Counter[str] = field(default_factory=Counter)
    dispatched: Counter[str] = field(default_factory=Counter)
    forwarded: Counter[str] = field(default_factory=Counter)
    received: int = 0


class Dispatcher:
    def __init__(
        self,
        catalog: Catalog,
        topology: Topology,
        lanes: Lanes,
        store: TaskStore,
        runner: TaskRunner,
        executor: Executor,
        *,
        clock: Clock | None = None,
        rng: random.Random | None = None,
        max_in_flight: int = 64,
        buffer_per_lane: int = 10,
        buffer_seconds: float = 45.0,
        hold_seconds: float = 20.0,
        flush_every: float = 1.0,
        lane_visibility: int = 60,
        pause_refresh: float = 2.0,
        fill_seconds: float = 1.0,
    ) -> None:
        self.catalog = catalog
        self.topology = topology
        self.lanes = lanes
        self.store = store
        self.runner = runner
        self.executor = executor
        self.clock = clock or SystemClock()
        self.rng = rng or random.Random()
        self.max_in_flight = max_in_flight
        self.buffer_per_lane = buffer_per_lane
        self.buffer_seconds = buffer_seconds
        self.hold_seconds = hold_seconds
        #: Seconds a finished message may wait for its batched ack (the service loop
        #: flushes at 10 pending or after this long, whichever comes first).
        self.flush_every = flush_every
        self.lane_visibility = lane_visibility
        #: Seconds a lane's puller waits after a partial, non-empty receive before the next
        #: one, so a trickle fills batches (10 tasks/s -> ~10 per receive) instead of one
        #: receive per message; a backlog (full receives) and an idle lane's first message
        #: (long poll) never wait. Adds at most this much queue wait to a trickle.
        self.fill_seconds = fill_seconds
        self.pause_refresh = pause_refresh
        self._triggers = {t.name: t for task_type in catalog for t in task_type.triggers}
        self.picker = WeightedLanePicker(
            {p: topology.lanes_of(p) for p in PRIORITY_WEIGHTS}, PRIORITY_WEIGHTS
        )
        self.buffers: dict[str, deque[_Held]] = {lane: deque() for lane in topology.lanes}
        self.running: list[_Running] = []
        self.in_flight: Counter[str] = Counter()
        self.stats = DispatcherStats()
        self._acks: dict[str, list[str]] = defaultdict(list)
        self._forward: dict[str, list[tuple[str, InMessage, Envelope]]] = defaultdict(list)
        self._dead: list[tuple[str, InMessage, Outcome]] = []
        self._recycle: list[tuple[str, InMessage, int]] = []
        self._paused: frozenset[tuple[str, str]] = frozenset()
        self._paused_at = -1e18
        self._next_poll: dict[str, float] = {}
        self._empty_wait: dict[str, float] = {}
        self._lock = threading.RLock()

    # -- one pass -------------------------------------------------------------------------

    def step(self) -> int:
        """Pull every lane that has room, dispatch, collect finished attempts, flush.
        Returns how many messages were pulled or settled in this pass."""
        pulled = 0
        now = time.monotonic()
        for lane in self.topology.lanes:
            room = self.buffer_per_lane - len(self.buffers[lane])
            if room > 0 and self._capacity() > 0 and now >= self._next_poll.get(lane, 0.0):
                messages = self.lanes.receive(lane, max_messages=min(10, room))
                pulled += len(messages)
                self._backoff_empty(lane, now, bool(messages))
                self.ingest(lane, messages)
        self.dispatch()
        settled = self.collect()
        self.flush()
        return pulled + settled

    def _backoff_empty(self, lane: str, now: float, got: bool) -> None:
        """After an empty receive, wait before polling that lane again (0.05 s doubling to
        1 s), so a stepped dispatcher does not spend requests on empty lanes."""
        if got:
            self._empty_wait[lane] = 0.0
            self._next_poll[lane] = 0.0
        else:
            wait = min(1.0, max(0.05, self._empty_wait.get(lane, 0.0) * 2))
            self._empty_wait[lane] = wait
            self._next_poll[lane] = now + wait

    def _capacity(self) -> int:
        buffered = sum(len(b) for b in self.buffers.values())
        return self.max_in_flight - len(self.running) - buffered

    def paused(self) -> frozenset[tuple[str, str]]:
        now = self.clock.now()
        if now - self._paused_at >= self.pause_refresh:
            self._paused = self.store.paused()
            self._paused_at = now
        return self._paused

    def ingest(self, lane: str, messages: list[InMessage]) -> None:
        """Classify freshly pulled messages; runnable ones go to the lane's buffer."""
        now = self.clock.now()
        paused = self.paused() if messages else frozenset()
        with self._lock:
            self.stats.received += len(messages)
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
                    self._settle(lane, message, Outcome(DLQ, task_id, kind, reason=str(exc)))
                    continue
                if env.expires_at is not None and now * 1000 >= env.expires_at:
                    self._settle(
                        lane, message, self.runner.expire(env.task_id, task_type, int(now * 1000))
                    )
                    continue
                if ("type", env.task_type) in paused or ("tenant", env.tenant) in paused:
                    delay = self.hold_seconds * (1 + 0.5 * self.rng.random())
                    self._settle(
                        lane,
                        message,
                        Outcome(HOLD, env.task_id, "paused", delay=delay, reason="paused"),
                    )
                    continue
                self.buffers[lane].append(_Held(lane, message, env, task_type, now))

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
            self._settle(lane, message, Outcome(DLQ, "", "malformed", reason=str(exc)))
            return True, None
        if admitted.offload_key:
            self.runner.payloads.put(admitted.offload_key, admitted.payload_bytes)
        record, fresh = self.store.create(admitted.record, now_ms)
        if not fresh:
            same = record.payload_sha256 == admitted.record.payload_sha256
            self._settle(
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

    def _eligible(self, task_type: TaskType) -> bool:
        if task_type.executor == "fargate":
            return True  # the worker count is the quota for Fargate types
        quota = task_type.concurrency
        return quota is None or self.in_flight[task_type.name] < quota

    def dispatch(self) -> None:
        """Hand buffered tasks to executors, lanes in the picker's order."""
        now = self.clock.now()
        with self._lock:
            while len(self.running) < self.max_in_flight:
                held = self._next_eligible()
                if held is None:
                    break
                self._start(held)
            for lane, buffer in self.buffers.items():
                for held in [h for h in buffer if now - h.since >= self.buffer_seconds]:
                    buffer.remove(held)
                    self._settle(
                        lane,
                        held.message,
                        Outcome(
                            HOLD,
                            held.env.task_id,
                            "quota",
                            delay=1 + self.rng.random() * 2,
                            reason="type at its concurrency quota",
                        ),
                    )

    def _next_eligible(self) -> _Held | None:
        if not any(self.buffers.values()):
            return None
        for lane in self.picker.order():
            buffer = self.buffers[lane]
            for held in buffer:
                if self._eligible(held.task_type):
                    buffer.remove(held)
                    return held
        return None

    def _start(self, held: _Held) -> None:
        name = held.task_type.name
        if held.task_type.executor == "fargate":
            self._forward[self.topology.work_queue(name)].append(
                (held.lane, held.message, held.env)
            )
            self.stats.forwarded[name] += 1
            return
        future = self.executor.submit(held.task_type, held.message.body, held.env)
        now = time.monotonic()
        hidden = self.lane_visibility - max(0.0, self.clock.now() - held.since)
        self.running.append(
            _Running(
                held.lane,
                held.message,
                held.task_type,
                future,
                visible_until=now + hidden,
                ends_by=now + held.task_type.timeout + EXTEND_MARGIN,
            )
        )
        self.in_flight[name] += 1
        self.stats.dispatched[name] += 1

    def collect(self) -> int:
        """Apply the outcomes of finished attempts."""
        with self._lock:
            done: list[_Running] = []
            pending: list[_Running] = []
            for item in self.running:  # one look per future: it may finish meanwhile
                (done if item.future.done() else pending).append(item)
            self.running = pending
            self._extend(pending)
            for item in done:
                self.in_flight[item.task_type.name] -= 1
                try:
                    outcome = item.future.result()
                except Exception as exc:
                    logger.exception("executor failed")
                    outcome = Outcome(RETRY, "", "retryable", delay=5.0, reason=str(exc))
                self._settle(item.lane, item.message, outcome)
            return len(done)

    def _extend(self, running: list[_Running]) -> None:
        """Keep lane messages of long attempts hidden. Lanes keep a short visibility (a
        message pulled by a dispatcher that crashes before starting it returns within a
        minute); once an attempt runs, the message needs hiding only until the attempt
        must be over. So when less than ``EXTEND_MARGIN`` seconds of visibility remain,
        one ChangeMessageVisibility hides it until the type's timeout (plus the margin)
        -- none for attempts that end in time, one for a long Lambda attempt, not one
        every 30 s. A crash meanwhile loses nothing: the record's lease covers the same
        span, and a redelivery inside it would only be held."""
        now = time.monotonic()
        for item in running:
            if item.visible_until - now > EXTEND_MARGIN:
                continue
            seconds = int(min(MAX_VISIBILITY, max(self.lane_visibility, item.ends_by - now)))
            item.visible_until = now + seconds
            try:
                self.lanes.change_visibility(item.lane, item.message.receipt, seconds)
            except Exception:
                logger.exception("could not extend a lane message")

    def _settle(self, lane: str, message: InMessage, outcome: Outcome) -> None:
        self.stats.kinds[outcome.kind] += 1
        if outcome.action == ACK:
            self._acks[lane].append(message.receipt)
        elif outcome.action in (RETRY, HOLD):
            delay = int(min(MAX_VISIBILITY, max(0, round(outcome.delay))))
            if message.receive_count >= RECYCLE_AT:
                self._recycle.append((lane, message, min(delay, 900)))
            else:
                self.lanes.change_visibility(lane, message.receipt, delay)
        elif outcome.action == DLQ:
            self._dead.append((lane, message, outcome))

    def pending(self) -> int:
        """Messages whose ack, forward or dead letter waits for the next flush."""
        with self._lock:
            return (
                sum(map(len, self._acks.values()))
                + sum(map(len, self._forward.values()))
                + len(self._dead)
                + len(self._recycle)
            )

    def flush(self) -> None:
        """Send forwards and dead letters, then delete what they replace (in that order,
        so a crash in between duplicates at worst and never loses)."""
        with self._lock:
            forward, self._forward = self._forward, defaultdict(list)
            dead, self._dead = self._dead, []
            acks, self._acks = self._acks, defaultdict(list)
            recycle, self._recycle = self._recycle, []
        now = int(self.clock.now() * 1000)
        for lane, message, delay in recycle:
            env = parse(message.body)
            if not self.lanes.send(
                lane, [OutMessage(body=message.body, group=env.tenant, delay=delay, id=env.task_id)]
            ):
                acks[lane].append(message.receipt)
        for queue, items in forward.items():
            messages = [
                OutMessage(body=m.body, group=env.tenant, id=str(i))
                for i, (_, m, env) in enumerate(items)
            ]
            failed = set(self.lanes.send(queue, messages))
            for i, (lane, message, _) in enumerate(items):
                if str(i) not in failed:
                    acks[lane].append(message.receipt)
        if dead:
            letters = [dead_letter(m.body, o, lane, now) for lane, m, o in dead]
            letters = [
                OutMessage(body=x.body, group=x.group, id=str(i)) for i, x in enumerate(letters)
            ]
            failed = set(self.lanes.send(self.topology.dlq, letters))
            for i, (lane, message, _) in enumerate(dead):
                if str(i) not in failed:
                    acks[lane].append(message.receipt)
        for lane, receipts in acks.items():
            if receipts:
                self.lanes.delete(lane, receipts)

    # -- service loop ---------------------------------------------------------------------

    def lanes_empty(self) -> bool:
        """No message visible, in flight or delayed on any lane (a few depth reads)."""
        for lane in self.topology.lanes:
            depth = self.lanes.depth(lane)
            if depth.visible or depth.in_flight or depth.delayed:
                return False
        return True

    def drain(self, *, idle_passes: int = 3, timeout: float = 60.0) -> bool:
        """Step until the lanes are empty and nothing runs, for ``idle_passes`` passes in a
        row, or ``timeout`` seconds pass. Returns True when drained."""
        idle, deadline = 0, time.monotonic() + timeout
        while time.monotonic() < deadline:
            busy = self.step() or self.running or any(self.buffers.values())
            if not busy:
                busy = not self.lanes_empty()
            idle = 0 if busy else idle + 1
            if idle >= idle_passes:
                return True
            if not self.running:
                time.sleep(0.05)
        self.settle_running()
        return False

    def settle_running(self, timeout: float = 60.0) -> None:
        """Wait for attempts in flight, apply their outcomes, release buffered messages."""
        deadline = time.monotonic() + timeout
        while self.running and time.monotonic() < deadline:
            self.collect()
            time.sleep(0.01)
        with self._lock:
            for lane, buffer in self.buffers.items():
                while buffer:
                    held = buffer.popleft()
                    self._settle(lane, held.message, Outcome(HOLD, held.env.task_id, "released"))
        self.flush()

    def run(self, stop: threading.Event, *, wait_seconds: int = 20) -> None:
        """Serve until ``stop`` is set: one long-polling puller thread per lane."""

        def pull(lane: str) -> None:
            while not stop.is_set():
                with self._lock:
                    room = min(self.buffer_per_lane - len(self.buffers[lane]), self._capacity())
                if room <= 0:
                    stop.wait(0.05)
                    continue
                try:
                    messages = self.lanes.receive(
                        lane, max_messages=min(10, room), wait_seconds=wait_seconds
                    )
                except Exception:
                    logger.exception("receive failed", extra={"lane": lane})
                    stop.wait(1.0)
                    continue
                self.ingest(lane, messages)
                if 0 < len(messages) < min(10, room):  # a trickle: let the next batch fill
                    stop.wait(self.fill_seconds)

        threads = [
            threading.Thread(target=pull, args=(lane,), daemon=True, name=f"pull-{lane}")
            for lane in self.topology.lanes
        ]
        for thread in threads:
            thread.start()
        last_flush = time.monotonic()
        while not stop.is_set():
            try:
                self.dispatch()
                self.collect()
                now = time.monotonic()
                if self.pending() >= 10 or now - last_flush >= self.flush_every:
                    self.flush()
                    last_flush = now
            except Exception:
                logger.exception("dispatch pass failed")
            stop.wait(0.02)
        for thread in threads:
            thread.join(timeout=wait_seconds + 5)
        self.settle_running()

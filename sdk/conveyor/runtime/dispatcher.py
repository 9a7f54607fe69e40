"""The dispatcher: push mode. Pulls lanes, decides, hands tasks to executors.

Pulled messages are classified by the ``Intake`` (creators, malformed, expired, paused);
runnable ones wait in a per-lane buffer (the look-ahead: up to ``buffer_per_lane``, 200
by default, and ``Lookahead.total`` across lanes) until the scheduler picks them. While
held, their visibility is extended in batches of 10 once less than a third of it is
left (``policy.lookahead.to_extend``), so the scheduler can reach deep into a lane at
about one ``ChangeMessageVisibilityBatch`` per 10 held messages per extension. A held
message is handed back (visibility 0, in batches) only when the dispatcher gives it up:
shutdown, a lane lease lost, or ``buffer_seconds`` if set; one whose extension fails is
dropped from the buffer and left to SQS to deliver again (starting a task is fenced by
its attempt token, so a second copy received elsewhere cannot run it twice).
A task goes to the executor of its type: Lambda types run one task per invocation;
Fargate types are forwarded, in batches, to the type's work queue.

Which buffered task starts next is the ``FairChoice``'s decision (``scheduler="fair"``,
the default): weighted fair share in executor-seconds over (priority, tenant), within
rate limits (a message whose tokens are due later goes back to its lane hidden until
then), concurrency quotas per type, tenant and class, and an AIMD window per executor
target that shrinks on throttled outcomes. ``scheduler="wrr"`` keeps the earlier choice:
lanes in ``WeightedLanePicker`` order, first task under its type's quota. Pulls happen
only while there is room, so excess work stays in SQS. Acks, forwards and dead letters
wait in the ``Outbox`` and are sent in batches of 10.

``step()`` is one synchronous pass (tests and the dev cloud drive it); ``run()`` is the
service (``service.serve``): per-lane pollers that long-poll while idle, so an idle
dispatcher costs a few requests a minute per lane.
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter, deque
from concurrent.futures import Future
from dataclasses import dataclass, field

from aws_lambda_powertools import Logger

from ..catalog import Catalog, TaskType
from ..model import PRIORITY_WEIGHTS
from ..policy.fair import Ticket
from ..policy.lookahead import PER_LANE, Lookahead
from ..policy.picker import WeightedLanePicker
from ..ports import Clock, ControlStore, InMessage, Lanes, SystemClock, TaskStore
from ..tenancy.dispatching import DispatcherTenancy
from ..topology import Topology
from .draining import Draining
from .executors import INVOCATION_FAILED, Executor
from .fairness import FairChoice
from .held import HeldMessages
from .intake import Held, Intake, PauseSetUnknown
from .outbox import MAX_VISIBILITY, RECYCLE_AT, Outbox
from .outcome import HOLD, RETRY, Outcome
from .reconciler import FROM_ENV, interval_from_env
from .runner import TaskRunner
from .service import serve

__all__ = ["MAX_VISIBILITY", "RECYCLE_AT", "Dispatcher", "DispatcherStats"]
#: Messages held across all lanes by default (bodies are at most 192 KiB inline).
LOOKAHEAD_TOTAL = 1000

logger = Logger(service="conveyor-dispatcher")
_Held = Held  # the name tests and older callers use


@dataclass
class _Running:
    lane: str
    message: InMessage
    task_type: TaskType
    future: Future[Outcome]
    extended_at: float = field(default_factory=time.monotonic)
    ticket: Ticket | None = None
    started: float = field(default_factory=time.monotonic)


@dataclass
class DispatcherStats:
    """Counts by outcome kind, and per-type dispatches (for tests, metrics, the demo)."""

    kinds: Counter[str] = field(default_factory=Counter)
    dispatched: Counter[str] = field(default_factory=Counter)
    forwarded: Counter[str] = field(default_factory=Counter)
    received: int = 0
    #: held messages whose visibility was extended / whose extension failed (dropped)
    extended: int = 0
    extend_failed: int = 0
    #: held messages handed back to their lane (visibility 0)
    released: int = 0


class Dispatcher(HeldMessages, Draining):
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
        buffer_per_lane: int = PER_LANE,
        buffer_seconds: float | None = None,
        hold_seconds: float = 20.0,
        flush_every: float = 2.0,
        lane_visibility: int = 60,
        pause_refresh: float = 2.0,
        fill_seconds: float = 1.0,
        reconcile_every: float | None = FROM_ENV,
        scheduler: str = "fair",
        lookahead: Lookahead | None = None,
        tenant_share: float | None = None,
        control: ControlStore | None = None,
        member: str | None = None,
    ) -> None:
        """``control``: the multi-tenant control plane; with a multi-tenant topology the
        dispatcher then holds lane leases (several dispatchers share the lanes and split
        global limits), publishes back-pressure and depths, and runs the dynamic pool."""
        self.catalog = catalog
        self.topology = topology
        self.lanes = lanes
        self.store = store
        self.runner = runner
        self.executor = executor
        self.clock = clock or SystemClock()
        self.rng = rng or random.Random()
        self.max_in_flight = max_in_flight
        if buffer_per_lane < 1:
            raise ValueError(f"buffer_per_lane must be >= 1, got {buffer_per_lane}")
        #: Messages held per lane (the look-ahead's depth in one lane).
        self.buffer_per_lane = buffer_per_lane
        #: The look-ahead's bounds: per tenant (applied only while others wait) and in
        #: total across lanes (with the outbox's backlog, the pull bound).
        self.lookahead = lookahead or Lookahead(
            per_tenant=max(1, buffer_per_lane // 2),
            total=max(buffer_per_lane, LOOKAHEAD_TOTAL),
        )
        #: Seconds after which a held message is handed back to its lane anyway (None:
        #: held, its visibility extended, until it starts or the dispatcher gives it up).
        self.buffer_seconds = buffer_seconds
        #: Seconds a finished message may wait for its batched ack (the service loop
        #: flushes at 10 pending or after this long, whichever comes first; forwards and
        #: dead letters go at once). 2 s fills ack batches at a trickle of 5 tasks/s and
        #: more; a waiting ack costs nothing (the outcome is durable, visibility is 60 s).
        self.flush_every = flush_every
        self.lane_visibility = lane_visibility
        self.extend_every = lane_visibility / 2
        #: Seconds a lane's puller waits after a partial, non-empty receive before the next
        #: one, so a trickle fills batches (10 tasks/s -> ~10 per receive) instead of one
        #: receive per message; a backlog (full receives) and an idle lane's first message
        #: (long poll) never wait. Adds at most this much queue wait to a trickle.
        self.fill_seconds = fill_seconds
        #: Seconds between the reconciler's passes while ``run`` serves; None: no reconciler.
        #: By default ``CONVEYOR_RECONCILE_SECONDS`` (60; 0 turns it off).
        self.reconcile_every = (
            interval_from_env() if reconcile_every == FROM_ENV else reconcile_every
        )
        self.outbox = Outbox(lanes, topology, self.clock)
        self.intake = Intake(
            catalog,
            topology,
            store,
            runner,
            self._settle,
            clock=self.clock,
            rng=self.rng,
            hold_seconds=hold_seconds,
            pause_refresh=pause_refresh,
        )
        classes = {p: topology.lanes_of(p) for p in PRIORITY_WEIGHTS}
        classes["pool"] = topology.pool_lanes  # a pool lane holds one tenant's classes
        self.picker = WeightedLanePicker(
            classes, {**PRIORITY_WEIGHTS, "pool": PRIORITY_WEIGHTS["normal"]}
        )
        if scheduler not in ("fair", "wrr"):
            raise ValueError(f"scheduler must be 'fair' or 'wrr', got {scheduler!r}")
        self.fair = (
            FairChoice(
                catalog,
                max_in_flight=max_in_flight,
                rng=self.rng,
                lookahead=self.lookahead,
                tenant_share=tenant_share,
            )
            if scheduler == "fair"
            else None
        )
        self.buffers: dict[str, deque[Held]] = {lane: deque() for lane in topology.lanes}
        self.running: list[_Running] = []
        self.in_flight: Counter[str] = Counter()
        self.stats = DispatcherStats()
        self._next_poll: dict[str, float] = {}
        self._extend_at = float("-inf")  # when extend_held next looks (dispatcher's clock)
        self._empty_wait: dict[str, float] = {}
        self._lock = threading.RLock()
        self.tenancy: DispatcherTenancy | None = None
        if control is not None and topology.multi_tenant:
            self.tenancy = DispatcherTenancy(
                topology,
                lanes,
                control,
                self.clock,
                member=member,
                rng=self.rng,
                on_release=self.release_lane,
            )

    # -- many tenants, several dispatchers ------------------------------------------------

    def serves(self, lane: str) -> bool:
        """Whether this dispatcher pulls ``lane`` now (always, without lane leases)."""
        return self.tenancy is None or self.tenancy.serves(lane)

    def tenancy_tick(self) -> float:
        """Leases and supervision (see ``DispatcherTenancy``); seconds to the next tick."""
        if self.tenancy is None:
            return 60.0
        with self._lock:
            counts = {lane: len(buffer) for lane, buffer in self.buffers.items()}
            oldest = min(
                (h.env.enqueued_at for b in self.buffers.values() for h in b), default=None
            )
        self.tenancy.holding(counts, oldest)
        wait = self.tenancy.tick()
        if self.fair is not None:
            with self._lock:
                self.fair.brain.gate.scale(self.tenancy.share())
        return wait

    def release_lane(self, lane: str) -> None:
        """Hand ``lane``'s buffered messages back at once: its lease moves elsewhere."""
        with self._lock:
            buffer = self.buffers.get(lane)
            if buffer:
                self._release(lane, list(buffer))

    # -- one pass -------------------------------------------------------------------------

    def step(self) -> int:
        """Pull every lane that has room, dispatch, collect finished attempts, flush.
        Returns how many messages were pulled or settled in this pass."""
        pulled = 0
        if self.tenancy is not None:
            self.tenancy_tick()
        now = time.monotonic()
        for lane in filter(self.serves, self.topology.lanes):
            room = self.room(lane)
            if room > 0 and now >= self._next_poll.get(lane, 0.0):
                try:
                    messages = self.lanes.receive(lane, max_messages=room)
                except Exception:
                    logger.exception("receive failed", extra={"lane": lane})
                    messages = []
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

    def room(self, lane: str) -> int:
        """Messages the next receive on ``lane`` may take (0..10): the lane's depth and
        the total look-ahead, where held and unsent messages both count (an outage of the
        outbox's sends stops pulling instead of piling up receipts)."""
        with self._lock:
            held = sum(len(b) for b in self.buffers.values()) + self.outbox.pending()
            return self.lookahead.room(len(self.buffers[lane]), self.buffer_per_lane, held)

    def paused(self) -> frozenset[tuple[str, str]]:
        return self.intake.paused()

    def ingest(self, lane: str, messages: list[InMessage]) -> None:
        """Classify freshly pulled messages; runnable ones go to the lane's buffer."""
        if not messages:
            return
        with self._lock:
            self.stats.received += len(messages)
        try:
            paused = self.paused()
        except PauseSetUnknown:
            logger.exception("pause set unknown: holding the batch", extra={"lane": lane})
            for message in messages:
                self._settle(lane, message, self.intake.unknown_hold(message))
            return
        with self._lock:
            # paused ones, then those over a rate or sidelined: hidden 10 per request
            holds: list[tuple[InMessage, Outcome]] = []
            runnable = self.intake.classify(lane, messages, paused, holds)
            if self.tenancy is not None:
                for held in runnable:
                    self.tenancy.observe(held.env)
            now = self.clock.now()
            for held in runnable:
                held.hidden_until = held.since + self.lane_visibility
            if self.fair is None:
                self.buffers[lane].extend(runnable)
                self._hide(lane, holds)
                return
            for held in runnable:
                hold = self.fair.admit(held, now)
                if hold is not None:
                    holds.append((held.message, hold))
                    continue
                self.buffers[lane].append(held)
                self.fair.offer(held, now)
            self._hide(lane, holds)

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
            if self.buffer_seconds is None:
                return
            for lane, buffer in self.buffers.items():
                for held in [h for h in buffer if now - h.since >= self.buffer_seconds]:
                    buffer.remove(held)
                    if self.fair is not None:
                        self.fair.withdraw(held)
                    self._settle(
                        lane,
                        held.message,
                        Outcome(
                            HOLD,
                            held.env.task_id,
                            "quota",
                            delay=1 + self.rng.random() * 2,
                            reason="held past buffer_seconds (quota, window or share)",
                        ),
                    )

    def _next_eligible(self) -> Held | None:
        if not any(self.buffers.values()):
            return None
        if self.fair is not None:
            chosen = self.fair.next(self.clock.now())
            if chosen is not None:
                self.buffers[chosen.lane].remove(chosen)
            return chosen
        for lane in self.picker.order():
            buffer = self.buffers[lane]
            for held in buffer:
                if self._eligible(held.task_type):
                    buffer.remove(held)
                    return held
        return None

    def _start(self, held: Held) -> None:
        try:
            self._hand_over(held)
        except Exception:
            logger.exception("could not hand a task over", extra={"task_id": held.env.task_id})
            if self.fair is not None:
                self.fair.withdraw(held)
            self._settle(held.lane, held.message, self.intake.unknown_hold(held.message))

    def _hand_over(self, held: Held) -> None:
        name = held.task_type.name
        if held.task_type.executor == "fargate":
            queue = self.topology.work_queue(name)
            self.outbox.forward(queue, held.lane, held.message, held.env.tenant)
            self.stats.forwarded[name] += 1
            if self.fair is not None:
                self.fair.forwarded(held, self.clock.now())
            return
        future = self.executor.submit(held.task_type, held.message.body, held.env)
        ticket = self.fair.started(held, self.clock.now()) if self.fair is not None else None
        self.running.append(
            _Running(held.lane, held.message, held.task_type, future, ticket=ticket)
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
            self.extend_held()
            if done and self.tenancy is not None:
                self.tenancy.finished(len(done))
            for item in done:
                outcome = _outcome_of(item.future)
                if item.task_type.lean and outcome.reason.startswith(INVOCATION_FAILED):
                    outcome = self._lost_lean_run(item, outcome)
                try:
                    self._settle(item.lane, item.message, outcome)
                except Exception:
                    logger.exception("could not settle an attempt's message")
                finally:
                    self.in_flight[item.task_type.name] -= 1
                    if self.fair is not None and item.ticket is not None:
                        ran = time.monotonic() - item.started
                        self.fair.finished(item.ticket, outcome.kind, ran, self.clock.now())
            return len(done)

    def _lost_lean_run(self, item: _Running, outcome: Outcome) -> Outcome:
        """A lean task's invocation failed: no lease will tell, so its attempt is recorded
        here (``TaskRunner.lost_run``); if that cannot be done, the message is retried."""
        try:
            return self.runner.lost_run(item.message.body, outcome.reason) or outcome
        except Exception:
            logger.exception("could not record a lost lean attempt")
            return outcome

    def _settle(self, lane: str, message: InMessage, outcome: Outcome) -> None:
        self.stats.kinds[outcome.kind] += 1
        self.outbox.settle(lane, message, outcome)

    def pending(self) -> int:
        """Messages whose ack, forward or dead letter waits for the next flush."""
        return self.outbox.pending()

    def flush(self) -> bool:
        """Send forwards and dead letters, then delete what they replace (in that order,
        so a crash in between duplicates at worst and never loses). False when something
        could not be sent and stays queued for the next flush."""
        return self.outbox.flush()

    def run(self, stop: threading.Event, *, wait_seconds: int = 20) -> None:
        """Serve until ``stop`` is set: one long-polling puller thread per lane, and the
        reconciler on its own thread (every ``reconcile_every`` seconds)."""
        serve(self, stop, wait_seconds=wait_seconds, reconcile=self.reconciler())


def _outcome_of(future: Future[Outcome]) -> Outcome:
    try:
        return future.result()
    except Exception as exc:
        logger.exception("executor failed")
        return Outcome(RETRY, "", "retryable", delay=5.0, reason=str(exc))

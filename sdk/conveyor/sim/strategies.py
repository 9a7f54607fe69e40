"""Dispatcher strategies the simulator compares, all fed by the same lanes and executors.

* ``fair``: the Level-3 brain — lanes per priority class, a look-ahead buffer with
  per-tenant sidelining (``Lookahead``), the ``FairScheduler`` and the ``AdmissionGate``
  (rates, quotas, AIMD windows) — the very objects the dispatcher uses.
* ``wrr``: today's dispatcher — lanes per class, 10 buffered per lane, lanes in
  ``WeightedLanePicker`` order, first task under its type's quota; no tenant awareness,
  no rate limits, no windows.
* ``fifo``: one queue for everything, first task under its type's quota.
"""

from __future__ import annotations

from collections import Counter, deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..model import PRIORITY_WEIGHTS
from ..policy.costs import CostModel
from ..policy.fair import FairScheduler, Ticket
from ..policy.limits import AdmissionGate
from ..policy.picker import WeightedLanePicker
from ..policy.rates import RateLimits
from .lanes import Lane, Msg

if TYPE_CHECKING:
    from .world import World

CLASSES = tuple(PRIORITY_WEIGHTS)
#: a rate-limited message due later than this is hidden in its lane instead of held
HOLD_HORIZON = 2.0


class FairStrategy:
    name = "fair"

    def __init__(self, world: World) -> None:
        sc = world.scenario
        self.world = world
        self.lanes = {c: Lane(c) for c in CLASSES}
        self.look = sc.lookahead
        rates = RateLimits()
        for t in sc.types:
            if t.rate is not None:
                rates.set(("type", t.name), t.rate)
        for g in sc.groups:
            if g.tenant_rate is not None:
                for i in range(g.count):
                    rates.set(("tenant", g.tenant(i)), g.tenant_rate)
        self.gate = AdmissionGate(
            max_in_flight=sc.slots,
            type_quota={t.name: t.quota for t in sc.types if t.quota is not None},
            tenant_share=sc.tenant_share,
            target_of={t.name: t.resource for t in sc.types if t.resource},
            windows=sc.windows,
            rates=rates,
        )
        priors = {t.name: 1.0 for t in sc.types}
        self.scheduler = FairScheduler(
            classes=CLASSES,
            policies=sc.classes,
            weight_of=world.weight_of,
            costs=CostModel(priors),
        )
        self.held: Counter[str] = Counter()
        self.held_lane: Counter[str] = Counter()
        self.held_type: Counter[str] = Counter()
        self.held_target: Counter[str] = Counter()
        self.total = 0
        self.sidelined = 0
        self.deferred = 0

    def lane_of(self, msg: Msg) -> Lane:
        return self.lanes[msg.priority]

    def submit(self, msg: Msg, now: float) -> float | None:
        self.lane_of(msg).send(msg, now)
        return None

    def pull(self, now: float) -> None:
        per_lane = self.world.scenario.buffer_per_lane
        for lane in self.lanes.values():
            for _ in range(self.world.scenario.receives_per_poll):
                room = 10 if per_lane is None else min(10, per_lane - self.held_lane[lane.name])
                if self.total >= self.look.total or room <= 0 or not lane.visible(now):
                    break
                for msg in lane.receive(now, room):
                    self._ingest(lane, msg, now)

    def _ingest(self, lane: Lane, msg: Msg, now: float) -> None:
        hide = self.look.hide_for(
            self.held[msg.tenant], self.total, msg.receives, self.world.jitter
        )
        if hide is not None:
            self.sidelined += 1
            lane.send(msg, now + hide)
            return
        keys = (("type", msg.task_type), ("tenant", msg.tenant))
        due = self.gate.rates.due(keys, now, (self.held_type[msg.task_type], self.held[msg.tenant]))
        if due - now > HOLD_HORIZON:
            self.deferred += 1
            lane.send(msg, due - HOLD_HORIZON / 2)
            return
        self.held[msg.tenant] += 1
        self.held_lane[lane.name] += 1
        self.held_type[msg.task_type] += 1
        self.held_target[self.gate.target(msg.task_type)] += 1
        self.total += 1
        self.scheduler.offer(Ticket(msg.task_type, msg.tenant, msg.priority, ref=msg), now)

    def dispatch(self, now: float) -> None:
        gate = self.gate

        def eligible(ticket: Ticket) -> bool:
            return gate.check(ticket, now) is None

        while gate.in_flight < gate.max_in_flight and self.total:
            ticket = self.scheduler.next(now, eligible)
            if ticket is None:
                return
            gate.acquire(ticket, now)
            self.held[ticket.tenant] -= 1
            if not self.held[ticket.tenant]:
                del self.held[ticket.tenant]
            self.held_lane[self.lane_of(ticket.ref).name] -= 1
            self.held_type[ticket.task_type] -= 1
            self.held_target[gate.target(ticket.task_type)] -= 1
            self.total -= 1
            self.world.start(ticket.ref, ticket, now)

    def finished(self, msg: Msg, token: Any, now: float, run: float, throttled: bool) -> None:
        ticket: Ticket = token
        self.scheduler.on_outcome(ticket, run, throttled=throttled)
        target = self.gate.target(ticket.task_type)
        backlogged = self.held_target[target] > 0 or bool(len(self.lane_of(msg)))
        self.gate.release(ticket, now, throttled=throttled, backlogged=backlogged)

    def windows(self) -> dict[str, float]:
        return {t: w.window for t, w in self.gate.windows.items()}

    def held_count(self) -> int:
        return self.total


class _Buffered:
    """Shared by the baselines: small per-lane buffers, first task under its quota."""

    name = "base"
    per_lane = 10

    def __init__(self, world: World, lanes: tuple[str, ...]) -> None:
        self.world = world
        self.lanes = {name: Lane(name) for name in lanes}
        self.buffers: dict[str, deque[Msg]] = {name: deque() for name in lanes}
        self.quota = {t.name: t.quota for t in world.scenario.types if t.quota is not None}
        self.by_type: Counter[str] = Counter()
        self.running = 0

    def order(self) -> list[str]:
        return list(self.lanes)

    def lane_of(self, msg: Msg) -> Lane:
        return self.lanes[msg.priority]

    def submit(self, msg: Msg, now: float) -> float | None:
        self.lane_of(msg).send(msg, now)
        return None

    def pull(self, now: float) -> None:
        slots = self.world.scenario.slots
        for name, lane in self.lanes.items():
            buffer = self.buffers[name]
            for _ in range(self.world.scenario.receives_per_poll):
                room = self.per_lane - len(buffer)
                capacity = slots - self.running - sum(map(len, self.buffers.values()))
                if room <= 0 or capacity <= 0 or not lane.visible(now):
                    break
                buffer.extend(lane.receive(now, min(10, room)))

    def dispatch(self, now: float) -> None:
        while self.running < self.world.scenario.slots:
            msg = self._next()
            if msg is None:
                return
            self.running += 1
            self.by_type[msg.task_type] += 1
            self.world.start(msg, None, now)

    def _next(self) -> Msg | None:
        if not any(self.buffers.values()):
            return None
        for name in self.order():
            buffer = self.buffers[name]
            for msg in buffer:
                quota = self.quota.get(msg.task_type)
                if quota is None or self.by_type[msg.task_type] < quota:
                    buffer.remove(msg)
                    return msg
        return None

    def finished(self, msg: Msg, token: Any, now: float, run: float, throttled: bool) -> None:
        self.running -= 1
        self.by_type[msg.task_type] -= 1

    def windows(self) -> dict[str, float]:
        return {}

    def held_count(self) -> int:
        return sum(map(len, self.buffers.values()))


class RoundRobinStrategy(_Buffered):
    name = "wrr"

    def __init__(self, world: World) -> None:
        super().__init__(world, CLASSES)
        self.picker = WeightedLanePicker({c: [c] for c in CLASSES}, PRIORITY_WEIGHTS)

    def order(self) -> list[str]:
        return self.picker.order()


class FifoStrategy(_Buffered):
    name = "fifo"

    def __init__(self, world: World) -> None:
        super().__init__(world, ("fifo",))

    def lane_of(self, msg: Msg) -> Lane:
        return self.lanes["fifo"]


STRATEGIES: dict[str, Callable[[World], Any]] = {
    "fair": FairStrategy,
    "wrr": RoundRobinStrategy,
    "fifo": FifoStrategy,
}

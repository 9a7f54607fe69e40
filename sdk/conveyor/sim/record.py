"""What a simulated run records: queue waits of first attempts, executor-seconds per
tenant and per share window, calls and throttles, dispatch times of rate-limited keys,
and samples of AIMD windows against downstream capacity. Only work after the warm-up
counts; tasks still waiting at the end count with their wait so far (a lower bound)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from .lanes import Msg
from .spec import Scenario


@dataclass
class Recorder:
    scenario: Scenario
    #: (group, tenant, priority, created, wait, censored)
    waits: list[tuple[str, str, str, float, float, bool]] = field(default_factory=list)
    exec_window: dict[tuple[str, int], float] = field(default_factory=lambda: defaultdict(float))
    exec_tenant: dict[str, float] = field(default_factory=lambda: defaultdict(float))
    exec_class: dict[tuple[str, int], float] = field(default_factory=lambda: defaultdict(float))
    group_of: dict[str, str] = field(default_factory=dict)
    calls: int = 0
    throttled: int = 0
    busy: float = 0.0
    dispatches: dict[tuple[str, str], list[float]] = field(
        default_factory=lambda: defaultdict(list)
    )
    samples: list[tuple[float, dict[str, float], dict[str, float]]] = field(default_factory=list)
    used: dict[str, float] = field(default_factory=dict)
    capacity: dict[str, float] = field(default_factory=dict)
    backlog: list[tuple[float, int]] = field(default_factory=list)
    receives: int = 0
    events: int = 0
    end: float = 0.0
    #: what a multi-tenant strategy did to the heavy tenant (``tenancy.TenancyLog``)
    tenancy: Any = None
    _pending: dict[int, Msg] = field(default_factory=dict)

    def created(self, msg: Msg) -> None:
        if msg.created >= self.scenario.warmup:
            self._pending[msg.id] = msg
        self.group_of.setdefault(msg.tenant, msg.group)

    def called(self, msg: Msg, now: float) -> None:
        self.dispatches[("type", msg.task_type)].append(now)
        self.dispatches[("tenant", msg.tenant)].append(now)
        if now >= self.scenario.warmup:
            self.calls += 1
        if not msg.started:
            msg.started = True
            if self._pending.pop(msg.id, None) is not None:
                self.waits.append(
                    (msg.group, msg.tenant, msg.priority, msg.created, now - msg.created, False)
                )

    def finished(self, msg: Msg, started: float, now: float, throttled: bool) -> None:
        warm = self.scenario.warmup
        if throttled:
            self.throttled += started >= warm
        lo = max(started, warm)
        if now > lo:
            self.busy += now - lo
        if throttled:
            return
        self.exec_tenant[msg.tenant] += max(0.0, now - lo)
        width = self.scenario.share_window
        t = started
        while t < now:
            index = int(t // width)
            edge = min(now, (index + 1) * width)
            self.exec_window[(msg.tenant, index)] += edge - t
            self.exec_class[(msg.priority, index)] += edge - t
            t = edge

    def sample(self, now: float, windows: dict[str, float], caps: dict[str, float]) -> None:
        self.samples.append((now, windows, caps))

    def close(self, end: float, downstreams: dict[str, Any], strategy: Any, events: int) -> None:
        self.end = end
        self.events = events
        for msg in self._pending.values():
            self.waits.append(
                (msg.group, msg.tenant, msg.priority, msg.created, end - msg.created, True)
            )
        self._pending.clear()
        self.receives = sum(lane.receive_calls for lane in strategy.lanes.values())
        self.tenancy = getattr(strategy, "log", None)
        warm, step = self.scenario.warmup, 0.1
        for name, down in downstreams.items():
            self.used[name] = down.area
            steps = int((end - warm) / step)
            self.capacity[name] = sum(
                down.spec.capacity_at(warm + (i + 0.5) * step) * step for i in range(steps)
            )

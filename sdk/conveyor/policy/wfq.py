"""Weighted fair queuing across the tenants of one priority class (start-time fair queuing).

Each tenant is a flow with a FIFO of tickets and a weight (> 0). A backlogged flow has
one entry in a heap keyed by its head's virtual *start tag*; the flow with the smallest
tag goes next. Serving a head of estimated cost c (executor-seconds) moves the flow's
*finish tag* to ``start + c / weight``; its next head starts there. A flow that turns
backlogged starts at ``max(virtual time, its finish tag)``, so idle time is not banked.
Over any interval in which two flows stay backlogged, their executor-seconds divided by
weight differ by at most one maximal task each (SFQ's bound), whatever their task sizes.

Costs are estimates at dispatch; ``correct`` moves the flow's next tag by the difference
to the observed run time, so a tenant whose tasks run longer than estimated pays it back
(and a refund for a throttled attempt brings its turn closer).
Each decision is O(log n) in backlogged flows; idle flows cost nothing and are forgotten
once their finish tag is behind virtual time.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from heapq import heappop, heappush
from typing import Generic, TypeVar

T = TypeVar("T")
Eligible = Callable[[T], bool]


class _Flow(Generic[T]):
    __slots__ = ("entry", "finish", "items", "start", "weight")

    def __init__(self, weight: float) -> None:
        self.items: deque[T] = deque()
        self.weight = weight
        self.start = 0.0
        self.finish = 0.0
        self.entry = 0


class TenantQueues(Generic[T]):
    """Fair queues of one class. ``key(item)`` names the item's tenant."""

    def __init__(
        self,
        key: Callable[[T], str],
        weight_of: Callable[[str], float],
        *,
        max_scan: int = 64,
        lookahead: int = 4,
    ) -> None:
        self.key = key
        self.weight_of = weight_of
        #: flows inspected per decision when heads are ineligible (bounds the worst case)
        self.max_scan = max_scan
        #: items looked at inside one flow when its head is ineligible
        self.lookahead = lookahead
        self.vtime = 0.0
        self.flows: dict[str, _Flow[T]] = {}
        self._heap: list[tuple[float, int, str]] = []
        self._seq = 0
        self._count = 0

    def __len__(self) -> int:
        return self._count

    @property
    def backlogged(self) -> int:
        """Flows with work queued."""
        return sum(1 for f in self.flows.values() if f.items)

    def offer(self, item: T) -> None:
        self.add(self.key(item), item)

    def add(self, tenant: str, item: T) -> None:
        """``offer`` for a caller that already knows ``item``'s tenant (``key(item)``)."""
        flow = self.flows.get(tenant)
        if flow is None:
            weight = float(self.weight_of(tenant))
            if not weight > 0:
                raise ValueError(f"tenant {tenant!r}: weight must be > 0, got {weight!r}")
            flow = self.flows[tenant] = _Flow(weight)
        items = flow.items
        items.append(item)
        self._count += 1
        if len(items) == 1:
            vtime, finish = self.vtime, flow.finish
            start = finish if finish > vtime else vtime
            flow.start = start
            self._seq = seq = self._seq + 1
            flow.entry = seq
            heappush(self._heap, (start, seq, tenant))

    def _push(self, tag: float, tenant: str, flow: _Flow[T]) -> None:
        self._seq += 1
        flow.entry = self._seq
        heappush(self._heap, (tag, self._seq, tenant))

    def pop(self, cost: Callable[[T], float], eligible: Eligible[T] | None = None) -> T | None:
        """Remove and return the next item (None if none is eligible within the scan).
        ``cost(item)`` is the executor-seconds to charge its flow now.

        Flows whose first ``lookahead`` items are all ineligible are skipped (at most
        ``max_scan`` of them) and keep their place: they go back on the heap after."""
        heap, flows, max_scan = self._heap, self.flows, self.max_scan
        if max_scan <= 0:
            return None
        skipped: list[tuple[float, int, str]] | None = None
        while heap:
            entry = heappop(heap)
            tenant = entry[2]
            flow = flows.get(tenant)
            if flow is None or flow.entry != entry[1]:
                continue  # stale: the flow was served out of turn and pushed again
            items = flow.items
            if eligible is None or (self.lookahead > 0 and eligible(items[0])):
                found = items.popleft()
            else:
                index = self._later_eligible(items, eligible)
                if index is None:
                    if skipped is None:
                        skipped = [entry]
                    else:
                        skipped.append(entry)
                    if len(skipped) >= max_scan:
                        break
                    continue
                found = items[index]
                del items[index]
            self._count -= 1
            self._charge(entry[0], tenant, flow, cost(found))
            if skipped:
                self._restore(skipped)
            return found
        if skipped:
            self._restore(skipped)
        return None

    def _restore(self, skipped: list[tuple[float, int, str]]) -> None:
        for entry in skipped:
            heappush(self._heap, entry)

    def pop_head(
        self, tenant: str, cost: Callable[[T], float], eligible: Eligible[T] | None = None
    ) -> T | None:
        """Remove and return ``tenant``'s oldest item out of turn (if it is eligible),
        charged as if its flow's turn had come."""
        flow = self.flows.get(tenant)
        if flow is None or not flow.items:
            return None
        item = flow.items[0]
        if eligible is not None and not eligible(item):
            return None
        flow.items.popleft()
        self._count -= 1
        flow.entry = 0  # its heap entry is stale now
        self._charge(flow.start, tenant, flow, cost(item))
        return item

    def remove(self, item: T) -> bool:
        """Take ``item`` out without serving it (e.g. released to its lane); False if it
        is not queued. O(length of its tenant's queue)."""
        flow = self.flows.get(self.key(item))
        if flow is None:
            return False
        try:
            flow.items.remove(item)
        except ValueError:
            return False
        self._count -= 1
        if not flow.items:
            flow.entry = 0  # its heap entry is stale now
        return True

    def _later_eligible(self, items: deque[T], eligible: Eligible[T]) -> int | None:
        """The index of the first eligible item after the head, within ``lookahead``."""
        for index in range(1, min(self.lookahead, len(items))):
            if eligible(items[index]):
                return index
        return None

    def _charge(self, start: float, tenant: str, flow: _Flow[T], cost: float) -> None:
        vtime = self.vtime
        if start > vtime:
            self.vtime = vtime = start
        flow.finish = finish = start + cost / flow.weight
        if flow.items:
            start = finish if finish > vtime else vtime
            flow.start = start
            self._seq = seq = self._seq + 1
            flow.entry = seq
            heappush(self._heap, (start, seq, tenant))
        elif not self._count:
            # the class ran empty: a new busy period starts after every tag so far
            self.vtime = max(vtime, max(f.finish for f in self.flows.values()))
            self.flows.clear()
            self._heap.clear()
        elif finish <= vtime:
            del self.flows[tenant]
        if len(self.flows) > 2 * len(self._heap) + 1024:
            self._forget_idle()

    def correct(self, tenant: str, delta: float) -> None:
        """Charge ``delta`` more executor-seconds (negative: refund) to ``tenant``."""
        flow = self.flows.get(tenant)
        if flow is None:
            return  # idle and behind virtual time: nothing to settle
        if not flow.items:
            flow.finish += delta / flow.weight
            return
        start = max(self.vtime, flow.start + delta / flow.weight)
        if start != flow.start:  # re-key the head (its old heap entry goes stale)
            flow.start = start
            self._push(start, tenant, flow)

    def _forget_idle(self) -> None:
        for tenant in [t for t, f in self.flows.items() if not f.items and f.finish <= self.vtime]:
            del self.flows[tenant]

    def items(self) -> list[T]:
        return [item for flow in self.flows.values() for item in flow.items]

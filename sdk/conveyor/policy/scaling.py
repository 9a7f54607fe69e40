"""The KEDA-like scaling rule: backlog (and age) -> how many workers. Pure.

One step table drives both the CDK alarms (CloudWatch alarm on queue depth -> Application
Auto Scaling step policy with ``ExactCapacity`` adjustments) and the dev cloud's local
autoscaler, so they cannot disagree.

``backlog`` counts visible plus in-flight messages of the work queue: tasks waiting and
tasks running. Invariants: no backlog -> 0 workers (scale to zero); any backlog -> at
least 1; never more than ``max_workers``; monotone in backlog; an oldest message older
than ``age_boost_after`` seconds adds one step.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

#: (backlog at least, workers) -- ascending. Capped by the type's max_workers.
DEFAULT_STEPS: tuple[tuple[int, int], ...] = ((1, 1), (5, 2), (20, 4), (100, 8), (500, 16))


@dataclass(frozen=True, slots=True)
class ScalingRule:
    max_workers: int
    steps: tuple[tuple[int, int], ...] = DEFAULT_STEPS
    age_boost_after: float = 300.0

    def __post_init__(self) -> None:
        if self.max_workers < 1:
            raise ValueError("max_workers must be >= 1")
        lows = [low for low, _ in self.steps]
        if lows != sorted(lows) or not lows or lows[0] < 1:
            raise ValueError("steps must ascend and start at a backlog >= 1")

    def desired(self, backlog: int, oldest_age: float = 0.0) -> int:
        """Workers wanted for ``backlog`` messages whose oldest is ``oldest_age`` s old."""
        if backlog <= 0:
            return 0
        index = max(i for i, (low, _) in enumerate(self.steps) if backlog >= low)
        if oldest_age >= self.age_boost_after:
            index = min(index + 1, len(self.steps) - 1)
        return max(1, min(self.max_workers, self.steps[index][1]))

    def table(self) -> list[tuple[int, int | None, int]]:
        """(lower, upper or None, workers) intervals, as the CDK step policy takes them."""
        out: list[tuple[int, int | None, int]] = []
        for i, (low, workers) in enumerate(self.steps):
            upper = self.steps[i + 1][0] if i + 1 < len(self.steps) else None
            out.append((low, upper, min(self.max_workers, workers)))
        return out


def plan(rule: ScalingRule, samples: Sequence[tuple[int, float]]) -> list[int]:
    """Desired counts over a sequence of (backlog, oldest_age) samples (for tables/tests)."""
    return [rule.desired(backlog, age) for backlog, age in samples]

"""What one task costs, in executor-seconds: an estimate per task type that learns.

The fair scheduler charges tenants by executor-seconds, not task counts, and must charge
at dispatch, before the run time is known. Each type starts at ``prior`` seconds (its
declared estimate, else ``default``) and moves toward observed run times by an
exponentially weighted moving average (weight ``alpha`` per observation). Estimates are
never below ``floor`` seconds, so a task type that fails at once still costs something.
"""

from __future__ import annotations

from collections.abc import Mapping


class CostModel:
    def __init__(
        self,
        priors: Mapping[str, float] | None = None,
        *,
        default: float = 1.0,
        alpha: float = 0.2,
        floor: float = 0.001,
    ) -> None:
        if not 0 < alpha <= 1:
            raise ValueError("alpha must be in (0, 1]")
        if default <= 0 or floor <= 0:
            raise ValueError("default and floor must be > 0 seconds")
        self.default = default
        self.alpha = alpha
        self.floor = floor
        self._estimate = {k: max(floor, float(v)) for k, v in (priors or {}).items()}

    def estimate(self, task_type: str) -> float:
        """Expected executor-seconds of one attempt of ``task_type`` (> 0)."""
        return self._estimate.get(task_type, self.default)

    def observe(self, task_type: str, seconds: float) -> None:
        """Learn from one finished attempt that ran ``seconds`` (negative read as 0)."""
        old = self._estimate.get(task_type, self.default)
        new = old + self.alpha * ((seconds if seconds > 0.0 else 0.0) - old)
        floor = self.floor
        self._estimate[task_type] = new if new > floor else floor

"""Which lane to pull next: smooth weighted round-robin over priority classes. Pure.

Each call to ``order`` returns every lane, the one whose turn it is first. Over any
window of W = sum(weights) picks, a class of weight w leads exactly w times, so high
goes first most often but low leads at least once per window: it never starves. Lanes
of one class (shards) rotate among themselves. The Level-3 fair scheduler can replace
this behind the same ``order`` call.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence


class WeightedLanePicker:
    def __init__(
        self, lanes_by_class: Mapping[str, Sequence[str]], weights: Mapping[str, int]
    ) -> None:
        self.classes = [c for c in lanes_by_class if lanes_by_class[c]]
        if not self.classes:
            raise ValueError("no lanes to pick from")
        self.lanes = {c: list(lanes_by_class[c]) for c in self.classes}
        self.weights = {c: max(1, int(weights.get(c, 1))) for c in self.classes}
        self.total = sum(self.weights.values())
        self.current = dict.fromkeys(self.classes, 0)
        self.rotation = dict.fromkeys(self.classes, 0)

    def next_class(self) -> str:
        for c in self.classes:
            self.current[c] += self.weights[c]
        best = max(self.classes, key=lambda c: self.current[c])
        self.current[best] -= self.total
        return best

    def order(self) -> list[str]:
        """All lanes, the leading class's next shard first, then the others by weight."""
        lead = self.next_class()
        out: list[str] = []
        for c in [
            lead,
            *sorted((c for c in self.classes if c != lead), key=lambda c: -self.weights[c]),
        ]:
            lanes = self.lanes[c]
            start = self.rotation[c] % len(lanes)
            out.extend(lanes[start:] + lanes[:start])
            if c == lead:
                self.rotation[c] += 1
        return out

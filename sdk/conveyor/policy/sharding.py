"""Shuffle sharding: each tenant owns a stable set of ``k`` of the ``n`` lanes of a class.

Two tenants share *all* their lanes with probability ``1 / C(n, k)`` (the blast radius):
a tenant that floods its lanes slows only the tenants whose whole set it covers. A task
goes to the shorter of its tenant's lanes (the power of two choices), judged from a
cached view of depths, so one busy lane does not hold a tenant back either.

Pure: a tenant's set is a function of its name and the salt only (SHA-256, so every
process and every deployment with the same salt agrees), and depths are passed in.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from math import comb


def _digest(salt: str, tenant: str) -> int:
    return int.from_bytes(hashlib.sha256(f"{salt}\x00{tenant}".encode()).digest()[:16], "big")


def unrank(rank: int, n: int, k: int) -> tuple[int, ...]:
    """The ``rank``-th k-subset of ``range(n)`` in colex order (combinatorial number
    system), ``0 <= rank < C(n, k)``; every subset has exactly one rank."""
    out: list[int] = []
    for size in range(k, 0, -1):
        c = size - 1
        while comb(c + 1, size) <= rank:
            c += 1
        out.append(c)
        rank -= comb(c, size)
    return tuple(sorted(out))


def blast_radius(n: int, k: int) -> float:
    """Share of tenant pairs whose lane sets are identical: ``1 / C(n, k)``."""
    return 1.0 / comb(n, k)


@dataclass(frozen=True)
class ShuffleSharder:
    """Maps tenants to ``k`` of ``lanes`` lane indexes. ``k`` is capped at ``lanes``."""

    lanes: int
    k: int = 2
    salt: str = ""

    def __post_init__(self) -> None:
        if not isinstance(self.lanes, int) or isinstance(self.lanes, bool) or self.lanes < 1:
            raise ValueError(f"lanes must be a whole number >= 1, got {self.lanes!r}")
        if not isinstance(self.k, int) or isinstance(self.k, bool) or self.k < 1:
            raise ValueError(f"k must be a whole number >= 1, got {self.k!r}")
        object.__setattr__(self, "k", min(self.k, self.lanes))

    @property
    def blast_radius(self) -> float:
        return blast_radius(self.lanes, self.k)

    def shard_set(self, tenant: str) -> tuple[int, ...]:
        """The tenant's lanes, in the tenant's own order of preference (ties go to the
        first): the subset is uniform over all C(n, k), the order a rotation of it."""
        h = _digest(self.salt, tenant)
        subset = unrank(h % comb(self.lanes, self.k), self.lanes, self.k)
        start = (h // comb(self.lanes, self.k)) % self.k
        return subset[start:] + subset[:start]

    def choose(self, tenant: str, depth: Mapping[int, float] | Callable[[int], float]) -> int:
        """The shortest of the tenant's lanes; a lane missing from ``depth`` counts as 0."""
        look = depth if callable(depth) else (lambda lane: depth.get(lane, 0.0))
        best, best_depth = -1, float("inf")
        for lane in self.shard_set(tenant):
            d = look(lane)
            if d < best_depth:
                best, best_depth = lane, d
        return best


@dataclass
class DepthCache:
    """A per-process view of lane depths, refreshed at most every ``max_age`` seconds.

    ``refresh()`` is called with no arguments and returns the new depths; if it raises,
    the old view is kept (a stale view only makes the choice less even, never wrong)
    until the next refresh is due. ``now`` is seconds on any monotonic clock."""

    refresh: Callable[[], Mapping[int, float]]
    max_age: float = 5.0
    depths: dict[int, float] = field(default_factory=dict)
    fetched_at: float = float("-inf")
    refreshes: int = 0
    failures: int = 0

    def get(self, now: float) -> Mapping[int, float]:
        if now - self.fetched_at >= self.max_age:
            self.fetched_at = now
            try:
                self.depths = dict(self.refresh())
                self.refreshes += 1
            except Exception:
                self.failures += 1
        return self.depths


__all__ = ["DepthCache", "ShuffleSharder", "blast_radius", "unrank"]

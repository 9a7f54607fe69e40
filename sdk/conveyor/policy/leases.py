"""Several dispatchers, one owner per lane. Pure.

Live dispatchers (members) announce themselves with a heartbeat that expires. Each lane
has one *desired* owner among the live members, by rendezvous (highest-random-weight)
hashing: every member computes the same answer from the same member list, and when a
member joins or dies only the lanes it gains or held move (about 1/N of them). A member
serves a lane only while it holds that lane's lease (a conditional write in the table),
so two members never serve one lane at once, even while their member lists disagree.

Global limits (a type's rate, a quota) are split evenly among live members; while a
member joins or leaves, each uses the share of the larger list it has seen, so the sum
never exceeds the global limit.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence


def _weight(member: str, lane: str) -> int:
    return int.from_bytes(hashlib.sha256(f"{member}\x00{lane}".encode()).digest()[:8], "big")


def live(members: Mapping[str, float], now: float) -> list[str]:
    """Members whose heartbeat has not expired (``until`` > ``now``), sorted."""
    return sorted(m for m, until in members.items() if until > now)


def owner_of(lane: str, members: Sequence[str]) -> str | None:
    """The lane's desired owner among ``members`` (None when there are none)."""
    if not members:
        return None
    return max(members, key=lambda m: (_weight(m, lane), m))


def desired_lanes(member: str, members: Sequence[str], lanes: Iterable[str]) -> list[str]:
    """The lanes ``member`` should hold; all of them if it is alone (or not yet listed)."""
    everyone = sorted(set(members) | {member})
    return [lane for lane in lanes if owner_of(lane, everyone) == member]


def share(members_seen: Iterable[Sequence[str]]) -> float:
    """This member's share of a global limit: 1 / the largest live list it has seen
    recently (at least 1)."""
    return 1.0 / max([1, *(len(m) for m in members_seen)])


__all__ = ["desired_lanes", "live", "owner_of", "share"]

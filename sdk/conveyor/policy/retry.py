"""Outcome classification and retry decisions. Pure: randomness is passed in.

Classes of failure:

* ``fatal``      -- ``conveyor.Fatal`` or a type's ``non_retryable`` error: fail now.
* ``retryable``  -- ``RetryLater``, timeouts, network errors, any other exception: retry
  with exponential backoff and full jitter, spending one attempt, up to ``max_attempts``.
* ``throttled``  -- ``conveyor.Throttled`` or a downstream 429: retry with backoff on the
  separate ``max_throttles`` budget; never spends an attempt.

Backoff for the n-th retry (n >= 1) is ``min(cap, base * 2**(n-1))`` seconds, and with
full jitter a uniform draw in ``[0, that]`` (never negative, never above the cap).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from enum import StrEnum

from ..catalog import Retry
from ..errors import Fatal, RetryLater, Throttled

FATAL = "fatal"
RETRYABLE = "retryable"
THROTTLED = "throttled"


def classify(exc: BaseException, policy: Retry) -> str:
    if isinstance(exc, Fatal):
        return FATAL
    if isinstance(exc, Throttled):
        return THROTTLED
    if isinstance(exc, RetryLater):
        return RETRYABLE
    names = policy.non_retryable_names()
    if any(cls.__name__ in names for cls in type(exc).__mro__):
        return FATAL
    status = getattr(exc, "status", None) or getattr(exc, "status_code", None)
    if status == 429:
        return THROTTLED
    return RETRYABLE


def backoff(n: int, policy: Retry, rng: random.Random) -> float:
    """Seconds to wait before retry number ``n`` (1-based)."""
    ceiling = min(policy.backoff_cap, policy.backoff_base * 2 ** max(0, n - 1))
    return rng.uniform(0, ceiling) if policy.jitter else ceiling


class Action(StrEnum):
    RETRY = "retry"
    FAIL = "fail"


@dataclass(frozen=True, slots=True)
class Decision:
    action: Action
    delay: float = 0.0
    reason: str = ""


def decide(
    kind: str,
    *,
    attempts: int,
    throttles: int,
    policy: Retry,
    rng: random.Random,
    hint: float | None = None,
) -> Decision:
    """What to do after a failed attempt.

    ``attempts`` is the number of attempts started so far, including this one;
    ``throttles`` the throttled attempts so far, including this one if throttled.
    ``hint`` is a handler-suggested delay (seconds), used instead of the backoff draw
    but never above the cap.
    """
    if kind == FATAL:
        return Decision(Action.FAIL, reason="fatal error")
    if kind == THROTTLED:
        if throttles > policy.max_throttles:
            return Decision(Action.FAIL, reason=f"throttled {throttles} times")
        delay = backoff(throttles, policy, rng) if hint is None else hint
        return Decision(Action.RETRY, min(delay, policy.backoff_cap), "throttled")
    if attempts >= policy.max_attempts:
        return Decision(Action.FAIL, reason=f"gave up after {attempts} attempts")
    delay = backoff(attempts, policy, rng) if hint is None else hint
    return Decision(Action.RETRY, min(max(0.0, delay), policy.backoff_cap), "retryable error")

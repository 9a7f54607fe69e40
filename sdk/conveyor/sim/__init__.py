"""A deterministic discrete-event simulation of the dispatcher's policies.

It drives the very policy objects the dispatcher uses (``FairScheduler``,
``AdmissionGate``, ``AimdWindow``, ``Lookahead``) with a fake clock, beside two
baselines, over the scenarios in ``scenarios``: ``python -m conveyor.sim SCENARIO``.
The multi-tenant scenario adds shuffle-sharded lanes, the dynamic pool and producer
back-pressure, wired with the runtime's own ``tenancy`` adapters (``tenancy``).
"""

from .run import Report, Target, run, simulate
from .scenarios import SCENARIOS

__all__ = ["SCENARIOS", "Report", "Target", "run", "simulate"]

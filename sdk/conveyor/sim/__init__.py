"""A deterministic discrete-event simulation of the dispatcher's policies.

It drives the very policy objects the dispatcher uses (``FairScheduler``,
``AdmissionGate``, ``AimdWindow``, ``Lookahead``) with a fake clock, beside two
baselines, over the scenarios in ``scenarios``: ``python -m conveyor.sim SCENARIO``.
"""

from .run import Report, Target, run, simulate
from .scenarios import SCENARIOS

__all__ = ["SCENARIOS", "Report", "Target", "run", "simulate"]

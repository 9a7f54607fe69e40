"""Conveyor's CDK app: small constructs (``infra.constructs``), one binding module that
turns catalog task types into construct props (``infra.binding``), and a stack that only
composes (``infra.stack``)."""

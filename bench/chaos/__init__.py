"""Fault-injection ("chaos") scenarios: ``python -m bench.chaos`` (``make chaos``).

Each scenario runs a few hundred tasks of the ledger catalog under one kind of fault and
checks Conveyor's promise: nothing lost, nothing succeeded twice, a handler re-run only
where a process died between its return and the durable write. See ``common`` for the
verdict, ``inprocess`` for AWS faults on in-process moto, ``killing`` for kill -9 of the
dispatcher and of workers on the dev cloud.
"""

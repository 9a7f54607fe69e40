"""The Lambda side of an executor: a Powertools-instrumented handler factory.

``make_handler()`` returns the function a deployed task-type Lambda exposes. It accepts
two event shapes:

* ``{"conveyor": "<lane message body>"}`` -- a synchronous Invoke from the dispatcher
  (one task per call); the Outcome goes back as the response for the dispatcher to act on;
* an SQS batch (``Records``) -- for types declared ``direct=True`` with an event source
  mapping on their own queue; handled with Powertools' ``BatchProcessor`` and
  ``process_partial_response``, so one bad record never fails the batch. Retries there
  re-appear via the queue's visibility; a dead letter is written with its reason.

Logger keys (task id, type, tenant, attempt) are set by the runner on every line;
Metrics are flushed as EMF (no PutMetricData calls); Tracer traces each invocation.

Cold start: this module imports only what one attempt needs -- the catalog, the runner
and its DynamoDB adapter; boto3 clients are built on first use (an attempt that never
touches S3 never builds an S3 client); the SQS batch utilities load only for SQS events;
the X-Ray SDK loads only when tracing is on, and patches botocore alone. No SDK client
module, no CLI.
"""

from __future__ import annotations

import atexit
import json
import os
import random
from collections.abc import Callable, Mapping
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

from ..catalog import load_catalog
from ..topology import Topology
from ..tracing import parse_header
from .outcome import ACK, DLQ, RETRY, Outcome
from .runner import TaskRunner

logger = Logger(service="conveyor")
metrics = Metrics(namespace="Conveyor", service="conveyor")


def tracing_enabled(env: Mapping[str, str] = os.environ) -> bool:
    """Powertools' own rule: traces only inside Lambda, unless disabled by env."""
    disabled = env.get("POWERTOOLS_TRACE_DISABLED", "false").lower() in ("1", "true", "yes")
    return bool(env.get("AWS_LAMBDA_FUNCTION_NAME")) and not disabled


def _traced(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Wrap ``fn`` with Powertools' Tracer when tracing is on (the X-Ray SDK is ~85 ms of
    import; with tracing off it is never loaded). Only botocore is patched: Conveyor's
    runtime makes no other outbound calls (a handler may patch its own libraries)."""
    if not tracing_enabled():
        return fn
    from aws_lambda_powertools import Tracer

    tracer = Tracer(service="conveyor", patch_modules=("botocore",))
    return tracer.capture_lambda_handler(fn, capture_response=False)


def _trace_of(body: Any) -> str | None:
    try:
        value = json.loads(body).get("tr")
    except (ValueError, TypeError, AttributeError):
        return None
    return value if isinstance(value, str) else None


def _annotate(trace: str | None) -> None:
    """Tag this invocation's X-Ray segment with the task's trace root (when tracing is on),
    so X-Ray finds every segment of one task by ``conveyor_trace``."""
    header = parse_header(trace)
    if header is None or not tracing_enabled():
        return
    from aws_lambda_powertools import Tracer

    try:
        Tracer(service="conveyor").put_annotation(key="conveyor_trace", value=header.root)
    except Exception:
        logger.exception("could not annotate the trace")


class RetryRecord(Exception):
    """Raised for an SQS record that must come back later (partial batch failure)."""


def build_runner(clients: Any = None) -> tuple[TaskRunner, Any]:
    """The runner and its runtime, wired from the environment (CONVEYOR_CATALOG, ...)."""
    from .bootstrap import aws_runtime

    catalog = load_catalog(os.environ["CONVEYOR_CATALOG"])
    topology, meter = Topology.from_env(), None
    if clients is None:
        from .costmeter import counting

        clients, meter = counting(topology)
        if meter is not None and os.environ.get("AWS_LAMBDA_FUNCTION_NAME"):
            atexit.register(meter.flush)  # an environment ended cleanly writes what it owes
    runtime = aws_runtime(catalog, topology, clients)
    runtime.cost_meter = meter
    return runtime.runner(rng=random.Random()), runtime


def _record_metrics(outcome: Outcome) -> None:
    metrics.add_metric(name=f"outcome_{outcome.kind}", unit=MetricUnit.Count, value=1)
    if outcome.kind == "ok":
        metrics.add_metric(
            name="queue_wait", unit=MetricUnit.Milliseconds, value=outcome.queue_wait_ms
        )
        metrics.add_metric(name="run_time", unit=MetricUnit.Milliseconds, value=outcome.run_ms)


def write_budget(context: Any, default: float) -> float:
    """Seconds of backoff an outcome write may spend: ``default``, but never past the
    invocation's end (5 s are kept to answer)."""
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    if remaining is None:
        return default
    return max(0.0, min(default, float(remaining()) / 1000 - 5))


def make_handler(runner: TaskRunner | None = None, runtime: Any = None) -> Callable[..., Any]:
    """Build the Lambda handler; ``runner``/``runtime`` are injected in tests."""
    state: dict[str, Any] = {"runner": runner, "runtime": runtime}

    def get_runner() -> TaskRunner:
        if state["runner"] is None:
            state["runner"], state["runtime"] = build_runner()
        runner_: TaskRunner = state["runner"]
        return runner_

    def on_record(record: Any) -> None:
        runner_ = get_runner()
        _annotate(_trace_of(record.body))
        outcome = runner_.run_body(
            record.body, write_budget=write_budget(state.get("context"), runner_.write_budget)
        )
        _record_metrics(outcome)
        if outcome.action == DLQ:
            rt = state["runtime"]
            if rt is not None:
                from .deadletter import dead_letter

                letter = dead_letter(record.body, outcome, "direct", 0)
                if rt.lanes.send(rt.topology.dlq, [letter]):
                    raise RetryRecord("the dead letter was not accepted; the record comes back")
            return
        if outcome.action != ACK:
            raise RetryRecord(outcome.reason or outcome.kind)

    def handle(event: dict[str, Any], context: Any) -> dict[str, Any]:
        try:
            return route(event, context)
        finally:
            meter = getattr(state["runtime"], "cost_meter", None)
            if meter is not None:
                meter.maybe_flush()  # at most once a minute per container, not per task

    def route(event: dict[str, Any], context: Any) -> dict[str, Any]:
        state["context"] = context
        if "conveyor" in event:
            runner_ = get_runner()
            budget = write_budget(context, runner_.write_budget)
            trace = event.get("trace") if isinstance(event.get("trace"), str) else None
            _annotate(trace or _trace_of(event["conveyor"]))
            outcome = runner_.run_body(event["conveyor"], write_budget=budget, trace=trace)
            _record_metrics(outcome)
            return outcome.to_dict()
        if "Records" in event:
            from aws_lambda_powertools.utilities.batch import (
                BatchProcessor,
                EventType,
                process_partial_response,
            )

            if "processor" not in state:
                state["processor"] = BatchProcessor(event_type=EventType.SQS)
            response = process_partial_response(
                event=event, record_handler=on_record, processor=state["processor"], context=context
            )
            return dict(response)
        return Outcome(DLQ, "", "malformed", reason="unknown event shape").to_dict()

    handler: Callable[..., Any] = logger.inject_lambda_context(clear_state=True)(
        metrics.log_metrics(_traced(handle))
    )
    return handler


__all__ = ["RETRY", "make_handler"]

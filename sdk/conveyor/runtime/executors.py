"""Executors: where the dispatcher sends a task to run.

* ``LocalExecutor``  -- runs the TaskRunner in a thread pool of this process. The dev
  cloud's stand-in for Lambda (moto cannot run code here), and the same code path: the
  Lambda entry calls the very same ``TaskRunner.run_body``.
* ``LambdaExecutor`` -- synchronous ``Invoke`` of the type's function, one task per call.
  A Lambda throttle comes back as ``hold``/``throttled`` (no attempt was spent: the task
  never reached RUNNING); a crashed or timed-out invocation leaves the task RUNNING
  under its lease, so the message is held until the lease ends and then retaken.

Fargate types are not executed by the dispatcher: it forwards them, in batches, to the
type's work queue, which the workers drain (``conveyor.runtime.worker``).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, Protocol

from botocore.config import Config
from botocore.exceptions import ClientError

from ..catalog import TaskType
from ..envelope import Envelope
from ..ports import now_ms
from ..tracing import parse_header
from . import spans
from .outcome import HOLD, RETRY, Outcome
from .runner import TaskRunner


class Executor(Protocol):
    def submit(self, task_type: TaskType, body: str, env: Envelope) -> Future[Outcome]: ...

    def shutdown(self) -> None: ...


class LocalExecutor:
    def __init__(self, runner: TaskRunner, max_workers: int = 16) -> None:
        self.runner = runner
        self.pool = ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="executor")

    def submit(self, task_type: TaskType, body: str, env: Envelope) -> Future[Outcome]:
        return self.pool.submit(self._run, env)

    def _run(self, env: Envelope) -> Outcome:
        traced, sid = spans.invoking(env)
        start = now_ms(self.runner.clock)
        outcome = self.runner.run(traced)
        spans.invoked(env, sid, start, now_ms(self.runner.clock), outcome.kind)
        return outcome

    def shutdown(self) -> None:
        self.pool.shutdown(wait=True, cancel_futures=False)


def function_name(prefix: str, task_type: str) -> str:
    """The Lambda function that runs ``task_type`` (the CDK stack names it so)."""
    return f"{prefix}-{task_type}".replace("_", "-")[:64]


#: Invoke errors that mean "not now": the function did not start, so no attempt began and
#: the task is held (``hold``/``throttled``), seconds given, instead of retried.
NOT_NOW: dict[str, float] = {
    "TooManyRequestsException": 2.0,
    "EC2ThrottledException": 10.0,
    "ENILimitReachedException": 10.0,
    "SubnetIPAddressLimitReachedException": 10.0,
    "ResourceNotReadyException": 10.0,
    "ResourceConflictException": 10.0,
}


#: How the reason of a failed invocation's outcome begins (the function crashed or timed
#: out; ``Dispatcher.collect`` records it for a lean type, which has no lease).
INVOCATION_FAILED = "invocation failed"


class LambdaExecutor:
    """``lambda_client`` should not retry throttles itself (see ``CLIENT_CONFIG``): the
    dispatcher must see each 429 to hold the task and to shrink its window."""

    CLIENT_CONFIG = Config(
        retries={"total_max_attempts": 1},
        read_timeout=900,
        connect_timeout=5,
        max_pool_connections=64,
    )

    def __init__(
        self,
        lambda_client: Any,
        prefix: str,
        max_workers: int = 64,
        name_of: Callable[[str, str], str] = function_name,
    ) -> None:
        self.client = lambda_client
        self.prefix = prefix
        self.name_of = name_of
        self.pool = ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="invoke")
        self._local = threading.local()
        events = getattr(getattr(lambda_client, "meta", None), "events", None)
        if events is not None:
            events.register("before-sign.lambda.Invoke", self._trace_header)

    def _trace_header(self, request: Any, **_: Any) -> None:
        """Send the task's trace header with its Invoke, as X-Ray's own SDK would, so in
        AWS the function's segment joins the task's trace under the ``invoke`` span."""
        header = parse_header(getattr(self._local, "trace", None))
        if header is not None:
            request.headers["X-Amzn-Trace-Id"] = header.xray()

    def _invoke(self, task_type: TaskType, body: str, env: Envelope) -> Outcome:
        traced, sid = spans.invoking(env)
        start = int(time.time() * 1000)
        outcome = self._call(task_type, body, env, traced.trace)
        spans.invoked(env, sid, start, int(time.time() * 1000), outcome.kind)
        return outcome

    def _call(self, task_type: TaskType, body: str, env: Envelope, trace: str | None) -> Outcome:
        event = {"conveyor": body} if trace is None else {"conveyor": body, "trace": trace}
        self._local.trace = trace
        try:
            response = self.client.invoke(
                FunctionName=self.name_of(self.prefix, task_type.name),
                InvocationType="RequestResponse",
                Payload=json.dumps(event).encode(),
            )
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            if code not in NOT_NOW:
                raise  # the dispatcher retries it (an attempt that began holds its lease)
            reason = f"Lambda did not start the invocation ({code})"
            return Outcome(HOLD, env.task_id, "throttled", delay=NOT_NOW[code], reason=reason)
        payload = response["Payload"].read()
        if response.get("FunctionError"):
            # The attempt may have started: wait out its lease, then it is retaken.
            return Outcome(
                RETRY,
                env.task_id,
                "retryable",
                delay=task_type.timeout + 30,
                reason=f"{INVOCATION_FAILED}: {payload[:200]!r}",
            )
        return Outcome.from_dict(json.loads(payload))

    def submit(self, task_type: TaskType, body: str, env: Envelope) -> Future[Outcome]:
        return self.pool.submit(self._invoke, task_type, body, env)

    def shutdown(self) -> None:
        self.pool.shutdown(wait=True)

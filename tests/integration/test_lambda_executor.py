"""The Lambda executor maps Invoke's "not now" errors to a hold (no attempt spent) and
lets other errors reach the dispatcher, which retries. Invoke is answered by a botocore
hook (moto cannot run Lambda code here)."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from conveyor.envelope import Envelope
from conveyor.runtime.executors import LambdaExecutor
from conveyor.runtime.outcome import HOLD
from tests.support import ledger


@pytest.fixture
def lam(aws):
    return aws.session.client("lambda", region_name="us-east-1")


def failing_invoke(code):
    def hook(**_):
        raise ClientError({"Error": {"Code": code, "Message": "injected"}}, "Invoke")

    return hook


@pytest.mark.parametrize(
    "code", ["TooManyRequestsException", "ResourceConflictException", "EC2ThrottledException"]
)
def test_not_now_errors_hold_the_task(lam, code):
    hook = failing_invoke(code)
    lam.meta.events.register("before-call.lambda.Invoke", hook)
    try:
        executor = LambdaExecutor(lam, "p", max_workers=1)
        env = Envelope("t-1", "work", "default", "normal", "sha", 0, {})
        outcome = executor.submit(ledger.catalog.get("work"), "{}", env).result(timeout=10)
        executor.shutdown()
    finally:
        lam.meta.events.unregister("before-call.lambda.Invoke", hook)
    assert (outcome.action, outcome.kind, outcome.task_id) == (HOLD, "throttled", "t-1")
    assert code in outcome.reason


def test_other_errors_reach_the_dispatcher(lam):
    hook = failing_invoke("ServiceException")
    lam.meta.events.register("before-call.lambda.Invoke", hook)
    try:
        executor = LambdaExecutor(lam, "p", max_workers=1)
        env = Envelope("t-1", "work", "default", "normal", "sha", 0, {})
        future = executor.submit(ledger.catalog.get("work"), "{}", env)
        with pytest.raises(ClientError):
            future.result(timeout=10)
        executor.shutdown()
    finally:
        lam.meta.events.unregister("before-call.lambda.Invoke", hook)

"""The loopback Lambda host, reached by boto3's own ``lambda.invoke``."""

from __future__ import annotations

import json
import textwrap
import threading

import boto3
import pytest
from botocore.config import Config

from conveyor.local.lambda_host import FunctionSpec, LambdaHost

APP = textwrap.dedent(
    """
    import os
    import time

    from aws_lambda_powertools import Logger

    logger = Logger(service="probe")

    @logger.inject_lambda_context
    def echo(event, context):
        print("a print goes to the logs, not into the reply")
        return {"event": event, "greeting": os.environ["GREETING"],
                "name": context.function_name}

    def boom(event, context):
        raise ValueError("no good")

    def slow(event, context):
        time.sleep(event.get("seconds", 1))
        return "slept"

    def dev_only(event, context):
        import moto  # not in Lambda: neither the runtime nor the layer has it
        return "imported"
    """
)

#: A module that takes a second to import: longer than its function's 0.5 s timeout.
SLOW_INIT = textwrap.dedent(
    """
    import time

    time.sleep(1.0)

    def handler(event, context):
        return "initialised"
    """
)


@pytest.fixture(scope="module")
def host(tmp_path_factory):
    code = tmp_path_factory.mktemp("asset")
    (code / "app.py").write_text(APP)
    (code / "slowinit.py").write_text(SLOW_INIT)
    specs = [
        FunctionSpec("echo", "app.echo", code, {"GREETING": "hi"}),
        FunctionSpec("boom", "app.boom", code),
        FunctionSpec("slow", "app.slow", code, timeout=5, reserved_concurrency=1),
        FunctionSpec("timeout", "app.slow", code, timeout=0.5),
        FunctionSpec("dev-only", "app.dev_only", code),
        FunctionSpec("slow-init", "slowinit.handler", code, timeout=0.5),
    ]
    with LambdaHost(specs, env={"AWS_DEFAULT_REGION": "us-east-1"}) as running:
        yield running


@pytest.fixture(scope="module")
def lam(host):
    return boto3.client(
        "lambda",
        region_name="us-east-1",
        endpoint_url=host.endpoint,
        aws_access_key_id="x",
        aws_secret_access_key="x",
        config=Config(retries={"total_max_attempts": 1}, read_timeout=30),
    )


def _invoke(lam, name, event):
    response = lam.invoke(FunctionName=name, Payload=json.dumps(event).encode())
    return response.get("FunctionError"), json.loads(response["Payload"].read())


def test_a_handler_answers_with_its_json_and_its_environment(lam, host):
    error, payload = _invoke(lam, "echo", {"x": 1})
    assert error is None
    assert payload == {"event": {"x": 1}, "greeting": "hi", "name": "echo"}
    cold = host.cold_starts["echo"]
    assert _invoke(lam, "echo", {"x": 2})[1]["event"] == {"x": 2}
    assert host.cold_starts["echo"] == cold  # the warm environment was reused


def test_an_unhandled_exception_is_a_function_error(lam, host):
    error, payload = _invoke(lam, "boom", {})
    assert error == "Unhandled"
    assert payload["errorType"] == "ValueError" and payload["errorMessage"] == "no good"
    assert host.last_error["boom"]["errorMessage"] == "no good"


def test_a_module_lambda_lacks_fails_to_import(lam):
    error, payload = _invoke(lam, "dev-only", {})
    assert error == "Unhandled"
    assert payload["errorType"] == "ModuleNotFoundError"


def test_a_timeout_is_a_function_error_and_the_environment_is_replaced(lam, host):
    error, payload = _invoke(lam, "timeout", {"seconds": 3})
    assert (error, payload["errorType"]) == ("Unhandled", "Sandbox.Timedout")
    assert _invoke(lam, "timeout", {"seconds": 0})[1] == "slept"
    assert host.cold_starts["timeout"] == 2


def test_over_the_reserved_concurrency_lambda_answers_429(lam, host):
    results: list[object] = []

    def call() -> None:
        try:
            results.append(_invoke(lam, "slow", {"seconds": 1.5})[1])
        except lam.exceptions.TooManyRequestsException:
            results.append("throttled")

    threads = [threading.Thread(target=call) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(map(str, results)) == ["slept", "throttled"]
    assert host.throttles["slow"] == 1


def test_an_unknown_function_is_not_found(lam):
    with pytest.raises(lam.exceptions.ResourceNotFoundException):
        _invoke(lam, "nope", {})


def test_the_init_phase_is_not_charged_to_the_first_invocations_timeout(lam, host):
    assert _invoke(lam, "slow-init", {}) == (None, "initialised")
    assert host.cold_starts["slow-init"] == 1


def test_an_init_phase_over_its_limit_fails_the_invocation(lam, host, monkeypatch):
    import conveyor.local.lambda_host as lambda_host

    monkeypatch.setattr(lambda_host, "INIT_TIMEOUT", 0.2)
    with host._lock:  # no warm environment: the next call starts (and times out) a new one
        for environment in host._idle["slow-init"]:
            environment.kill()
        host._idle["slow-init"].clear()
    error, payload = _invoke(lam, "slow-init", {})
    assert (error, payload["errorType"]) == ("Unhandled", "Runtime.InitTimeout")


EXIT_APP = textwrap.dedent(
    """
    import atexit
    import os
    import pathlib

    def note_exit(event, context):
        where = os.environ["CONVEYOR_REQUEST_LOG"]
        atexit.register(lambda: pathlib.Path(where, "exited").write_text(context.function_name))
        return where
    """
)


def test_environments_inherit_the_request_log_and_exit_cleanly_on_stop(tmp_path, monkeypatch):
    """The independent request count reaches every environment, and stopping the host
    ends them so their exit hooks run (a cost meter's last flush, the count's last write)."""
    code = tmp_path / "asset"
    code.mkdir()
    (code / "app.py").write_text(EXIT_APP)
    log_dir = tmp_path / "requests"
    log_dir.mkdir()
    monkeypatch.setenv("CONVEYOR_REQUEST_LOG", str(log_dir))
    host = LambdaHost([FunctionSpec("note", "app.note_exit", code)]).start()
    try:
        status, reply = host.invoke("note", {})
        assert (status, reply) == (200, {"result": str(log_dir)})
        assert not (log_dir / "exited").exists()  # still warm
    finally:
        host.stop()
    assert (log_dir / "exited").read_text() == "note"

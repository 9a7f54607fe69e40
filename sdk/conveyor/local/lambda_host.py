"""A loopback Lambda host: the Lambda Invoke API on 127.0.0.1, running deployed handlers.

moto's Lambda cannot run code here (no docker), so this small HTTP server answers
``POST /2015-03-31/functions/{name}/invocations`` the way Lambda does, and boto3's own
``lambda.invoke`` reaches it through ``AWS_ENDPOINT_URL_LAMBDA``:

* ``RequestResponse``: 200 with the handler's JSON; an unhandled exception (or an import
  error, a crash, a timeout) is 200 with ``X-Amz-Function-Error: Unhandled`` and Lambda's
  error document; ``Event``: 202, run in the background; ``DryRun``: 204.
* More concurrent invocations of a function than its reserved concurrency (or the host's
  ``max_environments`` when none is reserved) get 429 ``TooManyRequestsException``.
* Each function runs in worker subprocesses (execution environments, reused while warm)
  started as ``python -S`` in the function's asset directory, with ``PYTHONPATH`` = asset
  + ``layer`` only: what Lambda's runtime (boto3) and the Powertools layer provide, no
  site-packages. The environment is the function's own plus the host's ``env`` (AWS
  settings, e.g. the dev cloud's endpoint) and Lambda's reserved variables.

Counters (``invocations``, ``errors``, ``throttles``, ``cold_starts``, by function) make
runs assertable; ``last_error`` keeps each function's latest error document.
``stop()`` ends every environment.
"""

from __future__ import annotations

import importlib.util
import json
import os
import select
import subprocess
import sys
import tempfile
import threading
import uuid
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from .devcloud import LOOPBACK

#: What Lambda's Python runtime and the Powertools layer put on the import path.
LAYER_MODULES = (
    "boto3",
    "botocore",
    "s3transfer",
    "jmespath",
    "dateutil",
    "urllib3",
    "six",
    "aws_lambda_powertools",
    "aws_xray_sdk",
    "wrapt",
    "typing_extensions",
)
INVOKE_PREFIX = "/2015-03-31/functions/"
NOT_FOUND = "ResourceNotFoundException"
THROTTLED = "TooManyRequestsException"
BAD_CONTENT = "InvalidRequestContentException"
#: Seconds an environment may take to import its handler (Lambda's init phase limit is
#: 10 s); like Lambda, the init phase is not charged to the first invocation's timeout.
INIT_TIMEOUT = 10.0


@dataclass(frozen=True)
class FunctionSpec:
    """One deployed function: ``handler`` is ``module.attr`` inside ``code_dir``."""

    name: str
    handler: str
    code_dir: Path
    environment: Mapping[str, str] = field(default_factory=dict)
    timeout: float = 30.0
    memory_mb: int = 128
    reserved_concurrency: int | None = None


def build_layer(out_dir: Path, modules: Iterable[str] = LAYER_MODULES) -> Path:
    """Symlink ``modules`` (from this interpreter's packages) into ``out_dir``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    for name in modules:
        spec = importlib.util.find_spec(name)
        if spec is None or spec.origin is None:
            raise ModuleNotFoundError(f"{name} is needed for the Lambda layer")
        origin = Path(spec.origin)
        source = origin.parent if origin.name == "__init__.py" else origin
        target = out_dir / source.name
        if not target.exists():
            target.symlink_to(source, target_is_directory=source.is_dir())
    return out_dir


class _Environment:
    """One execution environment: a worker process serving one invocation at a time."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        self.proc = proc

    def await_init(self, limit: float) -> dict[str, Any] | None:
        """Wait for the runtime's ``{"ready": ...}`` line, written once the handler module
        is imported (or failed to import: that error is reported by each invocation).
        Returns an error document when the init phase ran over ``limit`` seconds or the
        runtime exited, None when the environment is ready."""
        assert self.proc.stdout is not None
        ready, _, _ = select.select([self.proc.stdout], [], [], limit)
        if not ready:
            self.kill()
            message = f"Init phase timed out after {limit:.2f} seconds"
            return _failure("Runtime.InitTimeout", message)
        if not self.proc.stdout.readline():
            self.kill()
            return _failure("Runtime.ExitError", "the runtime exited during init")
        return None

    def invoke(self, event: Any, timeout: float) -> dict[str, Any]:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        request = {"event": event, "request_id": str(uuid.uuid4()), "timeout_ms": timeout * 1000}
        self.proc.stdin.write(json.dumps(request) + "\n")
        self.proc.stdin.flush()
        ready, _, _ = select.select([self.proc.stdout], [], [], timeout)
        if not ready:
            self.kill()
            return _failure("Sandbox.Timedout", f"Task timed out after {timeout:.2f} seconds")
        line = self.proc.stdout.readline()
        if not line:
            self.kill()
            return _failure("Runtime.ExitError", "the runtime exited")
        reply: dict[str, Any] = json.loads(line)
        return reply

    def alive(self) -> bool:
        return self.proc.poll() is None

    def close(self, timeout: float = 5.0) -> None:
        """End the environment the way its runtime expects (no more invocations: its
        interpreter exits and runs its exit hooks, e.g. a last cost-meter flush); killed
        when it has not exited after ``timeout`` seconds."""
        if self.proc.poll() is None and self.proc.stdin is not None:
            try:
                self.proc.stdin.close()
                self.proc.wait(timeout)
            except (OSError, subprocess.TimeoutExpired):
                pass
        self.kill()

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        for stream in (self.proc.stdin, self.proc.stdout):
            if stream is not None:
                stream.close()


def _passed_on() -> dict[str, str]:
    """The host's settings every environment inherits: the independent request count."""
    from ..aws.requestlog import REQUEST_LOG_ENV

    value = os.environ.get(REQUEST_LOG_ENV)
    return {REQUEST_LOG_ENV: value} if value else {}


def _failure(kind: str, message: str) -> dict[str, Any]:
    return {"error": {"errorType": kind, "errorMessage": message, "stackTrace": []}}


class LambdaHost:
    def __init__(
        self,
        functions: Iterable[FunctionSpec],
        *,
        env: Mapping[str, str] | None = None,
        max_environments: int = 4,
        layer_dir: Path | None = None,
        python: str = sys.executable,
        port: int = 0,
    ) -> None:
        self.functions = {f.name: f for f in functions}
        self.env = dict(env or {})
        self.max_environments = max_environments
        self.python = python
        self.port = port
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        self.layer_dir = layer_dir
        self.invocations: Counter[str] = Counter()
        self.errors: Counter[str] = Counter()
        self.throttles: Counter[str] = Counter()
        self.cold_starts: Counter[str] = Counter()
        #: The last error document of each function (errorType, errorMessage, stackTrace).
        self.last_error: dict[str, dict[str, Any]] = {}
        self._idle: dict[str, list[_Environment]] = {name: [] for name in self.functions}
        self._busy: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._source = (Path(__file__).parent / "lambda_runtime.py").read_text()

    @property
    def endpoint(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    # -- lifecycle ------------------------------------------------------------------------

    def start(self) -> LambdaHost:
        if self.layer_dir is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="conveyor-layer-")
            self.layer_dir = build_layer(Path(self._tmp.name))
        host = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                host._serve(self)

            def log_message(self, *args: Any) -> None:
                return

        self._server = ThreadingHTTPServer((LOOPBACK, self.port), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(
            target=self._server.serve_forever, daemon=True, name="lambda-host"
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        with self._lock:
            idle = [e for envs in self._idle.values() for e in envs]
            for envs in self._idle.values():
                envs.clear()
        for environment in idle:
            environment.close()
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    def __enter__(self) -> LambdaHost:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- invocation -----------------------------------------------------------------------

    def limit(self, name: str) -> int:
        reserved = self.functions[name].reserved_concurrency
        return reserved if reserved is not None else self.max_environments

    def invoke(self, name: str, event: Any) -> tuple[int, dict[str, Any] | None]:
        """Run one invocation: (200, reply) or (429, None) when at the concurrency limit.
        ``reply`` is ``{"result": ...}`` or ``{"error": {...}}``."""
        spec = self.functions[name]
        with self._lock:
            if self._busy[name] >= self.limit(name):
                self.throttles[name] += 1
                return 429, None
            self._busy[name] += 1
            self.invocations[name] += 1
            environment = self._idle[name].pop() if self._idle[name] else None
        try:
            failed = None
            if environment is None:
                environment = self._spawn(spec)
                failed = environment.await_init(INIT_TIMEOUT)
            reply = failed or environment.invoke(event, spec.timeout)
        finally:
            with self._lock:
                self._busy[name] -= 1
                if environment is not None and environment.alive() and self._server:
                    self._idle[name].append(environment)
                elif environment is not None:
                    environment.kill()
        if "error" in reply:
            with self._lock:
                self.errors[name] += 1
                self.last_error[name] = reply["error"]
        return 200, reply

    def _spawn(self, spec: FunctionSpec) -> _Environment:
        assert self.layer_dir is not None
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "LANG": "C.UTF-8",
            **self.env,
            **spec.environment,
            **_passed_on(),
            "PYTHONPATH": os.pathsep.join([str(spec.code_dir), str(self.layer_dir)]),
            "PYTHONDONTWRITEBYTECODE": "1",
            "_HANDLER": spec.handler,
            "LAMBDA_TASK_ROOT": str(spec.code_dir),
            "AWS_LAMBDA_FUNCTION_NAME": spec.name,
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(spec.memory_mb),
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_EXECUTION_ENV": "AWS_Lambda_python3.13",
        }
        env.setdefault("AWS_REGION", env.get("AWS_DEFAULT_REGION", "us-east-1"))
        proc = subprocess.Popen(
            [self.python, "-S", "-c", self._source],
            cwd=spec.code_dir,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=None if os.environ.get("CONVEYOR_LAMBDA_LOGS") else subprocess.DEVNULL,
            text=True,
        )
        with self._lock:
            self.cold_starts[spec.name] += 1
        return _Environment(proc)

    # -- HTTP -----------------------------------------------------------------------------

    def _serve(self, request: BaseHTTPRequestHandler) -> None:
        path = request.path.split("?", 1)[0]
        length = int(request.headers.get("Content-Length") or 0)
        body = request.rfile.read(length) if length else b""
        if not (path.startswith(INVOKE_PREFIX) and path.endswith("/invocations")):
            return _reply(request, 404, {"message": "unknown path"}, NOT_FOUND)
        name = path[len(INVOKE_PREFIX) : -len("/invocations")].rsplit(":function:", 1)[-1]
        name = name.split(":", 1)[0]
        if name not in self.functions:
            return _reply(
                request,
                404,
                {"message": f"Function not found: {name}"},
                NOT_FOUND,
            )
        try:
            event = json.loads(body) if body else {}
        except ValueError:
            return _reply(request, 400, {"message": "payload is not JSON"}, BAD_CONTENT)
        kind = request.headers.get("X-Amz-Invocation-Type", "RequestResponse")
        if kind == "DryRun":
            return _reply(request, 204, None)
        if kind == "Event":
            threading.Thread(target=self.invoke, args=(name, event), daemon=True).start()
            return _reply(request, 202, None)
        status, reply = self.invoke(name, event)
        if status == 429 or reply is None:
            return _reply(
                request,
                429,
                {"Type": "User", "message": "Rate Exceeded."},
                "TooManyRequestsException",
            )
        if "error" in reply:
            return _reply(request, 200, reply["error"], function_error="Unhandled")
        return _reply(request, 200, reply["result"])


def _reply(
    request: BaseHTTPRequestHandler,
    status: int,
    document: Any,
    error_type: str = "",
    function_error: str = "",
) -> None:
    data = b"" if status in (202, 204) else json.dumps(document).encode()
    request.send_response(status)
    request.send_header("Content-Type", "application/json")
    request.send_header("Content-Length", str(len(data)))
    request.send_header("X-Amz-Executed-Version", "$LATEST")
    if error_type:
        request.send_header("x-amzn-ErrorType", error_type)
    if function_error:
        request.send_header("X-Amz-Function-Error", function_error)
    try:
        request.end_headers()
        request.wfile.write(data)
    except OSError:  # the caller went away (e.g. killed): the invocation still happened
        request.close_connection = True


__all__ = ["INIT_TIMEOUT", "LAYER_MODULES", "FunctionSpec", "LambdaHost", "build_layer"]

"""The inside of one local Lambda execution environment (run by ``lambda_host``).

The host starts ``python -S -c <this file's source>`` with the function's asset directory
as working directory and ``PYTHONPATH`` = asset + layer (boto3 and the Powertools layer
only: no site-packages), so an import that would fail in Lambda fails here too. It
imports the handler once (the cold start) and writes one ``{"ready": ...}`` line, then
serves invocations one at a time over its stdin/stdout: one JSON line in
(``{"event", "request_id", "timeout_ms"}``), one JSON line out (``{"result"}`` or
``{"error": {errorType, errorMessage, stackTrace}}``).
Anything the handler prints goes to stderr. Standard library only.
"""

from __future__ import annotations

import importlib
import json
import os
import sys
import time
import traceback
from typing import Any


class LambdaContext:
    """The attributes Powertools and handlers read from Lambda's context object."""

    def __init__(self, request_id: str, timeout_ms: int) -> None:
        self.function_name = os.environ.get("AWS_LAMBDA_FUNCTION_NAME", "local")
        self.function_version = "$LATEST"
        self.memory_limit_in_mb = int(os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128"))
        region = os.environ.get("AWS_REGION", "us-east-1")
        self.invoked_function_arn = (
            f"arn:aws:lambda:{region}:000000000000:function:{self.function_name}"
        )
        self.aws_request_id = request_id
        self.log_group_name = f"/aws/lambda/{self.function_name}"
        self.log_stream_name = "local"
        self._deadline = time.monotonic() + timeout_ms / 1000

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def _error(kind: str, exc: BaseException) -> dict[str, Any]:
    return {
        "errorType": kind or type(exc).__name__,
        "errorMessage": str(exc),
        "stackTrace": traceback.format_exception(exc)[-8:],
    }


def _load(spec: str) -> Any:
    module_name, _, attr = spec.rpartition(".")
    return getattr(importlib.import_module(module_name), attr)


def main() -> None:
    protocol = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)  # the handler's prints and logs go to stderr
    sys.stdout = sys.stderr
    try:
        handler, init_error = _load(os.environ["_HANDLER"]), None
    except BaseException as exc:  # reported on every invocation, as Lambda does
        handler, init_error = None, _error("Runtime.ImportModuleError", exc)
    protocol.write(json.dumps({"ready": init_error is None}) + "\n")
    for line in sys.stdin:
        request = json.loads(line)
        if init_error is not None:
            reply: dict[str, Any] = {"error": init_error}
        else:
            try:
                context = LambdaContext(request["request_id"], request["timeout_ms"])
                result = handler(request["event"], context)
                reply = {"result": result}
            except Exception as exc:
                reply = {"error": _error("", exc)}
        try:
            text = json.dumps(reply)
        except (TypeError, ValueError) as exc:
            text = json.dumps({"error": _error("Runtime.MarshalError", exc)})
        protocol.write(text + "\n")


if __name__ == "__main__":
    main()

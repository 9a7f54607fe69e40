"""A stand-in for boto3's Lambda client: ``invoke`` runs the real Lambda entry
(``conveyor.runtime.lambda_entry.make_handler``) in this process, and counts one Invoke.

moto cannot run function code here (no docker), so this is how the bench and the
accounting tests put the deployed entry -- Powertools decorators, runner, adapters --
behind the dispatcher's ``LambdaExecutor``.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

CONTEXT = SimpleNamespace(
    function_name="bench",
    memory_limit_in_mb=512,
    invoked_function_arn="arn:aws:lambda:us-east-1:123456789012:function:bench",
    aws_request_id="bench",
)


class TooManyRequestsException(Exception):
    """Never raised here; the executor catches it by this name."""


class InProcessLambda:
    exceptions = SimpleNamespace(TooManyRequestsException=TooManyRequestsException)

    def __init__(self, handler: Callable[[dict[str, Any], Any], Any], counter: Any) -> None:
        self.handler = handler
        self.counter = counter

    def invoke(self, *, FunctionName: str, Payload: bytes, **_: Any) -> dict[str, Any]:  # noqa: N803
        """As Lambda does: an exception in the function is a 200 with ``FunctionError``."""
        self.counter.add("lambda", "Invoke", {"lambda_requests": 1})
        try:
            result = self.handler(json.loads(Payload), CONTEXT)
        except Exception as exc:
            error = {"errorMessage": str(exc), "errorType": type(exc).__name__}
            return {
                "StatusCode": 200,
                "FunctionError": "Unhandled",
                "Payload": io.BytesIO(json.dumps(error).encode()),
            }
        return {"StatusCode": 200, "Payload": io.BytesIO(json.dumps(result).encode())}

"""ECS task scale-in protection: a busy Fargate worker asks ECS not to stop it.

The ECS agent serves ``$ECS_AGENT_URI/task-protection/v1/state`` inside the task; with
protection on, neither scale-in nor a deployment stops the task until it is turned off or
expires. This is what lets a long task finish across an upgrade (the seed's "smooth
upgrade"). Without ``ECS_AGENT_URI`` (the dev cloud) it does nothing.
"""

from __future__ import annotations

import json
import os
import urllib.request
from typing import Any


class TaskProtection:
    def __init__(
        self, agent_uri: str | None = None, *, expires_minutes: int = 120, timeout: float = 2.0
    ) -> None:
        self.agent_uri = agent_uri if agent_uri is not None else os.environ.get("ECS_AGENT_URI")
        self.expires_minutes = expires_minutes
        self.timeout = timeout
        self.enabled: bool | None = None

    def set(self, enabled: bool) -> dict[str, Any] | None:
        """Turn protection on or off; a repeated call with the same value is skipped."""
        if not self.agent_uri or self.enabled == enabled:
            return None
        body: dict[str, Any] = {"ProtectionEnabled": enabled}
        if enabled:
            body["ExpiresInMinutes"] = self.expires_minutes
        request = urllib.request.Request(
            f"{self.agent_uri}/task-protection/v1/state",
            data=json.dumps(body).encode(),
            method="PUT",
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=self.timeout) as response:
            answer: dict[str, Any] = json.loads(response.read() or b"{}")
        self.enabled = enabled
        return answer

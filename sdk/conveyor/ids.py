"""Task IDs and tenant names: what is allowed, and generated sortable IDs.

A task ID is 1..128 characters from ``[A-Za-z0-9._:-]`` (safe in a DynamoDB key, an SQS
attribute, an S3 key, a Scheduler name after mapping, a URL path and a log line). A
generated ID is a ULID: 26 characters, lexicographically sorted by creation time.

A tenant is 1..64 characters from ``[A-Za-z0-9._-]`` and starts with a letter or digit.
"""

from __future__ import annotations

import re

from ulid import ULID

from .errors import InvalidTaskId, InvalidTenant

TASK_ID_MAX = 128
TASK_ID_RE = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")
TENANT_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._\-]{0,63}$")
DEFAULT_TENANT = "default"


def new_task_id(now_ms: int | None = None) -> str:
    """A fresh ULID; ``now_ms`` (epoch ms) pins its time part, for tests and replays."""
    if now_ms is None:
        return str(ULID())
    return str(ULID.from_timestamp(now_ms / 1000))


def validate_task_id(task_id: object) -> str:
    if not isinstance(task_id, str):
        raise InvalidTaskId(f"task ID must be a string, got {type(task_id).__name__}")
    if not task_id:
        raise InvalidTaskId("task ID is empty: pass a non-empty ID, or none to get a ULID")
    if len(task_id) > TASK_ID_MAX:
        raise InvalidTaskId(
            f"task ID is {len(task_id)} characters long; the maximum is {TASK_ID_MAX}"
        )
    if not TASK_ID_RE.match(task_id):
        raise InvalidTaskId(
            f"task ID {task_id!r} has characters outside [A-Za-z0-9._:-]; "
            "hash or encode other identifiers first"
        )
    return task_id


def validate_tenant(tenant: object) -> str:
    if not isinstance(tenant, str):
        raise InvalidTenant(f"tenant must be a string, got {type(tenant).__name__}")
    if not tenant:
        raise InvalidTenant(f"tenant is empty: omit it to use {DEFAULT_TENANT!r}")
    if not TENANT_RE.match(tenant):
        raise InvalidTenant(
            f"tenant {tenant!r} is malformed: 1-64 characters from [A-Za-z0-9._-], "
            "starting with a letter or digit"
        )
    return tenant

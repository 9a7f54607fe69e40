"""Task IDs and tenant names: what is allowed, and generated sortable IDs.

A task ID is 1..128 characters from ``[A-Za-z0-9._:-]`` (safe in a DynamoDB key, an SQS
attribute, an S3 key, a Scheduler name after mapping, a URL path and a log line). A
generated ID is a ULID: 26 characters, lexicographically sorted by creation time.

A tenant is 1..64 characters from ``[A-Za-z0-9._-]`` and starts with a letter or digit.
"""

from __future__ import annotations

import os
import re
import time

from .errors import InvalidTaskId, InvalidTenant

TASK_ID_MAX = 128
#: Anchored with ``\A``/``\Z`` (never ``$``, which also matches before a final newline).
TASK_ID_RE = re.compile(r"\A[A-Za-z0-9._:\-]{1,128}\Z")
TENANT_RE = re.compile(r"\A[A-Za-z0-9][A-Za-z0-9._\-]{0,63}\Z")
DEFAULT_TENANT = "default"


_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def new_task_id(now_ms: int | None = None, entropy: bytes | None = None) -> str:
    """A ULID: 48-bit epoch-ms time then 80 random bits, 26 Crockford base-32 characters,
    so IDs sort by creation time. ``now_ms`` and ``entropy`` (10 bytes) pin it for tests.

    Written here (it is a dozen lines) rather than taken from a package, so the Lambda
    asset needs nothing beyond the runtime's boto3 and the Powertools layer."""
    ms = int(time.time() * 1000) if now_ms is None else int(now_ms)
    if not 0 <= ms < 1 << 48:
        raise ValueError(f"ULID time {ms} is out of range")
    rand = os.urandom(10) if entropy is None else entropy
    if len(rand) != 10:
        raise ValueError("ULID entropy must be 10 bytes")
    value = (ms << 80) | int.from_bytes(rand, "big")
    return "".join(_CROCKFORD[(value >> shift) & 31] for shift in range(125, -1, -5))


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

"""Make moto's DynamoDB writes atomic, as DynamoDB's are.

moto serves requests on many threads and does not lock around a conditional write: two
racing ``UpdateItem ... ConditionExpression`` calls can both pass the check before either
writes (seen: a duplicate delivery of one task started twice). DynamoDB guarantees that
at most one wins, and Conveyor's succeed-once relies on it. The dev cloud's moto server
(and the in-process moto of the tests) therefore handles DynamoDB requests one at a
time, reads included: moto's Query, Scan and BatchGetItem iterate the table's dicts and
raise "dictionary changed size during iteration" when a write lands mid-read. This
changes moto, never Conveyor's own code paths.
"""

from __future__ import annotations

import functools
import threading
from typing import Any

_LOCK = threading.RLock()
_PATCHED = False
_METHODS = (
    "put_item",
    "update_item",
    "delete_item",
    "get_item",
    "batch_get_item",
    "query",
    "scan",
    "transact_write_items",
    "batch_write_item",
)


def make_dynamodb_atomic() -> None:
    """Idempotent: wraps moto's DynamoDB backend methods with one re-entrant lock."""
    global _PATCHED
    if _PATCHED:
        return
    from moto.dynamodb.models import DynamoDBBackend
    from moto.dynamodb.responses import DynamoHandler

    # UpdateItem's whole request, not only the backend call: moto's handler deep-copies
    # the stored item after the backend returns it, racing a concurrent write's changes.
    targets = [(DynamoHandler, "update_item")] + [(DynamoDBBackend, n) for n in _METHODS]
    for owner, name in targets:
        original = getattr(owner, name, None)
        if original is None:
            continue

        @functools.wraps(original)
        def locked(self: Any, *args: Any, __original: Any = original, **kwargs: Any) -> Any:
            with _LOCK:
                return __original(self, *args, **kwargs)

        setattr(owner, name, locked)
    _PATCHED = True


def main() -> None:
    """``python -m conveyor.local.atomic -H 127.0.0.1 -p PORT``: moto server, patched."""
    make_dynamodb_atomic()
    from moto.server import main as moto_main

    moto_main()


if __name__ == "__main__":
    main()

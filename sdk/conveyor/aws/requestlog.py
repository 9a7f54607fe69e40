"""An independent count of every AWS request a deployment's processes make, on disk.

When ``CONVEYOR_REQUEST_LOG`` names a directory, every boto3 client an ``AwsClients``
builds in the process (SDK, dispatcher, workers, local Lambda environments) gets one more
``after-call`` hook: a plain ``RequestCounter`` (the cost bench's count: same billing
rules, with the table's by-type index; no attribution, no ledger), one per process. The
process keeps its cumulative totals in its own file, ``<dir>/<host>-<pid>-<random>.json``,
rewritten atomically (temp file + rename) at most once a second after a request and once
more at interpreter exit.

This is the other side of ``conveyor cost``'s agreement check: the cost ledger is built
from ``AttributingCounter`` -> ``CostMeter`` -> the table; this count never touches any of
them, so a process that does not meter, a lost flush or a mis-attributed unit shows up as
a difference. A process killed with SIGKILL loses at most its last second of requests.
"""

from __future__ import annotations

import atexit
import json
import os
import secrets
import socket
import threading
import time
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .accounting import RequestCounter
from .store import GSI_KEYS

#: Env var: the directory every process appends its request count to (unset: no count).
REQUEST_LOG_ENV = "CONVEYOR_REQUEST_LOG"
#: Seconds between two rewrites of a process's file while it makes requests.
WRITE_EVERY = 1.0


class _SchemaCounter(RequestCounter):
    """The bench's count for Conveyor's one table layout: an item with the index's keys
    (every task item; no control item) is also written to the by-type index."""

    def _indexes(self, table: str, item: Mapping[str, Any]) -> int:
        return 1 if all(k in item for k in GSI_KEYS) else 0


class RequestLog:
    """One process's count and its file. Thread-safe; ``attach`` any number of clients."""

    def __init__(self, directory: str | Path, *, write_every: float = WRITE_EVERY) -> None:
        self.directory = Path(directory)
        self.name = f"{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(4)}"
        self.path = self.directory / f"{self.name}.json"
        self.counter = _SchemaCounter()
        self.write_every = write_every
        self._written_at = 0.0
        self._lock = threading.Lock()

    def attach(self, client: Any) -> Any:
        self.counter.attach(client)
        client.meta.events.register("after-call.*.*", self._after, unique_id=f"reqlog-{id(self)}")
        return client

    def _after(self, **_: Any) -> None:
        if time.monotonic() - self._written_at >= self.write_every:
            self.write()

    def write(self) -> bool:
        """Rewrite this process's file with its totals so far; False when it could not."""
        with self._lock:
            requests, units = self.counter.snapshot()
            doc = {
                "process": self.name,
                "pid": os.getpid(),
                "requests": {f"{s}:{op}": n for (s, op), n in sorted(requests.items())},
                "units": units,
            }
            try:
                self.directory.mkdir(parents=True, exist_ok=True)
                spare = self.path.with_suffix(".tmp")
                spare.write_text(json.dumps(doc, separators=(",", ":")), encoding="utf-8")
                os.replace(spare, self.path)
            except OSError:
                return False
            self._written_at = time.monotonic()
            return True


@dataclass
class Tally:
    """Every process's totals in one directory."""

    processes: int = 0
    requests: int = 0
    by_op: dict[str, int] = field(default_factory=dict)
    units: dict[str, float] = field(default_factory=dict)


def read(directory: str | Path) -> Tally:
    """Sum the processes' files in ``directory`` (files being rewritten are complete: they
    are renamed into place)."""
    by_op: defaultdict[str, int] = defaultdict(int)
    units: defaultdict[str, float] = defaultdict(float)
    processes = 0
    for path in sorted(Path(directory).glob("*.json")):
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        processes += 1
        for op, n in (doc.get("requests") or {}).items():
            by_op[op] += int(n)
        for unit, amount in (doc.get("units") or {}).items():
            units[unit] += float(amount)
    return Tally(processes, sum(by_op.values()), dict(by_op), dict(units))


_log: RequestLog | None = None
_log_lock = threading.Lock()


def current(env: Mapping[str, str] = os.environ) -> RequestLog | None:
    """This process's log when ``CONVEYOR_REQUEST_LOG`` is set (made on first use, and
    written once more at exit); None otherwise."""
    global _log
    directory = env.get(REQUEST_LOG_ENV)
    if not directory:
        return None
    with _log_lock:
        if _log is None or _log.directory != Path(directory):
            _log = RequestLog(directory)
            atexit.register(_log.write)
        return _log


def flush() -> bool:
    """Write this process's totals now (before reading the directory in the same
    process); True when there was a log to write."""
    log = _log
    return log.write() if log is not None else False

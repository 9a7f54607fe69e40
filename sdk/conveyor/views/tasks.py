"""The tasks screen and one task's page: a filtered, paginated listing and a detail view.

The listing is one store page per request (``Conveyor.list``: a GSI query when a type is
given, else one scan page), never the whole table. ``tag`` filters that page, so a page
can hold fewer rows than ``limit`` while ``cursor`` still says there is more.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..errors import InvalidOption
from ..model import TaskRecord
from ..payload import decode
from .timeline import Timeline, build_timeline

PREVIEW_BYTES = 4096


@dataclass(frozen=True, slots=True)
class TaskQuery:
    """Filters of the tasks screen; empty strings mean "any"."""

    task_type: str | None = None
    state: str | None = None
    tenant: str | None = None
    tag: str | None = None
    cursor: str | None = None
    limit: int = 50

    @classmethod
    def from_params(cls, params: Mapping[str, str]) -> TaskQuery:
        def opt(name: str) -> str | None:
            value = (params.get(name) or "").strip()
            return value or None

        try:
            limit = int(params.get("limit") or 50)
        except ValueError:
            raise InvalidOption(f"limit must be a whole number, got {params['limit']!r}") from None
        state = opt("state")
        return cls(
            opt("type"),
            state.upper() if state else None,
            opt("tenant"),
            opt("tag"),
            opt("cursor"),
            limit,
        )

    def params(self, **override: str | None) -> dict[str, str]:
        """Query parameters for a link (None values dropped)."""
        base = {
            "type": self.task_type,
            "state": self.state,
            "tenant": self.tenant,
            "tag": self.tag,
            "cursor": self.cursor,
        }
        base.update(override)
        return {k: v for k, v in base.items() if v}


@dataclass(frozen=True, slots=True)
class TaskPage:
    query: TaskQuery
    records: list[TaskRecord]
    cursor: str | None


def list_tasks(client: Any, query: TaskQuery) -> TaskPage:
    page = client.list(
        task_type=query.task_type,
        state=query.state,
        tenant=query.tenant,
        limit=query.limit,
        cursor=query.cursor,
    )
    records = [r for r in page.records if query.tag is None or query.tag in r.tags]
    return TaskPage(query, records, page.cursor)


@dataclass(frozen=True, slots=True)
class TaskDetail:
    record: TaskRecord
    timeline: Timeline
    payload_preview: str | None
    payload_note: str
    result_preview: str | None


def _preview(value: Any) -> str:
    text = json.dumps(value, indent=2, default=str, ensure_ascii=False)
    return text if len(text) <= PREVIEW_BYTES else text[:PREVIEW_BYTES] + "\n… (truncated)"


def _stored(client: Any, key: str) -> str:
    try:
        return _preview(decode(client.payloads.get(key)))
    except Exception as exc:
        return f"(could not read {key}: {type(exc).__name__}: {exc})"


def task_detail(
    client: Any, task: str | TaskRecord, now_ms: int, dlq_body: str | None = None
) -> TaskDetail:
    """One task (by ID, or its record already read), its timeline, and previews of its
    payload and result (each at most ``PREVIEW_BYTES`` characters). A payload is only
    readable when it was offloaded to S3 or when the task's DLQ entry (``dlq_body``) still
    holds its envelope."""
    record = client.get(task) if isinstance(task, str) else task
    payload_preview = None
    note = "the payload travels in the lane message; the record keeps its size and SHA-256"
    if record.payload_ref:
        payload_preview = _stored(client, record.payload_ref)
        note = f"offloaded to {record.payload_ref}"
    elif dlq_body:
        try:
            payload_preview = _preview(json.loads(dlq_body).get("payload"))
            note = "from the task's DLQ entry"
        except (ValueError, AttributeError):
            payload_preview = None
    result = None
    if record.result_ref:
        result = _stored(client, record.result_ref)
    elif record.result is not None:
        result = _preview(record.result)
    return TaskDetail(record, build_timeline(record, now_ms), payload_preview, note, result)

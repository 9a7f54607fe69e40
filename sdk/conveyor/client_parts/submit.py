"""Submitting tasks.

Write path of ``submit`` (requests in brackets):
  admit (pure) -> conditional PutItem [1] -> S3 PutObject if > 192 KiB [0-1]
  -> SendMessage [1] (or a one-time Scheduler ``at()`` schedule if > 15 min ahead).
If the send fails the record is deleted again, so a failed submit leaves nothing behind
(unless that delete fails too: the error says so).

A PutItem whose reply was lost and that botocore sent again meets its own item: the
store recognises it (``DynamoTaskStore.create``) and the task is sent as created.

A producer that dies between the PutItem and the send leaves a QUEUED record with no
message. Re-submitting the same ID and payload repairs it: a duplicate whose record was
never started gets its message sent again (its payload re-stored first if offloaded) --
at once if this process's own submit of that ID raised lately (``Unsettled``), else once
it is older than a short grace (``resubmit_repairs``). A task the reconciler failed as
lost (its inline payload went with its message) is put back to QUEUED and sent with the
re-submitted payload. That costs requests only on those paths; the happy path stays
1 PutItem + 1 send, and a duplicate of a healthy task 1 PutItem.
"""

from __future__ import annotations

import logging
import secrets
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from .. import tracing
from ..admission import Admitted, SubmitRequest, admit, admit_many
from ..envelope import Envelope
from ..errors import ConveyorError, Overloaded, TaskConflict
from ..model import TaskRecord, TaskState
from ..policy.reconcile import is_lost, resubmit_repairs
from ..ports import OutMessage, now_ms
from .base import ClientBase, Submission

_log = logging.getLogger("conveyor")


class SubmitPart(ClientBase):
    def submit(
        self,
        task_type: str,
        payload: Any = None,
        *,
        task_id: str | None = None,
        tenant: str | None = None,
        priority: str | None = None,
        delay: float | timedelta | None = None,
        at: datetime | None = None,
        ttl: float | timedelta | str | None = None,
        tags: Sequence[str] = (),
        window: int | None = None,
    ) -> Submission:
        """Submit one task. Same ID + same payload returns the existing task (``duplicate``)
        and enqueues nothing; same ID + different payload or type raises TaskConflict.

        ``delay``/``at`` up to 15 minutes ahead ride on SQS; further ahead (or with a
        ``window`` of flexible minutes, for off-peak work) the task is SCHEDULED and an
        EventBridge Scheduler one-time schedule enqueues it. ``at`` in the past runs now."""
        request = SubmitRequest(
            task_type, payload, task_id, tenant, priority, delay, at, ttl, tags, window
        )
        admitted = self._place(admit(self.catalog, self.topology, request, now_ms(self.clock)))
        task_id = admitted.record.task_id
        try:
            result = self._submit_one(admitted)
        except TaskConflict:
            raise
        except Exception:
            self.unsettled.add([task_id], now_ms(self.clock))
            raise
        self.unsettled.discard([task_id])
        return result

    def _submit_one(self, admitted: Admitted) -> Submission:
        task_id = admitted.record.task_id
        result = self._create(admitted)
        if result.status == "conflict":
            raise TaskConflict(result.error or "conflict")
        if result.created:
            self._store_payloads([admitted])
            failed, kept = self._enqueue([admitted])
            if failed:
                raise ConveyorError(
                    f"task {task_id!r} could not be enqueued; "
                    + ("its record may remain: submit it again" if kept else "nothing was kept")
                )
            return result
        failed, revived = self._repair([(admitted, result)])
        if failed:
            raise ConveyorError(
                f"task {task_id!r} exists but was never sent, and sending it again failed; "
                "submit it again"
            )
        return revived.get(task_id, result)

    def submit_many(
        self, requests: Iterable[SubmitRequest | Mapping[str, Any]]
    ) -> list[Submission]:
        """Submit many tasks: one conditional write each (in parallel), SQS batches of 10.

        The whole batch is validated first; any bad request raises and writes nothing.
        Results come back in request order, one ``Submission`` each.
        """
        reqs = [r if isinstance(r, SubmitRequest) else SubmitRequest(**r) for r in requests]
        every = admit_many(self.catalog, self.topology, reqs, now_ms(self.clock))
        order = [item.record.task_id for item in every]
        admitted: list[Admitted] = []
        refused: dict[str, Submission] = {}
        for item in every:
            try:
                admitted.append(self._place(item))
            except Overloaded as exc:
                refused[item.record.task_id] = Submission(
                    item.record.task_id,
                    "refused",
                    None,
                    f"{exc} (retry after {exc.retry_after:g}s)",
                )
        try:
            done = self._submit_admitted(admitted)
        except Exception:
            self.unsettled.add([a.record.task_id for a in admitted], now_ms(self.clock))
            raise
        self.unsettled.add([t for t, r in done.items() if r.status == "failed"], now_ms(self.clock))
        self.unsettled.discard([t for t, r in done.items() if r.status != "failed"])
        done.update(refused)
        return [done[t] for t in order]

    def _submit_admitted(self, admitted: list[Admitted]) -> dict[str, Submission]:
        if len(admitted) <= 1:
            results = [self._create(a) for a in admitted]
        else:
            with ThreadPoolExecutor(max_workers=self.max_workers) as pool:
                results = list(pool.map(self._create, admitted))
        fresh = [a for a, r in zip(admitted, results, strict=True) if r.created]
        self._store_payloads(fresh)
        failed, kept = self._enqueue(fresh)
        pairs = zip(admitted, results, strict=True)
        unrepaired, revived = self._repair([(a, r) for a, r in pairs if r.status == "duplicate"])
        out: dict[str, Submission] = {}
        for r in results:
            if r.task_id in failed:
                lost = "its record may remain" if r.task_id in kept else "nothing was kept"
                out[r.task_id] = Submission(
                    r.task_id, "failed", None, f"could not be enqueued; {lost}"
                )
            elif r.task_id in unrepaired:
                out[r.task_id] = Submission(
                    r.task_id, "failed", r.record, "never sent; resending failed"
                )
            else:
                out[r.task_id] = revived.get(r.task_id, r)
        return out

    def _place(self, admitted: Admitted) -> Admitted:
        """Back-pressure and lane choice of a multi-tenant deployment (``TenantEdge``):
        raises ``Overloaded`` for a refused task; otherwise the record's lane may change.
        A submitter inside a trace of its own has it kept in the record (``trace_parent``)."""
        caller = tracing.caller_of()
        if caller is not None:
            admitted = replace(admitted, record=admitted.record.replace(trace_parent=caller))
        if self.edge is None:
            return admitted
        record = self.edge.place(admitted.record)
        return admitted if record is admitted.record else replace(admitted, record=record)

    def _lean_timeout(self, task_type: str) -> float | None:
        """The type's timeout if it is lean (see ``resubmit_repairs``), else None."""
        if task_type not in self.catalog:
            return None
        declared = self.catalog.get(task_type)
        return declared.timeout if declared.lean else None

    def _repair(
        self, duplicates: Sequence[tuple[Admitted, Submission]]
    ) -> tuple[list[str], dict[str, Submission]]:
        """Send again the messages of stranded duplicates (``resubmit_repairs``; at once
        for IDs whose submit raised here lately), tasks failed as lost first put back to
        QUEUED. Returns the IDs whose repair failed (their records are kept: they were
        not ours to undo) and the revived tasks' submissions (``created``)."""
        now = now_ms(self.clock)
        stranded = [
            replace(a, record=s.record)
            for a, s in duplicates
            if s.record is not None
            and resubmit_repairs(
                s.record,
                now,
                after_error=self.unsettled.recent(s.task_id, now),
                lean_timeout=self._lean_timeout(s.record.task_type),
            )
        ]
        if not stranded:
            return [], {}
        _log.warning("re-sending %d stranded tasks on re-submit", len(stranded))
        failed: list[str] = []
        revived: dict[str, Submission] = {}
        for index, item in enumerate(stranded):
            if is_lost(item.record):
                record = self._revive(item.record, now)
                if record is None:
                    failed.append(item.record.task_id)
                    continue
                revived[record.task_id] = Submission(record.task_id, "created", record)
                stranded[index] = replace(item, record=record)
        stranded = [item for item in stranded if item.record.task_id not in failed]
        self._store_payloads(stranded)
        by_lane: dict[str, list[OutMessage]] = defaultdict(list)
        for item in stranded:
            due = item.record.not_before or 0
            if due - now > 900_000:
                try:
                    self._schedule(replace(item, fire_at_ms=due))
                except Exception as exc:
                    if "Conflict" not in type(exc).__name__ + str(exc):
                        _log.exception("could not schedule task %s", item.record.task_id)
                        failed.append(item.record.task_id)
                continue
            delay = max(0, -(-(due - now) // 1000))
            by_lane[self.lane_queue(item.record)].append(
                replace(self._message(item), delay=delay, body=self._body(item, now))
            )
        for lane, messages in by_lane.items():
            try:
                failed.extend(self.lanes.send(lane, messages))
            except Exception:
                _log.exception("could not re-send %d tasks on %s", len(messages), lane)
                failed.extend(m.id for m in messages)
        return failed, revived

    def _revive(self, record: TaskRecord, now: int) -> TaskRecord | None:
        """FAILED as lost -> QUEUED (the re-submit brings its payload back); None if the
        write failed or the record changed meanwhile."""
        changes = {"error": None, "finished_at": None, "purge_at": None, "queued_at": now}
        try:
            return self.store.transition(
                record.task_id, TaskState.QUEUED, changes, now, expect_starts=0
            )
        except Exception:
            _log.exception("could not put task %s back to QUEUED", record.task_id)
            return None

    @staticmethod
    def _body(item: Admitted, now: int) -> str:
        return Envelope.for_record(item.record, item.payload, now).to_json()

    def _create(self, admitted: Admitted) -> Submission:
        # A random tag lets the store tell its own insert, met again by a retried PutItem
        # whose reply was lost, from someone else's (``TaskRecord.inserted_by``).
        record = admitted.record.replace(owner=secrets.token_urlsafe(4))
        stored, created = self.store.create(record, record.created_at)
        if created:
            return Submission(record.task_id, "created", stored)
        if stored.task_type == record.task_type and stored.payload_sha256 == record.payload_sha256:
            return Submission(record.task_id, "duplicate", stored)
        what = "type" if stored.task_type != record.task_type else "payload"
        return Submission(
            record.task_id,
            "conflict",
            stored,
            f"task {record.task_id!r} already exists with a different {what} "
            f"({stored.task_type}, {stored.state}); use a new ID or the same payload",
        )

    def _store_payloads(self, admitted: Sequence[Admitted]) -> None:
        for item in admitted:
            if item.offload_key:
                self.payloads.put(item.offload_key, item.payload_bytes)

    def _enqueue(self, admitted: Sequence[Admitted]) -> tuple[list[str], set[str]]:
        """Send the messages, grouped by lane; undo the records whose send failed.
        Returns the IDs whose send failed, and those of them whose undo failed too. Each
        task's message carries its trace header; its admission span is recorded once sent."""
        by_lane: dict[str, list[OutMessage]] = defaultdict(list)
        failed: list[str] = []
        traces = {
            a.record.task_id: tracing.admission(
                a.record.task_id, a.record.created_at, a.record.trace_parent
            )
            for a in admitted
        }
        for item in admitted:
            trace = traces[item.record.task_id][1].to_header()
            if item.scheduled:
                try:
                    self._schedule(item, trace)
                except Exception:
                    _log.exception("could not schedule task %s", item.record.task_id)
                    failed.append(item.record.task_id)
                continue
            by_lane[self.lane_queue(item.record)].append(self._message(item, trace))
        for lane, messages in by_lane.items():
            try:
                failed.extend(self.lanes.send(lane, messages))
            except Exception:
                _log.exception("could not enqueue %d tasks on %s", len(messages), lane)
                failed.extend(m.id for m in messages)
        by_id = {a.record.task_id: a for a in admitted}
        kept: set[str] = set()
        for task_id in failed:
            item = by_id[task_id]
            try:
                self.store.delete(task_id, state=item.record.state)
            except Exception:
                _log.exception("could not undo the record of task %s", task_id)
                kept.add(task_id)
                continue
            if item.offload_key:
                try:
                    self.payloads.delete(item.offload_key)
                except Exception:
                    _log.exception("could not delete the payload of task %s", task_id)
        done, lost = now_ms(self.clock), set(failed)
        for task_id, (under, message) in traces.items():
            if task_id not in lost:
                start = by_id[task_id].record.created_at
                tracing.record(under, "admission", task_id, start, done, span=message.parent)
        return failed, kept

    @staticmethod
    def lane_queue(record: TaskRecord) -> str:
        return record.lane

    def _message(self, item: Admitted, trace: str | None = None) -> OutMessage:
        body = Envelope.for_record(
            item.record, item.payload, item.record.created_at, trace
        ).to_json()
        return OutMessage(
            body=body, group=item.record.tenant, delay=item.delay_seconds, id=item.record.task_id
        )

    def _schedule(self, item: Admitted, trace: str | None = None) -> None:
        if self.scheduler is None:
            raise ConveyorError("this client has no scheduler for delays over 15 minutes")
        assert item.fire_at_ms is not None
        body = Envelope.for_record(item.record, item.payload, item.fire_at_ms, trace).to_json()
        self.scheduler.create_at(
            item.record.task_id,
            item.fire_at_ms,
            self.lane_queue(item.record),
            body,
            window_minutes=item.window,
        )

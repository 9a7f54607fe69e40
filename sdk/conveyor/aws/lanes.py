"""SqsLanes: lanes and work queues on SQS standard queues.

Every message carries ``MessageGroupId`` = tenant: on AWS standard queues that turns on
SQS fair queues (a noisy tenant's backlog is served after quiet tenants'). Sends and
deletes are batched by 10, the SQS limit; queue URLs are resolved once per process.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

from ..ports import Depth, InMessage, OutMessage


class SqsLanes:
    def __init__(self, sqs: Any) -> None:
        self.sqs = sqs
        self._urls: dict[str, str] = {}
        self._lock = threading.Lock()

    def url(self, queue: str) -> str:
        with self._lock:
            cached = self._urls.get(queue)
        if cached:
            return cached
        url: str = self.sqs.get_queue_url(QueueName=queue)["QueueUrl"]
        with self._lock:
            self._urls[queue] = url
        return url

    def send(self, queue: str, messages: Sequence[OutMessage]) -> list[str]:
        url = self.url(queue)
        failed: list[str] = []
        for start in range(0, len(messages), 10):
            chunk = messages[start : start + 10]
            entries = []
            for index, msg in enumerate(chunk):
                entry: dict[str, Any] = {
                    "Id": str(index),
                    "MessageBody": msg.body,
                    "MessageGroupId": msg.group,
                }
                if msg.delay:
                    entry["DelaySeconds"] = int(msg.delay)
                if msg.attributes:
                    entry["MessageAttributes"] = {
                        k: {"DataType": "String", "StringValue": v}
                        for k, v in msg.attributes.items()
                    }
                entries.append(entry)
            response = self.sqs.send_message_batch(QueueUrl=url, Entries=entries)
            for failure in response.get("Failed", []):
                msg = chunk[int(failure["Id"])]
                failed.append(msg.id or failure["Id"])
        return failed

    def receive(
        self,
        queue: str,
        *,
        max_messages: int = 10,
        wait_seconds: int = 0,
        visibility: int | None = None,
    ) -> list[InMessage]:
        params: dict[str, Any] = {
            "QueueUrl": self.url(queue),
            "MaxNumberOfMessages": max(1, min(10, max_messages)),
            "WaitTimeSeconds": wait_seconds,
            "MessageSystemAttributeNames": ["ApproximateReceiveCount", "SentTimestamp"],
            "MessageAttributeNames": ["All"],
        }
        if visibility is not None:
            params["VisibilityTimeout"] = visibility
        response = self.sqs.receive_message(**params)
        out = []
        for raw in response.get("Messages", []):
            attrs = raw.get("Attributes", {})
            out.append(
                InMessage(
                    message_id=raw["MessageId"],
                    receipt=raw["ReceiptHandle"],
                    body=raw["Body"],
                    receive_count=int(attrs.get("ApproximateReceiveCount", "1")),
                    sent_at_ms=int(attrs.get("SentTimestamp", "0")),
                    attributes={
                        k: v.get("StringValue", "")
                        for k, v in raw.get("MessageAttributes", {}).items()
                    },
                )
            )
        return out

    def delete(self, queue: str, receipts: Sequence[str]) -> None:
        url = self.url(queue)
        for start in range(0, len(receipts), 10):
            chunk = receipts[start : start + 10]
            self.sqs.delete_message_batch(
                QueueUrl=url,
                Entries=[{"Id": str(i), "ReceiptHandle": r} for i, r in enumerate(chunk)],
            )

    def change_visibility(self, queue: str, receipt: str, seconds: int) -> None:
        self.sqs.change_message_visibility(
            QueueUrl=self.url(queue), ReceiptHandle=receipt, VisibilityTimeout=int(seconds)
        )

    def change_visibility_batch(self, queue: str, entries: Sequence[tuple[str, int]]) -> list[str]:
        url = self.url(queue)
        failed: list[str] = []
        for start in range(0, len(entries), 10):
            chunk = entries[start : start + 10]
            response = self.sqs.change_message_visibility_batch(
                QueueUrl=url,
                Entries=[
                    {"Id": str(i), "ReceiptHandle": receipt, "VisibilityTimeout": int(seconds)}
                    for i, (receipt, seconds) in enumerate(chunk)
                ],
            )
            failed += [chunk[int(f["Id"])][0] for f in response.get("Failed", [])]
        return failed

    def depth(self, queue: str) -> Depth:
        attrs = self.sqs.get_queue_attributes(
            QueueUrl=self.url(queue),
            AttributeNames=[
                "ApproximateNumberOfMessages",
                "ApproximateNumberOfMessagesNotVisible",
                "ApproximateNumberOfMessagesDelayed",
            ],
        )["Attributes"]
        return Depth(
            int(attrs.get("ApproximateNumberOfMessages", 0)),
            int(attrs.get("ApproximateNumberOfMessagesNotVisible", 0)),
            int(attrs.get("ApproximateNumberOfMessagesDelayed", 0)),
        )

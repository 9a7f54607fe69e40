"""The baseline: what a competent engineer wires by hand with boto3 for the same job.

One table (no index), one queue. Submit: a conditional PutItem (dedup) and a send --
batched by 10 for a backlog, one per call for a trickle. A consumer long-polls (20 s) for
batches of 10, invokes the function once per task (which marks RUNNING with a conditional
write, runs the handler, marks SUCCEEDED), and deletes each received batch with one call.
No pause check, no events, no quotas, no fairness -- the features Conveyor adds.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

from conveyor.aws import AwsClients
from conveyor.aws.accounting import RequestCounter

from .lifecycle import DEADLINE, PAYLOAD, Load, Result


class NaiveDeployment:
    def __init__(self, prefix: str, *, wait_seconds: int = 20) -> None:
        self.table = f"{prefix}-tasks"
        plain = AwsClients(region="us-east-1")
        plain.dynamodb.create_table(
            TableName=self.table,
            BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
            KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        )
        self.url = plain.sqs.create_queue(
            QueueName=f"{prefix}-queue", Attributes={"VisibilityTimeout": "60"}
        )["QueueUrl"]
        self.counter = RequestCounter()
        self.aws = AwsClients(region="us-east-1", counter=self.counter)
        self.wait_seconds = wait_seconds
        self.done = 0
        self._lock = threading.Lock()

    def _put(self, task_id: str) -> str:
        body = json.dumps({"id": task_id, "type": "welcome", "payload": PAYLOAD})
        self.aws.dynamodb.put_item(
            TableName=self.table,
            Item={
                "id": {"S": task_id},
                "state": {"S": "QUEUED"},
                "created": {"N": str(int(time.time() * 1000))},
            },
            ConditionExpression="attribute_not_exists(id)",
        )
        return body

    def _function(self, body: str) -> None:
        """The Lambda function: RUNNING (conditional), the handler, SUCCEEDED."""
        self.counter.add("lambda", "Invoke", {"lambda_requests": 1})
        task_id = json.loads(body)["id"]
        for state, before in (("RUNNING", "QUEUED"), ("SUCCEEDED", "RUNNING")):
            self.aws.dynamodb.update_item(
                TableName=self.table,
                Key={"id": {"S": task_id}},
                UpdateExpression="SET #s = :s",
                ConditionExpression="#s = :b",
                ExpressionAttributeNames={"#s": "state"},
                ExpressionAttributeValues={":s": {"S": state}, ":b": {"S": before}},
                ReturnValues="ALL_NEW",
            )
        with self._lock:
            self.done += 1

    def _consume(self, stop: threading.Event, pool: ThreadPoolExecutor) -> None:
        while not stop.is_set():
            messages = self.aws.sqs.receive_message(
                QueueUrl=self.url, MaxNumberOfMessages=10, WaitTimeSeconds=self.wait_seconds
            ).get("Messages", [])
            if not messages:
                continue
            list(pool.map(self._function, [m["Body"] for m in messages]))
            self.aws.sqs.delete_message_batch(
                QueueUrl=self.url,
                Entries=[
                    {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]}
                    for i, m in enumerate(messages)
                ],
            )

    def run(self, load: Load) -> Result:
        stop = threading.Event()
        pool = ThreadPoolExecutor(max_workers=16)
        consumer = threading.Thread(target=self._consume, args=(stop, pool))
        start = time.monotonic()
        if load.rate is None:
            bodies = [self._put(str(uuid.uuid4())) for _ in range(load.tasks)]
            for offset in range(0, len(bodies), 10):
                self.aws.sqs.send_message_batch(
                    QueueUrl=self.url,
                    Entries=[
                        {"Id": str(i), "MessageBody": b}
                        for i, b in enumerate(bodies[offset : offset + 10])
                    ],
                )
            consumer.start()
        else:
            consumer.start()
            for i in range(load.tasks):
                time.sleep(max(0.0, start + i / load.rate - time.monotonic()))
                body = self._put(str(uuid.uuid4()))
                self.aws.sqs.send_message(QueueUrl=self.url, MessageBody=body)
        submitted = time.monotonic() - start
        while self.done < load.tasks and time.monotonic() < start + DEADLINE:
            time.sleep(0.1)
        stop.set()
        consumer.join()
        pool.shutdown()
        if self.done != load.tasks:
            raise RuntimeError(f"naive {load.name}: {self.done} of {load.tasks} succeeded")
        seconds = time.monotonic() - start
        return Result(
            "naive boto3 (baseline)", load.name, load.tasks, self.counter, seconds, submitted
        )

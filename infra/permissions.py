"""Which task-table actions each role of a deployment gets: only those its code calls.

Read from the code paths (``conveyor.aws.store``, ``conveyor.aws.control``,
``conveyor.aws.principals``), and held by a test that runs those paths against moto with
a client that refuses every other action:

* **executors and workers** run attempts (``runtime.runner``, ``attempt``, ``settle``,
  ``context``; workers also ``runtime.worker``): GetItem (the record, cancellation, the
  pause set) and UpdateItem (every state change is one conditional update).
* **the dispatcher** admits schedule and trigger messages (``intake``: PutItem), reads
  the pause set (GetItem), runs the reconciler (Query of the ``by_type`` index,
  BatchGetItem, its marker GetItem/PutItem, and its paced sweep -- a Scan every few hours
  that finds custom IDs and unindexed types), and the control plane: routes (Get/Put),
  membership and signals (UpdateItem), a lean type's failed invocation as a spent
  attempt (``TaskRunner.lost_run``: GetItem, UpdateItem), lane leases (PutItem to take,
  BatchGetItem to list, DeleteItem to release -- the only delete, so it is limited to
  ``ctl#lease#`` items by a ``dynamodb:LeadingKeys`` condition).
* **the submit API** submits (PutItem; DeleteItem undoes a record whose message could
  not be sent), reads and cancels (GetItem, UpdateItem), reads the control plane and the
  principal directory (GetItem).

Only the dispatcher's reconciler scans; nobody gets BatchWriteItem, ConditionCheckItem or
any table-management action: listing everything (``conveyor list`` without a type) is the
platform owner's, with their own credentials.
"""

from __future__ import annotations

EXECUTOR_TABLE_ACTIONS: tuple[str, ...] = ("dynamodb:GetItem", "dynamodb:UpdateItem")
WORKER_TABLE_ACTIONS: tuple[str, ...] = EXECUTOR_TABLE_ACTIONS
DISPATCHER_TABLE_ACTIONS: tuple[str, ...] = (
    "dynamodb:BatchGetItem",
    "dynamodb:GetItem",
    "dynamodb:PutItem",
    "dynamodb:Query",
    "dynamodb:Scan",
    "dynamodb:UpdateItem",
)
#: The dispatcher may delete only lease items (releasing a lane).
DISPATCHER_DELETE_KEYS: tuple[str, ...] = ("ctl#lease#*",)
SUBMIT_TABLE_ACTIONS: tuple[str, ...] = (
    "dynamodb:DeleteItem",
    "dynamodb:GetItem",
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
)
#: Payload objects: runtimes read payloads and write results; only a failed submit deletes.
RUNTIME_OBJECT_ACTIONS: tuple[str, ...] = ("s3:GetObject", "s3:PutObject")
SUBMIT_OBJECT_ACTIONS: tuple[str, ...] = ("s3:DeleteObject", "s3:GetObject", "s3:PutObject")

#: role -> the DynamoDB operation names (boto3's, without the prefix) it may call.
OPERATIONS: dict[str, frozenset[str]] = {
    role: frozenset(a.split(":", 1)[1] for a in actions)
    for role, actions in {
        "executor": EXECUTOR_TABLE_ACTIONS,
        "worker": WORKER_TABLE_ACTIONS,
        "dispatcher": (*DISPATCHER_TABLE_ACTIONS, "dynamodb:DeleteItem"),
        "submit": SUBMIT_TABLE_ACTIONS,
    }.items()
}

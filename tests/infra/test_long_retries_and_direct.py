"""IAM for retries that wait over 15 minutes (least privilege), and a catalog with a
``direct`` type synthesizing cdk-nag clean (the fixture's synth would raise otherwise)."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.infra

SCHEDULER_PRINCIPAL = "scheduler.amazonaws.com"


def logical_of(ref) -> str:
    """The logical ID behind a {"Ref": id} or {"Fn::GetAtt": [id, "Arn"]}."""
    return ref["Ref"] if "Ref" in ref else ref["Fn::GetAtt"][0]


def statements_of(synth, role_id: str) -> list[dict]:
    out = []
    for policy in synth.resources("AWS::IAM::Policy").values():
        if role_id in [logical_of(r) for r in policy["Properties"].get("Roles", [])]:
            out += policy["Properties"]["PolicyDocument"]["Statement"]
    return out


def actions_of(statement) -> list[str]:
    actions = statement["Action"]
    return [actions] if isinstance(actions, str) else actions


def statements_with(statements, action: str) -> list[dict]:
    return [s for s in statements if action in actions_of(s)]


def scheduler_role_id(synth) -> str:
    (role_id,) = [
        rid
        for rid, role in synth.resources("AWS::IAM::Role").items()
        if SCHEDULER_PRINCIPAL in str(role["Properties"]["AssumeRolePolicyDocument"])
    ]
    return role_id


def executor_role_ids(synth) -> dict[str, str]:
    return {
        f["Properties"]["FunctionName"]: logical_of(f["Properties"]["Role"])
        for f in synth.resources("AWS::Lambda::Function").values()
        if f["Properties"]["Handler"] == "functions.executor.app.handler"
    }


def worker_role_ids(synth) -> dict[str, str]:
    out = {}
    for task in synth.resources("AWS::ECS::TaskDefinition").values():
        (container,) = task["Properties"]["ContainerDefinitions"]
        if container["Command"][-1] == "conveyor.worker":
            out[container["Name"] + str(len(out))] = logical_of(task["Properties"]["TaskRoleArn"])
    return out


def dispatcher_role_id(synth) -> str:
    for task in synth.resources("AWS::ECS::TaskDefinition").values():
        (container,) = task["Properties"]["ContainerDefinitions"]
        if "dispatcher" in container["Command"]:
            return logical_of(task["Properties"]["TaskRoleArn"])
    raise AssertionError("no dispatcher task definition")


def assert_can_create_one_time_schedules_only(synth, role_id: str) -> None:
    group = synth.stack.scheduler_group.group.name
    statements = statements_of(synth, role_id)
    (create,) = statements_with(statements, "scheduler:CreateSchedule")
    assert actions_of(create) == ["scheduler:CreateSchedule"]
    assert create["Effect"] == "Allow"
    resource = str(create["Resource"])
    assert f"schedule/{group}/*" in resource
    assert "schedule/*" not in resource.replace(f"schedule/{group}/*", "")
    for action in ("scheduler:DeleteSchedule", "scheduler:UpdateSchedule", "scheduler:*"):
        assert statements_with(statements, action) == []
    (pass_role,) = statements_with(statements, "iam:PassRole")
    assert actions_of(pass_role) == ["iam:PassRole"]
    assert logical_of(pass_role["Resource"]) == scheduler_role_id(synth)
    assert pass_role["Condition"] == {"StringEquals": {"iam:PassedToService": SCHEDULER_PRINCIPAL}}
    (lookup,) = [
        s for s in statements if set(actions_of(s)) == {"sqs:GetQueueAttributes", "sqs:GetQueueUrl"}
    ]
    names = {queue_name(synth, r) for r in lookup["Resource"]}
    assert names == set(synth.stack.topology.lanes)  # reads the lanes' ARNs, nothing more


def queue_name(synth, ref) -> str:
    return synth.json["Resources"][logical_of(ref)]["Properties"]["QueueName"]


def resources_of(statement) -> list:
    resources = statement["Resource"]
    return resources if isinstance(resources, list) else [resources]


def test_every_lambda_executor_can_schedule_a_long_retry(synth):
    roles = executor_role_ids(synth)
    assert len(roles) == 4
    for role_id in roles.values():
        assert_can_create_one_time_schedules_only(synth, role_id)


def test_every_fargate_worker_can_schedule_a_long_retry(synth):
    roles = worker_role_ids(synth)
    assert len(roles) == 1
    for role_id in roles.values():
        assert_can_create_one_time_schedules_only(synth, role_id)


def test_the_dispatcher_cannot_create_schedules(synth):
    statements = statements_of(synth, dispatcher_role_id(synth))
    assert not any(a.startswith("scheduler:") for s in statements for a in actions_of(s))
    assert statements_with(statements, "iam:PassRole") == []


def test_no_role_may_pass_any_other_role(synth):
    scheduler_role = scheduler_role_id(synth)
    for policy in synth.resources("AWS::IAM::Policy").values():
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            if "iam:PassRole" in actions_of(statement):
                assert logical_of(statement["Resource"]) == scheduler_role


def test_a_direct_type_is_fed_by_its_queue_and_dead_letters_poison(direct_synth):
    (mapping,) = direct_synth.resources("AWS::Lambda::EventSourceMapping").values()
    props = mapping["Properties"]
    assert props["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    queue_id = logical_of(props["EventSourceArn"])
    queue = direct_synth.json["Resources"][queue_id]["Properties"]
    assert queue["QueueName"] == "conveyor-direct-work-index_document"
    dlq_id = logical_of(queue["RedrivePolicy"]["deadLetterTargetArn"])
    assert direct_synth.json["Resources"][dlq_id]["Properties"]["QueueName"] == (
        "conveyor-direct-dlq"
    )
    fn = direct_synth.json["Resources"][logical_of({"Ref": props["FunctionName"]["Ref"]})]
    assert fn["Properties"]["FunctionName"] == "conveyor-direct-index-document"


def test_schedules_may_target_a_direct_types_queue(direct_synth):
    statements = statements_of(direct_synth, scheduler_role_id(direct_synth))
    targets = {
        queue_name(direct_synth, r)
        for s in statements_with(statements, "sqs:SendMessage")
        for r in resources_of(s)
    }
    assert "conveyor-direct-work-index_document" in targets
    assert "conveyor-direct-dlq" in targets
    assert {t for t in targets if "-work-" in t} == {"conveyor-direct-work-index_document"}


def test_direct_executors_can_schedule_a_long_retry(direct_synth):
    roles = executor_role_ids(direct_synth)
    assert set(roles) == {"conveyor-direct-index-document", "conveyor-direct-notify"}
    for role_id in roles.values():
        assert_can_create_one_time_schedules_only(direct_synth, role_id)


def table_actions(synth, role_id: str) -> set[str]:
    return {
        action
        for statement in statements_of(synth, role_id)
        for action in actions_of(statement)
        if action.startswith("dynamodb:")
    }


def test_a_type_declared_submits_may_submit_and_the_others_may_not(synth):
    """``reindex_catalog`` (Fargate) submits thumbnails: its role gets the submit actions
    and may send to every lane; executors of other types keep their two table actions."""
    from infra import permissions

    (reindex,) = worker_role_ids(synth).values()
    assert set(permissions.SUBMIT_TABLE_ACTIONS) <= table_actions(synth, reindex)
    sends = statements_with(statements_of(synth, reindex), "sqs:SendMessage")
    names = {queue_name(synth, r) for s in sends for r in resources_of(s)}
    assert set(synth.stack.topology.lanes) <= names
    assert_can_create_one_time_schedules_only(synth, reindex)
    for name, role_id in executor_role_ids(synth).items():
        assert table_actions(synth, role_id) == set(permissions.EXECUTOR_TABLE_ACTIONS), name
        sends = statements_with(statements_of(synth, role_id), "sqs:SendMessage")
        targets = {queue_name(synth, r) for s in sends for r in resources_of(s)}
        assert not targets & set(synth.stack.topology.lanes), name


def test_the_http_api_may_send_to_a_direct_types_queue(direct_synth):
    (api,) = [
        logical_of(f["Properties"]["Role"])
        for f in direct_synth.resources("AWS::Lambda::Function").values()
        if f["Properties"]["Handler"] == "functions.submit.app.handler"
    ]
    sends = statements_with(statements_of(direct_synth, api), "sqs:SendMessage")
    names = {queue_name(direct_synth, r) for s in sends for r in resources_of(s)}
    topology = direct_synth.stack.topology
    assert {topology.work_queue("index_document"), *topology.lanes} <= names

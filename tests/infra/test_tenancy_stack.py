"""The multi-tenant deployment (``app.DEFAULTS``: 8 shards, spread 2, a pool of 4, up to 3
dispatchers) and the tightened stack: the template has the pool lanes, the dispatcher
scaling beyond one task within CloudWatch's alarm limits, rolling deployments, alarms to
an SNS topic, a protected table, a retained DLQ, and each role's table actions exactly
as ``infra.permissions`` lists them. cdk-nag ran at synth; cfn-lint and the dev cloud's
parity are checked here."""

from __future__ import annotations

import json

import pytest

import app as cdk_app
from conveyor.local.provision import provision
from conveyor.model import PRIORITIES
from examples.catalog import catalog
from infra import permissions
from tests.infra.conftest import ADMIN_ARN, cfn_lint_errors
from tests.infra.test_long_retries_and_direct import (
    actions_of,
    dispatcher_role_id,
    executor_role_ids,
    logical_of,
    statements_of,
    worker_role_ids,
)

pytestmark = pytest.mark.infra


def queue_names(synth) -> set[str]:
    return {q["Properties"]["QueueName"] for q in synth.resources("AWS::SQS::Queue").values()}


def test_the_defaults_feed_the_topology(tenant_synth):
    topology = tenant_synth.stack.topology
    assert (topology.shards, topology.spread, topology.pool) == (
        cdk_app.DEFAULTS["shards"],
        cdk_app.DEFAULTS["spread"],
        cdk_app.DEFAULTS["pool"],
    )
    cdk_json = json.loads((cdk_app.ROOT / "cdk.json").read_text())["context"]
    assert {k: cdk_json[k] for k in cdk_app.DEFAULTS} == cdk_app.DEFAULTS
    function = next(iter(tenant_synth.resources("AWS::Lambda::Function").values()))
    env = function["Properties"]["Environment"]["Variables"]
    assert (env["CONVEYOR_SHARDS"], env["CONVEYOR_SPREAD"], env["CONVEYOR_POOL"]) == (
        "8",
        "2",
        "4",
    )


def test_every_shard_and_pool_lane_is_a_queue(tenant_synth):
    topology = tenant_synth.stack.topology
    names = queue_names(tenant_synth)
    assert set(topology.lanes) <= names
    assert len(topology.lanes) == 8 * len(PRIORITIES) + 4
    assert {f"conveyor-mt-pool-{i}" for i in range(4)} <= names
    assert names - set(topology.lanes) == {"conveyor-mt-dlq", "conveyor-mt-work-reindex_catalog"}


def test_the_dev_cloud_provisions_the_same_lanes_pool_included(tenant_synth, aws):
    provisioned = provision(aws, tenant_synth.stack.topology, catalog)
    assert set(provisioned.queues) == queue_names(tenant_synth)


def test_no_alarm_reads_more_metrics_than_cloudwatch_allows(synth, tenant_synth):
    for built in (synth, tenant_synth):
        for alarm in built.resources("AWS::CloudWatch::Alarm").values():
            queries = alarm["Properties"].get("Metrics", [])
            assert sum("MetricStat" in q for q in queries) <= 10, alarm["Properties"]


def _dispatcher_target(built):
    (service_id,) = [
        k
        for k, v in built.resources("AWS::ECS::Service").items()
        if v["Properties"]["ServiceName"].endswith("-dispatcher")
    ]
    for target_id, target in built.resources("AWS::ApplicationAutoScaling::ScalableTarget").items():
        if service_id in json.dumps(target["Properties"]["ResourceId"]):
            return target_id, target["Properties"]
    raise AssertionError("no scalable target for the dispatcher")


def test_the_dispatcher_scales_beyond_one_task_on_lane_age(tenant_synth):
    target_id, target = _dispatcher_target(tenant_synth)
    assert (target["MinCapacity"], target["MaxCapacity"]) == (1, 3)
    policies = {
        pid: p["Properties"]
        for pid, p in tenant_synth.resources("AWS::ApplicationAutoScaling::ScalingPolicy").items()
        if p["Properties"]["ScalingTargetId"] == {"Ref": target_id}
    }
    changes = sorted(
        (
            p["StepScalingPolicyConfiguration"]["AdjustmentType"],
            p["StepScalingPolicyConfiguration"]["StepAdjustments"][0]["ScalingAdjustment"],
        )
        for p in policies.values()
    )
    assert changes == [("ChangeInCapacity", -1), ("ChangeInCapacity", 1)]
    (scale_out,) = [
        pid
        for pid, p in policies.items()
        if p["StepScalingPolicyConfiguration"]["StepAdjustments"][0]["ScalingAdjustment"] == 1
    ]
    age_alarms = [
        a["Properties"]
        for a in tenant_synth.resources("AWS::CloudWatch::Alarm").values()
        if scale_out in json.dumps(a["Properties"].get("AlarmActions", []))
    ]
    watched = set()
    for alarm in age_alarms:
        for query in alarm["Metrics"]:
            if "MetricStat" in query:
                metric = query["MetricStat"]["Metric"]
                assert metric["MetricName"] == "ApproximateAgeOfOldestMessage"
                watched.add(json.dumps(metric["Dimensions"], sort_keys=True))
    assert len(age_alarms) == 3  # 28 lanes, 10 per alarm
    assert len(watched) == 28  # every lane, the pool's included


def test_a_single_lane_set_dispatcher_scales_from_zero_to_the_max(synth):
    _, target = _dispatcher_target(synth)
    assert (target["MinCapacity"], target["MaxCapacity"]) == (0, 3)


def test_dispatcher_deployments_start_new_tasks_before_stopping_old_ones(tenant_synth):
    (service,) = [
        s["Properties"]
        for s in tenant_synth.resources("AWS::ECS::Service").values()
        if s["Properties"]["ServiceName"].endswith("-dispatcher")
    ]
    config = service["DeploymentConfiguration"]
    assert (config["MinimumHealthyPercent"], config["MaximumPercent"]) == (100, 200)
    assert config["DeploymentCircuitBreaker"] == {"Enable": True, "Rollback": True}


def test_alarms_notify_an_sns_topic_with_the_email_from_context(synth, tenant_synth):
    (topic_id,) = tenant_synth.resources("AWS::SNS::Topic")
    (subscription,) = tenant_synth.resources("AWS::SNS::Subscription").values()
    assert subscription["Properties"]["Protocol"] == "email"
    assert subscription["Properties"]["Endpoint"] == "ops@example.com"
    human = [
        a["Properties"]
        for a in tenant_synth.resources("AWS::CloudWatch::Alarm").values()
        if a["Properties"].get("AlarmDescription", "").startswith(("tasks failed", "conveyor-mt"))
    ]
    assert len(human) == 1 + 28  # the DLQ and every lane's age
    for alarm in human:
        assert alarm["AlarmActions"] == [{"Ref": topic_id}]
    (policy,) = tenant_synth.resources("AWS::SNS::TopicPolicy").values()
    assert "aws:SecureTransport" in json.dumps(policy)
    assert synth.resources("AWS::SNS::Subscription") == {}  # no email, no subscription
    assert len(synth.resources("AWS::SNS::Topic")) == 1


def test_the_table_is_protected_and_the_dlq_retained(tenant_synth):
    (table,) = tenant_synth.resources("AWS::DynamoDB::Table").values()
    assert table["Properties"]["DeletionProtectionEnabled"] is True
    assert table["DeletionPolicy"] == "Retain"
    for queue in tenant_synth.resources("AWS::SQS::Queue").values():
        retained = queue.get("DeletionPolicy") == "Retain"
        assert retained == (queue["Properties"]["QueueName"] == "conveyor-mt-dlq")


def test_only_the_submit_api_knows_the_admins(tenant_synth):
    for function in tenant_synth.resources("AWS::Lambda::Function").values():
        env = function["Properties"].get("Environment", {}).get("Variables", {})
        is_api = function["Properties"].get("FunctionName") == "conveyor-mt-submit-api"
        assert (env.get("CONVEYOR_ADMIN_PRINCIPALS") == ADMIN_ARN) is is_api


def _table_id(built) -> str:
    (table_id,) = built.resources("AWS::DynamoDB::Table")
    return table_id


def table_actions(built, role_id: str) -> dict[str, list]:
    """DynamoDB action -> the conditions it is granted under, for one role."""
    out: dict[str, list] = {}
    for statement in statements_of(built, role_id):
        if _table_id(built) not in json.dumps(statement["Resource"]):
            continue
        for action in actions_of(statement):
            if action.startswith("dynamodb:"):
                out.setdefault(action, []).append(statement.get("Condition"))
    return out


def test_each_role_gets_only_the_table_actions_its_code_calls(tenant_synth):
    built = tenant_synth
    # A type declared submits=True (the example's reindex_catalog) also gets the submit
    # API's actions: its handler submits follow-up tasks.
    submit = set(permissions.SUBMIT_TABLE_ACTIONS)
    for roles, own, executor in (
        (executor_role_ids(built), permissions.EXECUTOR_TABLE_ACTIONS, "lambda"),
        (worker_role_ids(built), permissions.WORKER_TABLE_ACTIONS, "fargate"),
    ):
        granted = [set(table_actions(built, role_id)) for role_id in roles.values()]
        assert all(actions in (set(own), set(own) | submit) for actions in granted)
        submitting = [t for t in catalog if t.executor == executor and t.submits]
        assert sum(actions == set(own) | submit for actions in granted) == len(submitting)
    dispatcher = table_actions(built, dispatcher_role_id(built))
    assert set(dispatcher) == {*permissions.DISPATCHER_TABLE_ACTIONS, "dynamodb:DeleteItem"}
    assert dispatcher["dynamodb:DeleteItem"] == [
        {"ForAllValues:StringLike": {"dynamodb:LeadingKeys": ["ctl#lease#*"]}}
    ]
    submit_role = next(
        logical_of(f["Properties"]["Role"])
        for f in built.resources("AWS::Lambda::Function").values()
        if f["Properties"].get("FunctionName") == "conveyor-mt-submit-api"
    )
    assert set(table_actions(built, submit_role)) == set(permissions.SUBMIT_TABLE_ACTIONS)


def test_no_role_may_batch_write_and_only_the_dispatcher_scans(synth, tenant_synth):
    for built in (synth, tenant_synth):
        granted = json.dumps(built.resources("AWS::IAM::Policy"))
        for action in ("dynamodb:BatchWriteItem", "dynamodb:DeleteTable"):
            assert action not in granted
        scanners = [
            name
            for name, policy in built.resources("AWS::IAM::Policy").items()
            if "dynamodb:Scan" in json.dumps(policy)
        ]
        assert len(scanners) == 1 and "ispatcher" in scanners[0]
        objects = [
            a
            for policy in built.resources("AWS::IAM::Policy").values()
            for s in policy["Properties"]["PolicyDocument"]["Statement"]
            for a in actions_of(s)
            if a == "s3:DeleteObject"
        ]
        # the submit API's, undoing a failed submit, and each submits=True type's
        assert len(objects) == 1 + sum(t.submits for t in catalog)


def test_cfn_lint_reports_no_errors_on_the_multi_tenant_template(tenant_synth):
    assert cfn_lint_errors(tenant_synth.template_path) == []


def test_the_dispatcher_may_read_the_dlq_for_its_reconciler(synth):
    dlq = next(
        logical
        for logical, q in synth.resources("AWS::SQS::Queue").items()
        if q["Properties"]["QueueName"].endswith("-dlq")
    )
    granted = {
        action
        for statement in statements_of(synth, dispatcher_role_id(synth))
        if dlq in json.dumps(statement["Resource"])
        for action in actions_of(statement)
    }
    assert {"sqs:ReceiveMessage", "sqs:ChangeMessageVisibility"} <= granted
    assert "sqs:DeleteMessage" not in granted  # only the owner's redrive deletes entries

"""The synthesized template for the example catalog: every property the platform relies
on, cdk-nag clean (synth would fail otherwise), cfn-lint clean, and in parity with what
the dev cloud provisions."""

from __future__ import annotations

import json
from collections import Counter

import pytest
from aws_cdk.assertions import Match

from conveyor.local.provision import provision
from conveyor.policy.scaling import ScalingRule
from examples.catalog import catalog
from tests.infra.conftest import cfn_lint_errors

pytestmark = pytest.mark.infra


def test_resource_counts(synth, capsys):
    counts = Counter(r["Type"] for r in synth.json["Resources"].values())
    with capsys.disabled():
        print("\nresources per type:", json.dumps(dict(sorted(counts.items())), indent=1))
    assert counts["AWS::SQS::Queue"] == 3 + 1 + 1  # lanes, one Fargate work queue, DLQ
    assert counts["AWS::Lambda::Function"] == 4 + 1  # an executor per Lambda type, the API
    assert counts["AWS::Scheduler::Schedule"] == 1
    assert counts["AWS::Events::Rule"] == 1
    assert counts["AWS::ApiGatewayV2::Api"] == 1
    assert counts["AWS::ECS::Service"] == 2
    assert counts["AWS::DynamoDB::Table"] == 1
    assert counts["AWS::Events::EventBus"] == 1
    assert counts["AWS::CloudWatch::Dashboard"] == 1
    assert counts["AWS::EC2::NatGateway"] == 0


def test_queues_are_encrypted_tls_only_and_dead_letter(synth):
    queues = synth.resources("AWS::SQS::Queue")
    names = {q["Properties"]["QueueName"] for q in queues.values()}
    assert names == {
        "conveyor-test-lane-high-0",
        "conveyor-test-lane-normal-0",
        "conveyor-test-lane-low-0",
        "conveyor-test-work-reindex_catalog",
        "conveyor-test-dlq",
    }
    for queue in queues.values():
        props = queue["Properties"]
        assert props["SqsManagedSseEnabled"] is True
        if props["QueueName"] != "conveyor-test-dlq":
            assert props["RedrivePolicy"]["maxReceiveCount"] == 100
    for policy in synth.resources("AWS::SQS::QueuePolicy").values():
        statement = policy["Properties"]["PolicyDocument"]["Statement"][0]
        assert statement["Effect"] == "Deny"
        assert statement["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    assert len(synth.resources("AWS::SQS::QueuePolicy")) == 5


def test_work_queue_visibility_covers_the_heartbeat_window(synth):
    queue = next(
        q
        for q in synth.resources("AWS::SQS::Queue").values()
        if q["Properties"]["QueueName"].endswith("reindex_catalog")
    )
    assert queue["Properties"]["VisibilityTimeout"] == 600


def test_table(synth):
    synth.template.has_resource_properties(
        "AWS::DynamoDB::Table",
        {
            "TableName": "conveyor-test-tasks",
            "BillingMode": "PAY_PER_REQUEST",
            "KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}],
            "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True},
            "SSESpecification": {"SSEEnabled": True},
            "TimeToLiveSpecification": {"AttributeName": "ttl", "Enabled": True},
            "GlobalSecondaryIndexes": [
                {
                    "IndexName": "by_type",
                    "Projection": {"ProjectionType": "KEYS_ONLY"},
                    "KeySchema": [
                        {"AttributeName": "type", "KeyType": "HASH"},
                        {"AttributeName": "id", "KeyType": "RANGE"},
                    ],
                }
            ],
        },
    )


def test_bucket(synth):
    synth.template.has_resource_properties(
        "AWS::S3::Bucket",
        {
            "BucketEncryption": {
                "ServerSideEncryptionConfiguration": [
                    {"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}
                ]
            },
            "PublicAccessBlockConfiguration": {
                "BlockPublicAcls": True,
                "BlockPublicPolicy": True,
                "IgnorePublicAcls": True,
                "RestrictPublicBuckets": True,
            },
            "LifecycleConfiguration": {
                "Rules": Match.array_with(
                    [Match.object_like({"ExpirationInDays": 30, "Status": "Enabled"})]
                )
            },
        },
    )
    synth.template.has_resource_properties(
        "AWS::S3::BucketPolicy",
        {
            "PolicyDocument": {
                "Statement": Match.array_with(
                    [
                        Match.object_like(
                            {
                                "Effect": "Deny",
                                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                            }
                        )
                    ]
                )
            }
        },
    )


def test_lambda_executors(synth):
    functions = {
        f["Properties"]["FunctionName"]: f["Properties"]
        for f in synth.resources("AWS::Lambda::Function").values()
    }
    assert set(functions) == {
        "conveyor-test-send-welcome-email",
        "conveyor-test-make-thumbnail",
        "conveyor-test-nightly-report",
        "conveyor-test-call-webhook",
        "conveyor-test-submit-api",
    }
    email = functions["conveyor-test-send-welcome-email"]
    assert email["ReservedConcurrentExecutions"] == 20  # the type's concurrency quota
    assert email["Timeout"] == 40  # the task's 30 s plus the runner's grace
    assert email["MemorySize"] == 512
    assert email["TracingConfig"] == {"Mode": "Active"}
    assert email["Handler"] == "functions.executor.app.handler"
    assert email["Environment"]["Variables"]["CONVEYOR_CATALOG"] == "examples.catalog"
    assert "Powertools" in json.dumps(email["Layers"])
    assert functions["conveyor-test-make-thumbnail"]["MemorySize"] == 1024
    assert "ReservedConcurrentExecutions" not in functions["conveyor-test-nightly-report"]


def test_fargate_worker_service(synth):
    synth.template.has_resource_properties(
        "AWS::ECS::Cluster",
        {"ClusterSettings": [{"Name": "containerInsights", "Value": "enabled"}]},
    )
    synth.template.has_resource_properties(
        "AWS::ECS::Service",
        {
            "ServiceName": "conveyor-test-reindex-catalog",
            "DesiredCount": 0,
            "DeploymentConfiguration": Match.object_like(
                {"DeploymentCircuitBreaker": {"Enable": True, "Rollback": True}}
            ),
            "NetworkConfiguration": {
                "AwsvpcConfiguration": Match.object_like({"AssignPublicIp": "ENABLED"})
            },
        },
    )
    synth.template.has_resource_properties(
        "AWS::ECS::Service", {"ServiceName": "conveyor-test-dispatcher", "DesiredCount": 1}
    )
    definitions = [d["Properties"] for d in synth.resources("AWS::ECS::TaskDefinition").values()]
    worker = next(d for d in definitions if d["ContainerDefinitions"][0]["Name"] == "worker")
    assert (worker["Cpu"], worker["Memory"]) == ("1024", "2048")
    container = worker["ContainerDefinitions"][0]
    assert container["StopTimeout"] == 120
    assert container["Command"] == ["python", "-m", "conveyor.worker"]
    dispatcher = next(
        d for d in definitions if d["ContainerDefinitions"][0]["Name"] == "dispatcher"
    )
    assert dispatcher["ContainerDefinitions"][0]["Command"] == ["conveyor", "dispatcher"]
    assert dispatcher["ContainerDefinitions"][0]["Image"] == container["Image"]  # one image
    env = {e["Name"]: e["Value"] for e in container["Environment"]}
    assert env["CONVEYOR_TASK_TYPE"] == "reindex_catalog"
    assert container["LogConfiguration"]["LogDriver"] == "awslogs"
    statements = json.dumps(synth.resources("AWS::IAM::Policy"))
    assert "ecs:UpdateTaskProtection" in statements
    for group in synth.resources("AWS::Logs::LogGroup").values():
        assert group["Properties"]["RetentionInDays"] == 30


def _steps_by_capacity(synth):
    """Step adjustments of every ExactCapacity policy, keyed by its target's MaxCapacity."""
    targets = synth.resources("AWS::ApplicationAutoScaling::ScalableTarget")
    out = {}
    for policy in synth.resources("AWS::ApplicationAutoScaling::ScalingPolicy").values():
        props = policy["Properties"]
        config = props["StepScalingPolicyConfiguration"]
        if config["AdjustmentType"] != "ExactCapacity":
            continue
        target = targets[props["ScalingTargetId"]["Ref"]]["Properties"]
        out.setdefault(target["MaxCapacity"], []).extend(
            (
                s["ScalingAdjustment"],
                s.get("MetricIntervalLowerBound"),
                s.get("MetricIntervalUpperBound"),
            )
            for s in config["StepAdjustments"]
        )
    return {k: sorted(v, key=str) for k, v in out.items()}


def test_queue_depth_scaling_follows_the_rule_table(synth):
    targets = [
        t["Properties"]
        for t in synth.resources("AWS::ApplicationAutoScaling::ScalableTarget").values()
    ]
    assert sorted((t["MinCapacity"], t["MaxCapacity"]) for t in targets) == [(0, 3), (0, 4)]
    rule = ScalingRule(max_workers=4)
    expected = [(0, None, 0)] + [
        (w, lo - 1, None if up is None else up - 1) for lo, up, w in rule.table()
    ]
    steps = _steps_by_capacity(synth)
    assert steps[4] == sorted(expected, key=str)  # the re-index workers: 0 -> 4 -> 0
    # the dispatcher: 0 -> 1 -> 2 -> 3 (one more per 2,000 waiting messages) -> 0
    assert steps[3] == sorted(
        [(0, None, 0), (1, 0, 1999), (2, 1999, 3999), (3, 3999, None)], key=str
    )
    alarms = [a["Properties"] for a in synth.resources("AWS::CloudWatch::Alarm").values()]
    backlog = [
        a
        for a in alarms
        if "Metrics" in a and a["AlarmDescription"].startswith(("work waiting", "no work"))
    ]
    assert len(backlog) == 4
    dispatcher_backlog = [a for a in backlog if len(a["Metrics"]) == 1 + 2 * 3]
    assert len(dispatcher_backlog) == 2  # summed over the three lanes
    assert any(
        a.get("MetricName") == "ApproximateAgeOfOldestMessage" and a["Threshold"] == 300
        for a in alarms
    )


def test_alarms_and_dashboard(synth):
    alarms = [a["Properties"] for a in synth.resources("AWS::CloudWatch::Alarm").values()]
    dlq = [a for a in alarms if a.get("MetricName") == "ApproximateNumberOfMessagesVisible"]
    assert dlq
    assert dlq[0]["Threshold"] == 1
    lane_age = [
        a
        for a in alarms
        if a.get("MetricName") == "ApproximateAgeOfOldestMessage" and a["Threshold"] == 900
    ]
    assert len(lane_age) == 3
    body = json.dumps(next(iter(synth.resources("AWS::CloudWatch::Dashboard").values())))
    for title in ("Lane depth", "Oldest task age", "Queue wait vs run time", "DLQ"):
        assert title in body


def test_no_iam_wildcard_actions(synth):
    for policy in synth.resources("AWS::IAM::Policy").values():
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            actions = statement["Action"]
            for action in [actions] if isinstance(actions, str) else actions:
                assert "*" not in action, action


def test_cfn_lint_reports_no_errors(synth):
    assert cfn_lint_errors(synth.template_path) == []


def test_dev_cloud_provisions_what_the_template_declares(synth, aws):
    provisioned = provision(aws, synth.stack.topology, catalog)
    template_queues = {
        q["Properties"]["QueueName"] for q in synth.resources("AWS::SQS::Queue").values()
    }
    assert set(provisioned.queues) == template_queues
    table = next(iter(synth.resources("AWS::DynamoDB::Table").values()))["Properties"]
    described = aws.dynamodb.describe_table(TableName=provisioned.table)["Table"]
    assert described["TableName"] == table["TableName"]
    assert described["KeySchema"] == table["KeySchema"]
    assert [
        (i["IndexName"], i["KeySchema"], i["Projection"])
        for i in described["GlobalSecondaryIndexes"]
    ] == [
        (i["IndexName"], i["KeySchema"], i["Projection"]) for i in table["GlobalSecondaryIndexes"]
    ]
    bus = next(iter(synth.resources("AWS::Events::EventBus").values()))["Properties"]["Name"]
    assert bus == provisioned.event_bus
    for name, url in provisioned.queues.items():
        attrs = aws.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
        declared = next(
            q["Properties"]
            for q in synth.resources("AWS::SQS::Queue").values()
            if q["Properties"]["QueueName"] == name
        )
        assert int(attrs["VisibilityTimeout"]) == declared.get("VisibilityTimeout", 30), name


def test_catalog_schedules_become_scheduler_schedules(synth):
    from conveyor.triggers import fire_body

    nightly = catalog.get("nightly_report")
    (schedule,) = synth.resources("AWS::Scheduler::Schedule").values()
    props = schedule["Properties"]
    assert props["Name"] == "nightly"
    assert props["GroupName"] == "conveyor-test"
    assert props["ScheduleExpression"] == "cron(0 2 * * ? *)"
    assert props["ScheduleExpressionTimezone"] == "Europe/Paris"
    assert props["Target"]["Input"] == fire_body("nightly_report", nightly.schedules[0], "nightly")
    assert "DeadLetterConfig" in props["Target"]
    synth.template.has_resource_properties(
        "AWS::IAM::Role",
        {
            "RoleName": "conveyor-test-scheduler",
            "AssumeRolePolicyDocument": {
                "Statement": [
                    Match.object_like({"Principal": {"Service": "scheduler.amazonaws.com"}})
                ]
            },
        },
    )


def test_event_triggers_become_rules_into_lanes(synth):
    from conveyor.triggers import trigger_transformer

    webhook = catalog.get("call_webhook")
    (rule,) = synth.resources("AWS::Events::Rule").values()
    props = rule["Properties"]
    assert props["EventPattern"] == {"source": ["shop.orders"], "detail-type": ["Order Placed"]}
    (target,) = props["Targets"]
    paths, template = trigger_transformer("call_webhook", webhook.triggers[0])
    assert target["InputTransformer"] == {"InputPathsMap": paths, "InputTemplate": template}
    assert "DeadLetterConfig" in target


def test_http_api_is_iam_authorized_logged_and_throttled(synth):
    routes = [r["Properties"] for r in synth.resources("AWS::ApiGatewayV2::Route").values()]
    assert sorted(r["RouteKey"] for r in routes) == [
        "DELETE /tasks/{id}",
        "GET /tasks/{id}",
        "POST /tasks/{type}",
    ]
    assert {r["AuthorizationType"] for r in routes} == {"AWS_IAM"}
    (stage,) = [s["Properties"] for s in synth.resources("AWS::ApiGatewayV2::Stage").values()]
    assert stage["DefaultRouteSettings"]["ThrottlingRateLimit"] == 500
    assert "DestinationArn" in stage["AccessLogSettings"]


def test_dev_cloud_schedules_and_rules_match_the_template(synth, aws):
    provisioned = provision(aws, synth.stack.topology, catalog)
    (schedule,) = synth.resources("AWS::Scheduler::Schedule").values()
    live = aws.scheduler.get_schedule(Name="nightly", GroupName="conveyor-test")
    assert provisioned.schedules == ["nightly"]
    for key in ("ScheduleExpression", "ScheduleExpressionTimezone"):
        assert live[key] == schedule["Properties"][key]
    assert live["Target"]["Input"] == schedule["Properties"]["Target"]["Input"]
    (rule,) = synth.resources("AWS::Events::Rule").values()
    (name,) = provisioned.rules
    assert name == rule["Properties"]["Name"]
    described = aws.events.describe_rule(Name=name)
    assert json.loads(described["EventPattern"]) == rule["Properties"]["EventPattern"]
    (target,) = aws.events.list_targets_by_rule(Rule=name)["Targets"]
    assert target["InputTransformer"] == rule["Properties"]["Targets"][0]["InputTransformer"]

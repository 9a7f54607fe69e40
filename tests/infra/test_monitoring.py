"""The dashboard shows every component's EMF metrics; alarms watch the DLQ and lane age."""

from __future__ import annotations

import json


def test_dashboard_shows_dispatcher_worker_reconciler_and_api_metrics(synth):
    body = json.dumps(next(iter(synth.resources("AWS::CloudWatch::Dashboard").values())))
    for title in (
        "Dispatcher: backlog per lane",
        "age of the oldest message received per lane",
        "Dispatch rate per type",
        "Top tenants: dispatches and executor-seconds",
        "Workers: outcomes per type and kind",
        "Reconciler repairs",
    ):
        assert title in body, title
    metrics = ("backlog", "dlq_depth", "oldest_age", "oldest_age_received",
               "tenant_executor_seconds", "reconciler_resent", "backpressure_refusals")  # fmt: skip
    for metric in metrics:
        assert f'\\"{metric}\\"' in body or f'MetricName=\\\\\\"{metric}' in body, metric
    assert body.count("SEARCH(") >= 5
    assert "conveyor-dispatcher" in body and "conveyor-api" in body


def test_alarms_on_dlq_and_on_age_of_oldest(synth):
    alarms = [a["Properties"] for a in synth.resources("AWS::CloudWatch::Alarm").values()]
    names = {a.get("MetricName") for a in alarms}
    assert {"ApproximateNumberOfMessagesVisible", "ApproximateAgeOfOldestMessage"} <= names

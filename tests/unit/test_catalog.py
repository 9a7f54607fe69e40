from __future__ import annotations

import pytest

from conveyor import Catalog, CatalogError, EventTrigger, Retry, Schedule, load_catalog
from conveyor.durations import Rate


def declare(**opts):
    catalog = Catalog("t")

    def handler(payload, ctx):
        return payload

    catalog.task(name=opts.pop("name", "job"), **opts)(handler)
    return catalog.get("job")


def test_defaults_are_typed_and_frozen():
    job = declare(rate_limit="50/s", ttl="1h", retry=Retry(max_attempts=5))
    assert job.rate_limit == Rate(50, 1)
    assert job.ttl == 3600
    assert job.retry.max_attempts == 5
    with pytest.raises(AttributeError):
        job.timeout = 3  # type: ignore[misc]


@pytest.mark.parametrize(
    ("opts", "field"),
    [
        ({"executor": "ec2"}, "executor"),
        ({"timeout": 0}, "timeout"),
        ({"timeout": 901}, "timeout"),
        ({"timeout": "soon"}, "timeout"),
        ({"memory": 64}, "memory"),
        ({"cpu": 300}, "cpu"),
        ({"retry": {"max_attempts": 3}}, "retry"),
        ({"retry": Retry(max_attempts=0)}, "retry.max_attempts"),
        ({"retry": Retry(backoff_base=10, backoff_cap=1)}, "retry.backoff_cap"),
        ({"retry": Retry(non_retryable=(42,))}, "retry.non_retryable"),
        ({"rate_limit": "fast"}, "rate_limit"),
        ({"concurrency": 0}, "concurrency"),
        ({"concurrency": True}, "concurrency"),
        ({"priority": "urgent"}, "priority"),
        ({"ttl": -1}, "ttl"),
        ({"dedup_window": "never"}, "dedup_window"),
        ({"schedules": (Schedule("cron(0 2 * * *)"),)}, "schedules[0]"),
        ({"schedules": (Schedule("rate(1 minutes)"),)}, "schedules[0]"),
        ({"schedules": (Schedule("rate(5 minutes)", timezone="Mars/Olympus"),)}, "schedules[0]"),
        (
            {
                "schedules": (
                    Schedule("rate(5 minutes)", name="a"),
                    Schedule("rate(1 hour)", name="a"),
                )
            },
            "schedules",
        ),
        ({"triggers": (EventTrigger({}),)}, "triggers[0]"),
        ({"triggers": (EventTrigger({"source": "x"}),)}, "triggers[0]"),
        ({"direct": True, "executor": "fargate", "timeout": 60}, "direct"),
        ({"colour": "red"}, "colour"),
        ({"name": "Bad-Name"}, "name"),
        ({"name": "job\n"}, "name"),
    ],
)
def test_wrong_declarations_name_the_task_and_the_field(opts, field):
    with pytest.raises(CatalogError) as info:
        declare(**opts)
    assert "task " in str(info.value)
    assert f"field {field!r}" in str(info.value)


def test_fargate_allows_long_timeouts_and_dedup_forever():
    job = declare(executor="fargate", timeout="6h", dedup_window="forever", cpu=1024)
    assert (job.timeout, job.dedup_window) == (6 * 3600, None)


def test_handle_is_still_the_function_and_the_catalog_loads_by_module_path():
    catalog = load_catalog("examples.catalog")
    assert {"send_welcome_email", "reindex_catalog"} <= set(catalog.names)
    from examples.catalog import make_thumbnail

    assert make_thumbnail({"key": "k", "width": 512, "height": 256}, None)["width"] == 256
    assert catalog.get("make_thumbnail").handler_path == "examples.catalog:make_thumbnail"
    with pytest.raises(CatalogError):
        load_catalog("examples.no_such_module")


def test_duplicate_declaration_is_refused():
    catalog = Catalog("t")
    catalog.task(name="job")(lambda p, c: 1)
    with pytest.raises(CatalogError, match="declared twice"):
        catalog.task(name="job")(print)


def test_events_default_to_failures_and_take_names_or_states():
    cat = Catalog("events")

    def handler(payload, ctx):
        return None

    assert cat.task(name="a")(handler).task_type.events == {"FAILED", "EXPIRED"}
    assert cat.task(name="b", events=True)(handler).task_type.events == {
        "SUCCEEDED",
        "FAILED",
        "CANCELLED",
        "EXPIRED",
    }
    assert cat.task(name="c", events=False)(handler).task_type.events == frozenset()
    assert cat.task(name="d", events=["succeeded"])(handler).task_type.events == {"SUCCEEDED"}
    for bad in ("some", ["RUNNING"], 3):
        with pytest.raises(CatalogError, match="'events'"):
            cat.task(name="e", events=bad)(handler)
    assert cat.task(name="f")(handler).task_type.indexed


def test_lean_is_off_by_default_and_declared_per_type():
    assert declare().lean is False
    lean = declare(lean=True, timeout=300)
    assert (lean.lean, lean.executor, lean.timeout) == (True, "lambda", 300)


@pytest.mark.parametrize(
    ("opts", "why"),
    [
        ({"lean": True, "executor": "fargate"}, "executor='lambda'"),
        ({"lean": True, "direct": True}, "needs the dispatcher"),
        ({"lean": True, "timeout": 301}, "over lean mode's 300s"),
        ({"lean": True, "timeout": "10m"}, "over lean mode's 300s"),
        ({"lean": "yes"}, "must be True or False"),
        ({"lean": 1}, "must be True or False"),
    ],
)
def test_lean_rejects_what_needs_a_lease(opts, why):
    catalog = Catalog("t")
    with pytest.raises(CatalogError, match=r"task 'job': field 'lean': ") as caught:
        catalog.task(name="job", **opts)(lambda payload, ctx: None)
    assert why in str(caught.value)
    assert "job" not in catalog  # nothing registered

"""The dashboard in a real browser against a running dev cloud: every screen loads, live
parts refresh without a reload, a task's timeline is one click away, a DLQ entry redriven
from the page succeeds, a type is paused and resumed from the page."""

from __future__ import annotations

import pytest

from tests.browser.conftest import SCREENSHOTS
from tests.support.waiting import wait_for

pytestmark = pytest.mark.browser


def expect(locator):
    from playwright.sync_api import expect as pw_expect

    return pw_expect(locator)


SCREENS = [
    ("/", "overview", "#queues"),
    ("/tenants", "tenants", "#tenants"),
    ("/tasks", "tasks", "#task-list"),
    ("/dlq", "dlq", "#dlq-list"),
    ("/schedules", "schedules", "#schedule-list"),
    ("/cost", "cost", "#cost"),
]


@pytest.mark.parametrize(("path", "name", "table"), SCREENS)
def test_every_screen_loads_without_errors(page, deployment, path, name, table):
    response = page.goto(path)
    assert response.status == 200
    expect(page.locator(table)).to_be_visible()
    assert page.locator("section.error, .aws-errors").count() == 0
    expect(page.locator(f"nav a[aria-current=page][href='{path}']")).to_have_count(1)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"))


def test_overview_shows_every_state_and_refreshes_in_place(page, deployment):
    page.goto("/")
    for state in ("succeeded", "failed", "running", "queued", "scheduled", "cancelled"):
        expect(page.locator(".card .k", has_text=state).first).to_be_visible()
    expect(page.locator("#queues")).to_contain_text("dash-lane-high-0")
    expect(page.locator("#queues")).to_contain_text("dash-dlq")
    expect(page.locator("#workers")).to_contain_text("reindex")
    page.evaluate("window.__notReloaded = true")
    with page.expect_response(lambda r: r.request.headers.get("hx-request") == "true"):
        pass  # the live part re-fetches itself (every 3 s)
    expect(page.locator("#types")).to_be_visible()
    assert page.evaluate("window.__notReloaded") is True
    page.screenshot(path=str(SCREENSHOTS / "overview-live.png"))


def test_a_failed_refresh_shows_the_error_in_place(page, deployment):
    page.goto("/")
    failure = '<section class="error"><h1>AWS request failed</h1><p>Throttling</p></section>'

    def fail_live_refreshes(route):
        if route.request.headers.get("hx-request") == "true":
            route.fulfill(status=502, body=failure, content_type="text/html")
        else:
            route.continue_()

    page.route("**/*", fail_live_refreshes)
    expect(page.locator("#live section.error h1")).to_have_text("AWS request failed")
    expect(page.locator("header nav")).to_be_visible()


def test_click_through_to_a_retried_tasks_timeline(page, deployment):
    flaky = deployment.ids["flaky"]
    page.goto("/tasks?type=work&state=SUCCEEDED")
    page.locator("a.task-link", has_text=flaky).click()
    expect(page).to_have_url(f"{deployment.url}/tasks/{flaky}")
    expect(page.locator("h1")).to_contain_text("SUCCEEDED")
    expect(page.locator("#task-facts")).to_contain_text("3")
    expect(page.locator("#clocks")).to_contain_text("retry wait")
    assert page.locator("svg.timeline rect.seg-run").count() >= 1
    assert page.locator("#attempts tbody tr").count() == 3  # the exact attempt history
    expect(page.locator("#attempts")).to_contain_text("retryable")
    for span in ("admission", "queue", "invoke", "run", "retry"):  # the task's trace
        assert page.locator(f"#spans .spanbar.{span}").count() >= 1, span
    expect(page.locator("#result")).to_contain_text('"attempt": 3')
    page.screenshot(path=str(SCREENSHOTS / "task-timeline.png"), full_page=True)


def test_search_by_id_and_unknown_id(page, deployment):
    page.goto("/")
    page.fill("input[name=id]", deployment.ids["fatal"])
    page.press("input[name=id]", "Enter")
    expect(page.locator("#error")).to_contain_text("Fatal")
    page.goto("/tasks/no-such-task")
    expect(page.locator("section.error h1")).to_have_text("Task not found")


def test_redrive_a_dlq_entry_and_see_it_succeed(page, deployment):
    task_id = deployment.ids["fixable"]
    (deployment.ledger / f"fixed-{task_id}").write_text("deployed")
    page.goto("/dlq")
    row = page.locator(f"#dlq-list tr[data-task='{task_id}']")
    expect(row).to_contain_text("the fix is not deployed yet")
    page.screenshot(path=str(SCREENSHOTS / "dlq.png"))
    row.get_by_role("link", name=task_id).click()
    expect(page.locator("h1")).to_contain_text(f"DLQ entry for {task_id}")
    expect(page.locator("pre").last).to_contain_text('"mode":"fixable"')
    page.get_by_role("button", name="Redrive").click()
    expect(page.locator(".flash.ok")).to_contain_text(f"redriven 1 task(s): {task_id}")
    wait_for(lambda: deployment.client.get(task_id).state.value == "SUCCEEDED", timeout=30)
    page.goto(f"/tasks/{task_id}")
    expect(page.locator("h1")).to_contain_text("SUCCEEDED")
    page.goto("/dlq")
    expect(page.locator(f"#dlq-list tr[data-task='{task_id}']")).to_have_count(0)


def test_pause_and_resume_a_type(page, deployment):
    held = deployment.ids["held"]
    assert deployment.client.get(held).state.value == "QUEUED"
    page.goto("/")
    row = page.locator("#types tr[data-type='report']")
    expect(row.locator(".badge.paused")).to_be_visible()
    row.get_by_role("button", name="Resume").click()
    expect(page.locator(".flash.ok")).to_contain_text("resumed type report")
    wait_for(lambda: deployment.client.get(held).state.value == "SUCCEEDED", timeout=30)
    row = page.locator("#types tr[data-type='report']")
    expect(row.locator(".badge.paused")).to_have_count(0)
    row.get_by_role("button", name="Pause").click()
    expect(page.locator(".flash.ok")).to_contain_text("paused type report")
    expect(page.locator("#types tr[data-type='report'] .badge.paused")).to_be_visible()
    assert ("type", "report") in deployment.client.paused()
    page.locator("#types tr[data-type='report']").get_by_role("button", name="Resume").click()
    expect(page.locator(".flash.ok")).to_contain_text("resumed type report")
    assert ("type", "report") not in deployment.client.paused()


def test_cancel_a_waiting_task_from_its_page(page, deployment):
    task_id = deployment.ids["delayed"]
    page.goto(f"/tasks/{task_id}")
    expect(page.locator("h1")).to_contain_text("QUEUED")
    page.get_by_role("button", name="Cancel task").click()
    expect(page.locator(".flash.ok")).to_contain_text(f"cancelled {task_id}")
    expect(page.locator("h1")).to_contain_text("CANCELLED")
    assert deployment.client.get(task_id).state.value == "CANCELLED"


def test_pause_and_resume_a_schedule(page, deployment):
    page.goto("/schedules")
    row = page.locator("#schedule-list tr", has_text="hourly-report")
    expect(row).to_contain_text("rate(1 hour)")
    expect(row).to_contain_text("enabled")
    row.get_by_role("button", name="Pause").click()
    expect(page.locator(".flash.ok")).to_contain_text("paused schedule hourly-report")
    row = page.locator("#schedule-list tr", has_text="hourly-report")
    expect(row).to_contain_text("paused")
    row.get_by_role("button", name="Resume").click()
    expect(page.locator(".flash.ok")).to_contain_text("resumed schedule hourly-report")
    expect(page.locator("#schedule-list tr", has_text="hourly-report")).to_contain_text("enabled")


def test_cancel_a_running_task_from_its_page(page, deployment):
    task_id = deployment.ids["running"]
    page.goto(f"/tasks/{task_id}")
    expect(page.locator("h1")).to_contain_text("RUNNING")
    expect(page.locator("svg.timeline rect.seg-run")).to_have_count(1)
    page.get_by_role("button", name="Cancel task").click()
    expect(page.locator(".flash.ok")).to_contain_text(f"asked running task {task_id} to stop")
    wait_for(lambda: deployment.client.get(task_id).terminal, timeout=30)
    page.reload()
    expect(page.locator("#error")).to_contain_text("cancelled")

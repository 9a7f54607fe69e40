"""A dev cloud running the platform, filled with tasks in every state, the dashboard
serving it, and headless Chromium (Debian's package) driven by Playwright.

Skips only when no Chromium is installed on this machine (``.ci/run`` installs it).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from conveyor.local.devcloud import DevCloud
from conveyor.topology import Topology
from tests.browser import shop
from tests.support.waiting import wait_for

CHROMIUM = os.environ.get("CONVEYOR_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
SCREENSHOTS = Path(__file__).resolve().parents[2] / "build" / "screenshots"


@dataclass
class Deployment:
    client: Any
    url: str
    ids: dict[str, str]
    ledger: Path


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"no Chromium at {CHROMIUM}: apt-get install chromium (.ci/run does)")
    pytest.importorskip("playwright.sync_api", reason="playwright is a dev dependency")
    from conveyor.dashboard import platform_probe, serve
    from conveyor.local.platform import LocalPlatform

    ledger = tmp_path_factory.mktemp("ledger")
    saved = {k: os.environ.pop(k) for k in list(os.environ) if k.startswith("AWS_ENDPOINT")}
    old_ledger = os.environ.get("LEDGER_DIR")
    os.environ["LEDGER_DIR"] = str(ledger)
    cloud = DevCloud(shop.catalog, Topology(prefix="dash"), catalog_module="tests.browser.shop")
    cloud.start()
    platform = LocalPlatform(
        cloud, dispatcher_options={"pause_refresh": 0.5, "hold_seconds": 2.0}
    ).start()
    server = None
    ids: dict[str, str] = {}
    try:
        client = platform.runtime.client()
        ids = populate(client)
        server, _ = serve(client, 0, probe=platform_probe(platform))
        yield Deployment(client, f"http://127.0.0.1:{server.server_port}", ids, ledger)
    finally:
        if server is not None:
            server.shutdown()
        stop_running(platform, ids)
        platform.stop()
        cloud.stop()
        os.environ.update(saved)
        if old_ledger is None:
            os.environ.pop("LEDGER_DIR", None)
        else:
            os.environ["LEDGER_DIR"] = old_ledger


def stop_running(platform: Any, ids: dict[str, str]) -> None:
    """Cancel the long task if a test left it running; once no task runs, end the idle
    workers at once (each would otherwise finish its 20 s long poll first)."""
    client = platform.runtime.client()
    if "running" in ids and not client.get(ids["running"]).terminal:
        client.cancel(ids["running"])
        wait_for(lambda: client.get(ids["running"]).terminal, timeout=15)
    for pool in platform.pools.values():
        for proc in pool.alive():
            proc.kill()


def populate(client: Any) -> dict[str, str]:
    """Tasks in every state; returns the IDs the tests look for by role."""
    client.pause(task_type="report")
    ids: dict[str, str] = {}
    for i in range(6):
        client.submit("work", {"mode": "ok"}, tenant=f"tenant-{i % 3}", tags=["batch-1"])
    ids["flaky"] = client.submit("work", {"mode": "flaky"}, tenant="tenant-0").task_id
    ids["throttle"] = client.submit("work", {"mode": "throttle"}, tenant="tenant-1").task_id
    ids["fatal"] = client.submit("work", {"mode": "fatal"}, tenant="tenant-2").task_id
    ids["fixable"] = client.submit("work", {"mode": "fixable"}, tenant="tenant-1").task_id
    ids["held"] = client.submit("report", {"rows": 3}, tenant="tenant-0").task_id
    ids["delayed"] = client.submit("work", {"mode": "ok"}, delay=600).task_id
    ids["scheduled"] = client.submit("work", {"mode": "ok"}, delay=7200).task_id
    ids["cancelled"] = client.submit("work", {"mode": "ok"}, delay=600).task_id
    client.cancel(ids["cancelled"])
    ids["running"] = client.submit("reindex", {"chunks": 400, "chunk_seconds": 0.25}).task_id
    client.create_schedule("report", "rate(1 hour)", name="hourly-report", tenant="tenant-0")
    client.create_schedule(
        "work", "cron(0 2 * * ? *)", name="nightly-work", timezone="Europe/Paris"
    )
    for role in ("flaky", "throttle", "fatal", "fixable"):
        wait_for(lambda r=role: client.get(ids[r]).terminal, timeout=60)
    wait_for(lambda: client.get(ids["running"]).state.value == "RUNNING", timeout=60)
    return ids


@pytest.fixture(scope="module")
def browser(deployment: Deployment) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Any, deployment: Deployment) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 860}, base_url=deployment.url)
    context.set_default_timeout(15_000)
    pg = context.new_page()
    pg.on("dialog", lambda dialog: dialog.accept())
    yield pg
    context.close()

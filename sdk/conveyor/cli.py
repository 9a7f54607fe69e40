"""The ``conveyor`` command line (typer + rich).

Every command reads the catalog from ``--catalog`` or ``CONVEYOR_CATALOG`` and the
deployment from ``CONVEYOR_PREFIX``/``CONVEYOR_SHARDS``; AWS settings are boto3's own
(``AWS_PROFILE``, ``AWS_REGION``, ``AWS_ENDPOINT_URL`` for the dev cloud).
Errors print their message and exit 2; nothing is half-done.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from .catalog import load_catalog
from .client import Conveyor
from .errors import ConveyorError
from .topology import Topology

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="Conveyor: asynchronous tasks on AWS and on your laptop.",
)
console = Console()
err_console = Console(stderr=True)

CatalogOpt = Annotated[
    str | None, typer.Option("--catalog", "-c", help="catalog module path (or CONVEYOR_CATALOG)")
]


def _catalog_path(catalog: str | None) -> str:
    path = catalog or os.environ.get("CONVEYOR_CATALOG")
    if not path:
        raise ConveyorError("no catalog: pass --catalog MODULE or set CONVEYOR_CATALOG")
    return path


def _client(catalog: str | None) -> Conveyor:
    """An SDK client with every adapter (scheduler and events included), from the env."""
    from .aws import AwsClients
    from .runtime.bootstrap import aws_runtime

    runtime = aws_runtime(load_catalog(_catalog_path(catalog)), Topology.from_env(), AwsClients())
    return runtime.client()


def _print_json(value: Any) -> None:
    console.print_json(json.dumps(value, default=str))


schedule_app = typer.Typer(help="Recurring cron()/rate() schedules.", no_args_is_help=True)
app.add_typer(schedule_app, name="schedule")


@schedule_app.command("create")
def schedule_create(
    task_type: str,
    expression: str,
    name: Annotated[str | None, typer.Option()] = None,
    timezone: Annotated[str, typer.Option("--tz")] = "UTC",
    payload: Annotated[str, typer.Option(help="JSON payload")] = "null",
    tenant: Annotated[str, typer.Option()] = "default",
    catalog: CatalogOpt = None,
) -> None:
    """Create a schedule, e.g. `conveyor schedule create nightly_report "cron(0 2 * * ? *)"
    --tz Europe/Paris`."""
    try:
        data = json.loads(payload)
    except ValueError as exc:
        raise ConveyorError(f"--payload is not JSON: {exc}") from None
    created = _client(catalog).create_schedule(
        task_type, expression, name=name, timezone=timezone, payload=data, tenant=tenant
    )
    _print_json({"created": created})


@schedule_app.command("list")
def schedule_list(catalog: CatalogOpt = None) -> None:
    """List schedules with their expression, zone and state."""
    table = Table("name", "expression", "time zone", "state")
    for item in _client(catalog).list_schedules():
        table.add_row(
            item["Name"],
            item["ScheduleExpression"],
            item.get("ScheduleExpressionTimezone", "UTC"),
            item.get("State", ""),
        )
    console.print(table)


@schedule_app.command("pause")
def schedule_pause(name: str, catalog: CatalogOpt = None) -> None:
    """Disable a schedule (it keeps its definition)."""
    _client(catalog).pause_schedule(name)
    _print_json({"paused": name})


@schedule_app.command("resume")
def schedule_resume(name: str, catalog: CatalogOpt = None) -> None:
    """Enable a paused schedule again."""
    _client(catalog).resume_schedule(name)
    _print_json({"resumed": name})


@schedule_app.command("delete")
def schedule_delete(name: str, catalog: CatalogOpt = None) -> None:
    """Delete a schedule."""
    _client(catalog).delete_schedule(name)
    _print_json({"deleted": name})


def _dev_client(cloud: Any) -> Conveyor:
    from .local.devcloud import dev_client

    client: Conveyor = dev_client(cloud)
    return client


@app.command()
def dev(
    catalog: CatalogOpt = None,
    port: Annotated[int, typer.Option(help="port on 127.0.0.1; 0 picks a free one")] = 0,
    prefix: Annotated[str, typer.Option(help="resource name prefix")] = "conveyor",
    run: Annotated[
        bool,
        typer.Option(
            help="also run the platform: dispatcher, executors, autoscaled workers, schedule driver"
        ),
    ] = True,
    http_port: Annotated[int, typer.Option(help="HTTP submit API port; 0 picks one")] = 0,
) -> None:
    """Start the dev cloud (moto server on loopback), provision the catalog, run the
    platform on it, serve the HTTP submit API, and wait for Ctrl-C."""
    from .local.devcloud import DevCloud
    from .local.http_server import serve
    from .local.platform import LocalPlatform

    path = _catalog_path(catalog)
    cloud = DevCloud(
        load_catalog(path), Topology(prefix=prefix), port=port, catalog_module=path
    ).start()
    platform = LocalPlatform(cloud).start() if run else None
    server, _ = serve(platform.runtime.client() if platform else _dev_client(cloud), http_port)
    stop = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    console.print(f"[bold green]Conveyor dev cloud[/] at {cloud.endpoint}")
    assert cloud.provisioned is not None
    console.print(
        f"provisioned: table {cloud.provisioned.table}, bucket "
        f"{cloud.provisioned.bucket}, {len(cloud.provisioned.queues)} queues"
    )
    console.print("export these to use it from another shell:")
    for key, value in cloud.env().items():
        print(f"export {key}={value}")
    console.print(f"try: aws --endpoint-url {cloud.endpoint} sqs list-queues")
    sys.stdout.flush()
    console.print(f"HTTP submit API: http://127.0.0.1:{server.server_port}/tasks/<type>")
    sys.stdout.flush()
    try:
        while not stop.wait(0.5):
            pass
    finally:
        server.shutdown()
        if platform is not None:
            platform.stop()
        cloud.stop()
        console.print("dev cloud stopped")


@app.command()
def submit(
    task_type: str,
    payload: Annotated[str, typer.Option(help="JSON payload")] = "null",
    task_id: Annotated[str | None, typer.Option("--id")] = None,
    tenant: Annotated[str | None, typer.Option()] = None,
    priority: Annotated[str | None, typer.Option()] = None,
    delay: Annotated[float | None, typer.Option(help="seconds")] = None,
    catalog: CatalogOpt = None,
) -> None:
    """Submit one task."""
    try:
        data = json.loads(payload)
    except ValueError as exc:
        raise ConveyorError(f"--payload is not JSON: {exc}") from None
    result = _client(catalog).submit(
        task_type, data, task_id=task_id, tenant=tenant, priority=priority, delay=delay
    )
    _print_json(
        {
            "id": result.task_id,
            "status": result.status,
            "state": result.state.value if result.state else None,
        }
    )


@app.command()
def get(task_id: str, catalog: CatalogOpt = None) -> None:
    """Show one task: state, attempts, every timestamp, result or error."""
    _print_json(_client(catalog).get(task_id).to_dict())


@app.command("list")
def list_(
    task_type: Annotated[str | None, typer.Option("--type")] = None,
    state: Annotated[str | None, typer.Option()] = None,
    tenant: Annotated[str | None, typer.Option()] = None,
    limit: Annotated[int, typer.Option()] = 50,
    cursor: Annotated[str | None, typer.Option()] = None,
    catalog: CatalogOpt = None,
) -> None:
    """List tasks by type, state and tenant (paginated: pass --cursor to go on)."""
    page = _client(catalog).list(
        task_type=task_type, state=state, tenant=tenant, limit=limit, cursor=cursor
    )
    table = Table("id", "type", "tenant", "state", "attempts")
    for r in page.records:
        table.add_row(r.task_id, r.task_type, r.tenant, r.state.value, str(r.attempts))
    console.print(table)
    if page.cursor:
        console.print(f"more: --cursor {page.cursor}")


@app.command()
def cancel(
    task_id: Annotated[str | None, typer.Argument()] = None,
    task_type: Annotated[str | None, typer.Option("--type", help="cancel all of a type")] = None,
    tenant: Annotated[str | None, typer.Option(help="cancel all of a tenant")] = None,
    tag: Annotated[str | None, typer.Option(help="cancel all with a tag")] = None,
    catalog: CatalogOpt = None,
) -> None:
    """Cancel one task, or in bulk by --type/--tenant/--tag (running ones are asked to stop)."""
    client = _client(catalog)
    if task_id is not None:
        record = client.cancel(task_id)
        _print_json(
            {
                "id": record.task_id,
                "state": record.state.value,
                "cancel_requested": record.cancel_requested,
            }
        )
        return
    done = client.cancel_many(task_type=task_type, tenant=tenant, tag=tag)
    _print_json({"cancelled": len(done), "ids": done})


@app.command()
def result(
    task_id: str, timeout: Annotated[float, typer.Option()] = 60.0, catalog: CatalogOpt = None
) -> None:
    """Wait for a task and print its result (exit 2 if it did not succeed)."""
    _print_json(_client(catalog).result(task_id, timeout=timeout))


@app.command()
def pause(
    task_type: Annotated[str | None, typer.Option("--type")] = None,
    tenant: Annotated[str | None, typer.Option()] = None,
    catalog: CatalogOpt = None,
) -> None:
    """Pause a task type and/or a tenant: their tasks are held, running ones finish."""
    client = _client(catalog)
    client.pause(task_type=task_type, tenant=tenant)
    _print_json({"paused": sorted(map(list, client.paused()))})


@app.command()
def resume(
    task_type: Annotated[str | None, typer.Option("--type")] = None,
    tenant: Annotated[str | None, typer.Option()] = None,
    catalog: CatalogOpt = None,
) -> None:
    """Resume a task type and/or a tenant; held tasks come back spread out."""
    client = _client(catalog)
    client.resume(task_type=task_type, tenant=tenant)
    _print_json({"paused": sorted(map(list, client.paused()))})


dlq_app = typer.Typer(
    help="The dead-letter queue: list, show and redrive failed tasks.", no_args_is_help=True
)
app.add_typer(dlq_app, name="dlq")


def _since(since: str | None) -> Any:
    if since is None:
        return None
    from datetime import UTC, datetime, timedelta

    from .durations import DurationError, parse_duration

    try:
        return datetime.now(UTC) - timedelta(seconds=parse_duration(since))
    except DurationError as exc:
        raise ConveyorError(f"--since: {exc} (e.g. --since 2h)") from None


@dlq_app.command("list")
def dlq_list(
    task_type: Annotated[str | None, typer.Option("--type")] = None,
    since: Annotated[str | None, typer.Option(help="e.g. 2h")] = None,
    limit: Annotated[int, typer.Option()] = 100,
    catalog: CatalogOpt = None,
) -> None:
    """List DLQ entries with their reason."""
    table = Table("task id", "type", "tenant", "kind", "attempts", "reason")
    for entry in _client(catalog).dlq_list(task_type=task_type, since=_since(since), limit=limit):
        table.add_row(
            entry.task_id,
            entry.task_type,
            entry.tenant,
            entry.kind,
            str(entry.attempts),
            entry.reason[:80],
        )
    console.print(table)


@dlq_app.command("show")
def dlq_show(task_id: str, catalog: CatalogOpt = None) -> None:
    """Show one DLQ entry in full (the original message included)."""
    for entry in _client(catalog).dlq_list(limit=100_000):
        if entry.task_id == task_id:
            _print_json(entry.to_dict())
            return
    raise ConveyorError(f"no DLQ entry for task {task_id!r}")


@dlq_app.command("redrive")
def dlq_redrive(
    task_type: Annotated[str | None, typer.Option("--type")] = None,
    since: Annotated[str | None, typer.Option(help="e.g. 2h")] = None,
    catalog: CatalogOpt = None,
) -> None:
    """Re-queue DLQ entries (attempts reset); a crash mid-way loses nothing."""
    ids = _client(catalog).dlq_redrive(task_type=task_type, since=_since(since))
    _print_json({"redriven": len(ids), "ids": ids})


@app.command()
def dispatcher(
    catalog: CatalogOpt = None,
    local: Annotated[bool, typer.Option(help="run Lambda types in this process")] = False,
) -> None:
    """Run the dispatcher service until SIGTERM/SIGINT (the Fargate service's command)."""
    from .aws import AwsClients
    from .runtime.bootstrap import aws_runtime
    from .runtime.executors import LambdaExecutor, LocalExecutor

    runtime = aws_runtime(load_catalog(_catalog_path(catalog)), Topology.from_env(), AwsClients())
    runner = runtime.runner()
    executor = (
        LocalExecutor(runner)
        if local
        else LambdaExecutor(
            AwsClients(config=LambdaExecutor.CLIENT_CONFIG).lambda_, runtime.topology.prefix
        )
    )
    service = runtime.dispatcher(executor, runner=runner)
    stop = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    console.print(f"dispatcher on {len(runtime.topology.lanes)} lanes")
    service.run(stop)
    console.print("dispatcher stopped")


@app.command()
def demo(tasks: Annotated[int, typer.Option(help="tasks to submit")] = 1000) -> None:
    """Run the example catalog end to end on a fresh dev cloud and print a summary."""
    from .local.demo import run_demo

    raise typer.Exit(run_demo(tasks=tasks, console=Console(width=max(console.width, 130))))


def main() -> None:
    try:
        code = app(standalone_mode=False)
        sys.exit(code if isinstance(code, int) else 0)
    except ConveyorError as exc:
        err_console.print(f"[red]{type(exc).__name__}[/]: {exc}")
        sys.exit(2)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except (typer.Abort, KeyboardInterrupt):
        sys.exit(130)
    except Exception as exc:  # click usage errors
        import click

        if isinstance(exc, click.ClickException):
            exc.show()
            sys.exit(exc.exit_code)
        raise


if __name__ == "__main__":
    main()

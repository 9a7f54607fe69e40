"""The command line is assembled from command-group modules, each with ``register(app)``."""

from __future__ import annotations

import types

import typer
import typer.main

from conveyor.cli import COMMAND_GROUPS, app, build_app


def _names(a: typer.Typer) -> set[str]:
    group = typer.main.get_command(a)
    return set(group.commands)  # type: ignore[attr-defined]


def test_every_command_is_registered_once():
    assert _names(app) == {
        "submit",
        "get",
        "list",
        "cancel",
        "result",
        "pause",
        "resume",
        "dlq",
        "schedule",
        "principals",
        "cost",
        "dev",
        "demo",
        "dispatcher",
        "status",
        "dashboard",
        "sim",
    }


def test_a_new_group_plugs_in_with_register():
    extra = types.ModuleType("extra")

    def hello() -> None:
        """Say hello."""

    extra.register = lambda a: a.command("hello")(hello)  # type: ignore[attr-defined]
    assert _names(build_app((*COMMAND_GROUPS, extra))) == _names(app) | {"hello"}


def test_conveyor_sim_runs_a_scenario_and_reports_its_targets(tmp_path):
    from typer.testing import CliRunner

    result = CliRunner().invoke(
        app, ["sim", "tenants10k", "--seed", "3", "--no-charts", "--out", str(tmp_path)]
    )
    assert result.exit_code == 0, result.output
    assert "tenants10k" in result.output

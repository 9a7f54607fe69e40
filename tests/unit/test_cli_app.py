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
        "dev",
        "demo",
        "dispatcher",
    }


def test_a_new_group_plugs_in_with_register():
    extra = types.ModuleType("extra")

    def hello() -> None:
        """Say hello."""

    extra.register = lambda a: a.command("hello")(hello)  # type: ignore[attr-defined]
    assert _names(build_app((*COMMAND_GROUPS, extra))) == _names(app) | {"hello"}

"""Assemble the ``conveyor`` command line from its command groups, and run it.

Adding a command group: write ``cli/<group>.py`` with its commands and a
``register(app: typer.Typer) -> None`` (``app.command()(fn)`` for top-level commands,
``app.add_typer(sub_app, name=...)`` for a sub-command group), then list the module in
``COMMAND_GROUPS``. Commands raise ``ConveyorError`` for bad input; ``main`` prints it
on one line and exits 2.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from types import ModuleType

import typer

from ..errors import ConveyorError
from . import dev, dlq, pausing, schedules, service, tasks
from .common import err_console

#: Each module exposes ``register(app)``; order is the order of ``conveyor --help``.
COMMAND_GROUPS: tuple[ModuleType, ...] = (tasks, pausing, dlq, schedules, dev, service)


def build_app(groups: tuple[ModuleType, ...] = COMMAND_GROUPS) -> typer.Typer:
    """A fresh Typer app holding every command of ``groups``."""
    app = typer.Typer(
        add_completion=False,
        no_args_is_help=True,
        help="Conveyor: asynchronous tasks on AWS and on your laptop.",
    )
    for group in groups:
        register: Callable[[typer.Typer], None] = group.register
        register(app)
    return app


app = build_app()


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

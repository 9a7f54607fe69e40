"""Assemble the ``conveyor`` command line from its command groups, and run it.

Adding a command group: write ``cli/<group>.py`` with its commands and a
``register(app: typer.Typer) -> None`` (``app.command()(fn)`` for top-level commands,
``app.add_typer(sub_app, name=...)`` for a sub-command group), then list the module in
``COMMAND_GROUPS``. Commands raise ``ConveyorError`` for bad input; ``main`` prints it
on one line and exits 2.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from types import ModuleType

import typer
from botocore.exceptions import BotoCoreError, ClientError
from rich.text import Text

try:  # typer >= 0.29 raises its own copy of click's exceptions, not click's
    from typer._click.exceptions import ClickException, NoArgsIsHelpError
except ImportError:  # pragma: no cover - older typer uses click itself
    from click.exceptions import ClickException, NoArgsIsHelpError  # type: ignore[assignment]

from ..dashboard import cli as people
from ..errors import ConveyorError
from . import costs, dev, dlq, pausing, principals, schedules, service, simulate, tasks
from .common import err_console

#: Each module exposes ``register(app)``; order is the order of ``conveyor --help``.
COMMAND_GROUPS: tuple[ModuleType, ...] = (
    tasks,
    people,
    pausing,
    dlq,
    schedules,
    principals,
    costs,
    dev,
    service,
    simulate,
)


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


def _import_path_from_cwd() -> None:
    """Put the working directory first on the import path, as ``python -m`` and Celery's
    ``-A`` do, so ``--catalog examples.catalog`` works from the project root."""
    cwd = os.getcwd()
    if "" not in sys.path and cwd not in sys.path:
        sys.path.insert(0, cwd)


def _one_line(exc: ClickException) -> str:
    """A usage error on one line, with where to find help."""
    text = " ".join(exc.format_message().split())
    ctx = getattr(exc, "ctx", None)
    hint = f" (see '{ctx.command_path} --help')" if ctx is not None else ""
    return f"Error: {text}{hint}"


def main() -> None:
    """The console entry point: exit 0 on success, 2 on bad input or usage (one line on
    stderr), 1 on an AWS error (one line), 130 on Ctrl-C."""
    _import_path_from_cwd()
    try:
        code = app(standalone_mode=False)
        sys.exit(code if isinstance(code, int) else 0)
    except ConveyorError as exc:
        err_console.print(Text.assemble((type(exc).__name__, "red"), f": {exc}"))
        sys.exit(2)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except (typer.Abort, KeyboardInterrupt):
        sys.exit(130)
    except NoArgsIsHelpError as exc:  # typer has printed the help already
        sys.exit(exc.exit_code)
    except ClickException as exc:
        print(_one_line(exc), file=sys.stderr)
        sys.exit(exc.exit_code)
    except (BotoCoreError, ClientError) as exc:
        err_console.print(Text.assemble((type(exc).__name__, "red"), f": {exc}"))
        sys.exit(1)

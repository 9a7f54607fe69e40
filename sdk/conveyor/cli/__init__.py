"""The ``conveyor`` command line (typer + rich): one module per command group.

``conveyor.cli:main`` is the console entry point; ``app.py`` lists the groups.
"""

from __future__ import annotations

from .app import COMMAND_GROUPS, app, build_app, main

__all__ = ["COMMAND_GROUPS", "app", "build_app", "main"]

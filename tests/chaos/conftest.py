"""Collects the chaos scenarios' results and prints their table after the run."""

from __future__ import annotations

from typing import Any

from bench.chaos.common import Result, table

RESULTS: list[Result] = []


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if RESULTS:
        terminalreporter.write_sep("-", "chaos scenarios")
        terminalreporter.write_line(table(RESULTS))

"""``conveyor sim``: the scheduler simulation (the same policy objects the dispatcher
uses, a fake clock, FIFO and round-robin baselines beside them)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer


def sim(
    scenarios: Annotated[
        list[str] | None, typer.Argument(help="scenarios to run (default: all)")
    ] = None,
    seed: Annotated[int, typer.Option(help="random seed: same seed, same numbers")] = 1,
    out: Annotated[Path, typer.Option(help="where the PNG charts go")] = Path("build/sim"),
    charts: Annotated[bool, typer.Option(help="write PNG charts")] = True,
) -> None:
    """Run scheduler scenarios; print their tables; exit 1 if a target is missed."""
    from ..sim.__main__ import main

    argv = [*(scenarios or []), "--seed", str(seed), "--out", str(out)]
    code = main(argv if charts else [*argv, "--no-charts"])
    if code:
        raise typer.Exit(code)


def register(app: typer.Typer) -> None:
    app.command()(sim)

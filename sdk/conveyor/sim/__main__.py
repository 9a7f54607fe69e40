"""``python -m conveyor.sim [SCENARIO ...] [--seed N] [--out DIR]``: run scenarios of the
scheduler simulation, print their tables and write their charts (default: all)."""

from __future__ import annotations

import argparse
from pathlib import Path

from .report import charts, print_report
from .run import run
from .scenarios import SCENARIOS


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m conveyor.sim", description=__doc__)
    parser.add_argument(
        "scenarios", nargs="*", metavar="SCENARIO", help=f"{', '.join(SCENARIOS)} (default: all)"
    )
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", type=Path, default=Path("build/sim"))
    parser.add_argument("--no-charts", action="store_true")
    args = parser.parse_args(argv)
    unknown = [n for n in args.scenarios if n not in SCENARIOS]
    if unknown:
        parser.error(f"unknown scenario {unknown[0]!r}; choose from {', '.join(SCENARIOS)}")
    failed = []
    for name in args.scenarios or list(SCENARIOS):
        report = run(name, args.seed)
        print_report(report)
        if not args.no_charts:
            for path in charts(report, args.out):
                print(f"chart: {path}")
        failed += [f"{name}: {t.label}" for t in report.targets if t.bound and not t.ok]
    if failed:
        print("targets missed:", "; ".join(failed))
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())

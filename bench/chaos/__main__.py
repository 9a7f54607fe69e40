"""``python -m bench.chaos [--tasks N] [--seed S] [--only TEXT]``: run every scenario, print
the table (scenario, tasks, lost, doubled, re-runs, repair time) and what went wrong;
exit 1 when any scenario lost a task, doubled a success or re-ran a handler unexplained.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

for _key, _value in {
    "AWS_ACCESS_KEY_ID": "chaos",
    "AWS_SECRET_ACCESS_KEY": "chaos",
    "AWS_DEFAULT_REGION": "us-east-1",
    "POWERTOOLS_LOG_LEVEL": "CRITICAL",
    "POWERTOOLS_TRACE_DISABLED": "true",
}.items():
    os.environ.setdefault(_key, _value)
for _key in [k for k in os.environ if k.startswith("AWS_ENDPOINT_URL")]:
    del os.environ[_key]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.chaos")
    parser.add_argument("--tasks", type=int, default=200)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--only", default="", help="run the scenarios whose name has this")
    args = parser.parse_args(argv)

    from moto import mock_aws

    from conveyor.local.atomic import make_dynamodb_atomic

    from .common import Result, table
    from .inprocess import SCENARIOS, run_faults
    from .killing import run_dispatcher_kills, run_worker_kills

    make_dynamodb_atomic()
    work = Path(tempfile.mkdtemp(prefix="conveyor-chaos-"))
    results: list[Result] = []

    def report(result: Result) -> None:
        results.append(result)
        print(table([result]).splitlines()[-1], f"  [{result.injected}]", flush=True)

    with mock_aws():
        for index, (name, rules) in enumerate(SCENARIOS.items()):
            if args.only in name:
                report(
                    run_faults(
                        name, rules, workdir=work / str(index), tasks=args.tasks, seed=args.seed
                    )
                )
    for runner in (run_dispatcher_kills, run_worker_kills):
        name = "kill -9 dispatcher" if runner is run_dispatcher_kills else "kill -9 workers"
        if args.only in name:
            report(runner(workdir=work / runner.__name__, tasks=args.tasks, seed=args.seed))
    print()
    print(table(results))
    for result in results:
        if not result.passed:
            print(f"\n{result.scenario}: FAILED", *result.notes[:10], sep="\n  ")
    return 0 if all(r.passed for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())

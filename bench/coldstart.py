"""Cold-start benchmark: importing the Lambda entry vs ``import boto3, aws_lambda_powertools``.

Each sample is a fresh interpreter (as a Lambda cold start is), run from a bundle built
exactly as the deployed asset is (``infra.bundle``), with bytecode writing off (``/var/task``
is read-only). Variants run interleaved, so machine load hits them alike; medians of
``--rounds`` samples (at least 10). Two phases per sample, milliseconds:

* import  -- the module the function's handler setting names (the baseline: boto3 +
  Powertools, what any Powertools function imports);
* setup   -- what the first invocation adds before the attempt's first AWS call: catalog,
  runner and the DynamoDB client (the baseline: one DynamoDB client).

    python -m bench.coldstart [--rounds 12] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from infra.bundle import bundle_sources  # noqa: E402

BASELINE = """
import time
t0 = time.perf_counter()
import boto3, aws_lambda_powertools
t1 = time.perf_counter()
boto3.client("dynamodb").meta
t2 = time.perf_counter()
print((t1 - t0) * 1000, (t2 - t1) * 1000)
"""

ENTRY = """
import time
t0 = time.perf_counter()
import functions.executor.app as app
t1 = time.perf_counter()
from conveyor.runtime.lambda_entry import build_runner
runner, runtime = build_runner()
runner.store.ddb.meta
t2 = time.perf_counter()
print((t1 - t0) * 1000, (t2 - t1) * 1000)
"""

#: name -> (probe, bundle with bytecode?, extra environment)
VARIANTS: dict[str, tuple[str, bool, dict[str, str]]] = {
    "baseline: import boto3, aws_lambda_powertools": (BASELINE, True, {}),
    "entry, .pyc shipped, tracing off": (ENTRY, True, {}),
    "entry, sources only, tracing off": (ENTRY, False, {}),
    "entry, .pyc shipped, tracing on (X-Ray)": (
        ENTRY,
        True,
        {"AWS_LAMBDA_FUNCTION_NAME": "bench", "POWERTOOLS_TRACE_DISABLED": "false"},
    ),
}


def _env(bundle: Path, extra: dict[str, str]) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("PYTHONPATH", "AWS_LAMBDA_FUNCTION_NAME", "POWERTOOLS_TRACE_DISABLED")
    }
    env.update(
        {
            "PYTHONPATH": str(bundle),
            "PYTHONDONTWRITEBYTECODE": "1",
            "CONVEYOR_CATALOG": "examples.catalog",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_ACCESS_KEY_ID": "bench",
            "AWS_SECRET_ACCESS_KEY": "bench",
            "POWERTOOLS_TRACE_DISABLED": "true",
            "AWS_XRAY_CONTEXT_MISSING": "IGNORE_ERROR",
            **extra,
        }
    )
    return env


def _sample(probe: str, env: dict[str, str], cwd: Path) -> tuple[float, float]:
    done = subprocess.run(
        [sys.executable, "-c", probe],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=60,
    )
    if done.returncode != 0:
        raise RuntimeError(done.stderr[-2000:])
    imported, setup = done.stdout.split()[-2:]
    return float(imported), float(setup)


def run(rounds: int) -> list[dict[str, Any]]:
    here = f"{sys.version_info.major}.{sys.version_info.minor}"
    with tempfile.TemporaryDirectory() as tmp:
        compiled, sources = Path(tmp, "pyc"), Path(tmp, "src")
        if not bundle_sources(ROOT, ("functions", "examples"), compiled, here):
            raise RuntimeError("could not compile the bundle")
        bundle_sources(ROOT, ("functions", "examples"), sources, "0.0")  # sources only
        samples: dict[str, list[tuple[float, float]]] = {name: [] for name in VARIANTS}
        for _ in range(rounds):
            for name, (probe, with_pyc, extra) in VARIANTS.items():
                bundle = compiled if with_pyc else sources
                samples[name].append(_sample(probe, _env(bundle, extra), bundle))
    rows = []
    for name, got in samples.items():
        imported = statistics.median(s[0] for s in got)
        setup = statistics.median(s[1] for s in got)
        total = statistics.median(s[0] + s[1] for s in got)
        rows.append({"variant": name, "import_ms": imported, "setup_ms": setup, "total_ms": total})
    return rows


def render(rows: list[dict[str, Any]], rounds: int) -> None:
    table = Table(title=f"Lambda cold start, medians of {rounds} fresh interpreters, interleaved")
    for column in ("variant", "import ms", "x baseline", "1st-call setup ms", "total ms", "x"):
        table.add_column(column, justify="left" if column == "variant" else "right")
    base = rows[0]
    for row in rows:
        table.add_row(
            row["variant"],
            f"{row['import_ms']:.0f}",
            f"{row['import_ms'] / base['import_ms']:.2f}x",
            f"{row['setup_ms']:.0f}",
            f"{row['total_ms']:.0f}",
            f"{row['total_ms'] / base['total_ms']:.2f}x",
        )
    Console(width=150).print(table)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rounds", type=int, default=12)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    rounds = max(10, args.rounds)
    rows = run(rounds)
    render(rows, rounds)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

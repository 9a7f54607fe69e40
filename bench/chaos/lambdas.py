"""kill -9 of a dispatcher that invokes Lambda types as deployed: through boto3's
``lambda.invoke`` to a loopback ``LambdaHost`` running ``functions.executor.app.handler``
from an asset of the ``conveyor`` package, the thin entries and the ledger catalog (only
boto3 and the Powertools layer importable).

A killed dispatcher loses its invocations' replies, not the invocations: each one ends
and writes its outcome in its own environment, and the lane message comes back as a
duplicate. So no handler may run twice here (``allowed_reruns`` is 0).
"""

from __future__ import annotations

import random
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from conveyor.local.devcloud import DEV_CREDENTIALS, DevCloud
from conveyor.local.lambda_host import FunctionSpec, LambdaHost
from conveyor.runtime.executors import function_name
from conveyor.topology import Topology

from .common import Result, task_mix
from .killing import ROOT, _env, _scenario, _stop, kill_repeatedly

_IGNORE = shutil.ignore_patterns("__pycache__", "*.pyc")


def build_asset(out: Path) -> Path:
    """What the CDK asset holds (``conveyor``, ``functions``), with the ledger catalog's
    package in place of the example one."""
    shutil.copytree(ROOT / "sdk" / "conveyor", out / "conveyor", ignore=_IGNORE)
    shutil.copytree(ROOT / "functions", out / "functions", ignore=_IGNORE)
    shutil.copytree(ROOT / "tests" / "support", out / "tests" / "support", ignore=_IGNORE)
    shutil.copy(ROOT / "tests" / "__init__.py", out / "tests" / "__init__.py")
    return out


def lambda_host(cloud: DevCloud, code: Path, ledger_dir: Path) -> LambdaHost:
    """A started host with one function per Lambda type of the cloud's catalog."""
    env = {
        **cloud.env(),
        "LEDGER_DIR": str(ledger_dir),
        "POWERTOOLS_LOG_LEVEL": "CRITICAL",
        "POWERTOOLS_TRACE_DISABLED": "true",
    }
    specs = [
        FunctionSpec(
            function_name(cloud.topology.prefix, t.name),
            "functions.executor.app.handler",
            code,
            env,
            timeout=t.timeout + 10,
            reserved_concurrency=t.concurrency,
        )
        for t in cloud.catalog
        if t.executor == "lambda"
    ]
    return LambdaHost(specs, env={"AWS_REGION": DEV_CREDENTIALS["AWS_DEFAULT_REGION"]}).start()


def run_lambda_dispatcher_kills(
    *, workdir: Path, tasks: int = 200, seed: int = 1, kills: int = 4, repair_window: float = 90
) -> Result:
    rng = random.Random(seed)
    command = [sys.executable, "-m", "bench.chaos.proc"]
    tmp = tempfile.TemporaryDirectory(prefix="conveyor-asset-")

    def run(cloud: DevCloud, ids: list[str]) -> tuple[int, int, float, Any]:
        host = lambda_host(cloud, build_asset(Path(tmp.name)), workdir)
        env = _env(cloud, workdir, CHAOS_EXECUTOR="lambda", AWS_ENDPOINT_URL_LAMBDA=host.endpoint)
        proc, busy = kill_repeatedly(command, env, cloud, ids, rng, kills, (2.0, 5.0))

        def cleanup() -> None:
            _stop(proc)
            host.stop()
            tmp.cleanup()

        return busy, 0, time.monotonic(), cleanup

    return _scenario(
        f"kill -9 dispatcher x{kills}, Lambda via host",
        Topology(prefix=f"chaos-kl{seed}"),
        workdir,
        task_mix(tasks, random.Random(seed)),
        run,
        repair_window,
    )

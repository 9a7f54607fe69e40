"""`npx cdk synth` works offline with the pinned CDK CLI (installed by `make test`)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.infra


def test_npx_cdk_synth_offline(tmp_path):
    if not (ROOT / "node_modules" / ".bin" / "cdk").exists():
        subprocess.run(
            ["npm", "install", "--no-audit", "--no-fund", "--silent"],
            cwd=ROOT,
            check=True,
            timeout=300,
        )
    env = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20",
        "CDK_DISABLE_VERSION_CHECK": "1",
    }
    for key in [k for k in env if k.startswith("AWS_")]:
        env.pop(key)
    done = subprocess.run(
        [
            shutil.which("npx") or "npx",
            "cdk",
            "synth",
            "-q",
            "-o",
            str(tmp_path),
            "-c",
            "stage=cli",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    template = json.loads((tmp_path / "Conveyor-cli.template.json").read_text())
    types = {r["Type"] for r in template["Resources"].values()}
    assert {"AWS::SQS::Queue", "AWS::Scheduler::Schedule", "AWS::ECS::Service"} <= types

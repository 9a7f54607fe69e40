"""The Lambda asset (built without docker) imports with only what Lambda provides: the
runtime's boto3 and the Powertools layer. Dev-only packages are blocked on import."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from infra.bundle import compile_bytecode
from infra.constructs.code import _CopySources

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.infra

PROBE = """
import sys
BLOCKED = {"typer", "rich", "croniter", "moto", "click", "ulid", "aws_cdk", "infra", "tests"}

class Block:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ImportError(f"{name} is not available in Lambda")
        return None

sys.meta_path.insert(0, Block())
sys.path = [p for p in sys.path if "/sdk" not in p and p not in ("", ".")]
sys.path.insert(0, sys.argv[1])
import functions.executor.app as executor
import functions.submit.app as submit
import conveyor
assert conveyor.__file__.startswith(sys.argv[1]), conveyor.__file__
assert callable(executor.handler) and callable(submit.handler)
import examples.catalog
print("ok")
"""


def test_lambda_asset_imports_with_boto3_and_powertools_only(tmp_path):
    assert _CopySources(ROOT, ("functions", "examples")).try_bundle(str(tmp_path))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["conveyor", "examples", "functions"]
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env.update(
        {
            "CONVEYOR_CATALOG": "examples.catalog",
            "AWS_DEFAULT_REGION": "us-east-1",
            "POWERTOOLS_TRACE_DISABLED": "true",
        }
    )
    done = subprocess.run(
        [sys.executable, "-c", PROBE, str(tmp_path)],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().endswith("ok")


def test_the_asset_ships_bytecode_for_the_runtime_python(tmp_path):
    here = f"{sys.version_info.major}.{sys.version_info.minor}"
    assert _CopySources(ROOT, ("functions", "examples"), python=here).try_bundle(str(tmp_path))
    tag = sys.implementation.cache_tag
    for module in ("conveyor/runtime/lambda_entry", "conveyor/catalog", "functions/executor/app"):
        source = tmp_path / f"{module}.py"
        cached = source.parent / "__pycache__" / f"{source.stem}.{tag}.pyc"
        assert cached.is_file(), cached
        flags = int.from_bytes(cached.read_bytes()[4:8], "little")
        assert flags == 0b01, "unchecked-hash: valid whatever the extracted files' mtimes"


def test_no_bytecode_without_an_interpreter_of_the_runtime_version(tmp_path):
    (tmp_path / "m.py").write_text("x = 1\n")
    assert not compile_bytecode(tmp_path, "2.1")
    assert not list(tmp_path.rglob("*.pyc"))

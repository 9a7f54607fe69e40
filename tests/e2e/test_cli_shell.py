"""The installed ``conveyor`` script as a user runs it from the project root: no
PYTHONPATH, the catalog from cdk.json, and a stdout that is safe to eval."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = Path(sys.executable).parent / "conveyor"
pytestmark = pytest.mark.e2e


def user_env() -> dict[str, str]:
    """The environment of a fresh shell: no PYTHONPATH, no AWS or Conveyor settings."""
    return {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("AWS_", "CONVEYOR_")) and k != "PYTHONPATH"
    }


def test_the_script_imports_the_catalog_from_the_working_directory(tmp_path):
    assert SCRIPT.exists(), "the conveyor console script is installed with the package"
    (tmp_path / "shopcat.py").write_text(
        "from conveyor import Catalog\ncatalog = Catalog('shop')\n"
        "@catalog.task(name='Bad-Name')\ndef job(payload, ctx):\n    return None\n"
    )
    done = subprocess.run(
        [str(SCRIPT), "list", "--catalog", "shopcat"],
        cwd=tmp_path,
        env=user_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    # The module was found and imported: its own declaration error, brackets intact.
    assert done.returncode == 2, done.stderr
    assert "CatalogError" in done.stderr
    assert "[a-z0-9_]" in done.stderr
    assert "No module named" not in done.stderr


def test_conveyor_dev_reads_cdk_json_and_prints_only_export_lines():
    proc = subprocess.Popen(
        [str(SCRIPT), "dev", "--no-run", "--prefix", "shelltest"],
        cwd=ROOT,
        env=user_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines: list[str] = []
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and not any("CONVEYOR_HTTP_API" in x for x in lines):
            line = proc.stdout.readline()
            if not line:
                break
            lines.append(line)
        assert lines, proc.stderr.read() if proc.poll() is not None else "no output"
        assert all(line.startswith("export ") for line in lines), lines
        script = "".join(lines) + 'echo "$CONVEYOR_CATALOG $CONVEYOR_PREFIX $AWS_ENDPOINT_URL"'
        shell = subprocess.run(
            ["bash", "-c", script], capture_output=True, text=True, timeout=10, check=True
        )
        catalog, prefix, endpoint = shell.stdout.split()
        assert (catalog, prefix) == ("examples.catalog", "shelltest")
        assert endpoint.startswith("http://127.0.0.1:")
    finally:
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert out == ""  # nothing else ever reaches stdout
    assert "dev cloud stopped" in err

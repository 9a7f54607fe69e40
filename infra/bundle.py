"""Build the Lambda asset's directory without CDK or docker: copy the ``conveyor``
package, the thin ``functions/`` entry points and the catalog's top-level package, then
compile bytecode for the function's Python version.

The asset ships compiled bytecode: ``/var/task`` is read-only, so without it every cold
start compiles every module it imports. The ``.pyc`` files use unchecked-hash invalidation
(zip extraction changes mtimes; the asset hash already pins the sources) and are written by
an interpreter of the function's Python version (``python3.13`` on PATH, or this one if it
is that version); with none at hand the asset ships sources only.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

_IGNORE = shutil.ignore_patterns("__pycache__", "*.pyc", "tests", "*.md")


def bundle_sources(root: Path, packages: tuple[str, ...], out: Path, python: str) -> bool:
    """Copy the sources into ``out`` and compile them; True if bytecode was written."""
    shutil.copytree(root / "sdk" / "conveyor", out / "conveyor", ignore=_IGNORE, dirs_exist_ok=True)
    for package in packages:
        shutil.copytree(root / package, out / package, ignore=_IGNORE, dirs_exist_ok=True)
    return compile_bytecode(out, python)


def bytecode_compiler(version: str) -> str | None:
    """An interpreter that writes ``.pyc`` files for Python ``version`` ("3.13"), or None."""
    if f"{sys.version_info.major}.{sys.version_info.minor}" == version:
        return sys.executable
    return shutil.which(f"python{version}")


def compile_bytecode(directory: Path, version: str) -> bool:
    """Compile every module under ``directory`` for Python ``version``; False if no
    interpreter of that version is available (the asset then ships sources only)."""
    python = bytecode_compiler(version)
    if python is None:
        return False
    command = [python, "-m", "compileall", "-q", "-j", "0", "--invalidation-mode"]
    done = subprocess.run(
        [*command, "unchecked-hash", str(directory)],
        capture_output=True,
        timeout=300,
    )
    return done.returncode == 0  # a shim without that version installed exits non-zero

"""The fault-injection suite: 200 tasks per scenario; nothing lost, nothing succeeded
twice, handler re-runs only where a process died (see bench/chaos for the scenarios and
the verdict). ``make chaos`` runs the same scenarios and prints the table."""

from __future__ import annotations

import pytest

from bench.chaos.common import Result
from bench.chaos.inprocess import SCENARIOS, run_faults
from bench.chaos.killing import run_dispatcher_kills, run_worker_kills
from tests.chaos.conftest import RESULTS

TASKS = 200


def _check(result: Result) -> None:
    RESULTS.append(result)
    assert result.tasks == TASKS
    detail = f"{result.injected}\n" + "\n".join(result.notes[:10])
    assert result.lost == 0, f"{result.lost} of {result.tasks} lost; {detail}"
    assert result.doubled == 0, f"{result.doubled} records succeeded twice; {detail}"
    assert result.reruns <= result.allowed_reruns, (
        f"{result.reruns} handler re-runs, {result.allowed_reruns} allowed; {detail}"
    )


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_aws_faults_lose_nothing_and_never_rerun_a_finished_handler(
    name, moto_session, tmp_path, monkeypatch
):
    monkeypatch.setenv("LEDGER_DIR", str(tmp_path))
    result = run_faults(name, SCENARIOS[name], workdir=tmp_path, tasks=TASKS, seed=1)
    assert result.injected, "no fault was injected"
    _check(result)


@pytest.mark.e2e
def test_kill_9_of_the_dispatcher_loses_nothing(tmp_path, monkeypatch):
    monkeypatch.setenv("LEDGER_DIR", str(tmp_path))
    _check(run_dispatcher_kills(workdir=tmp_path, tasks=TASKS, seed=1))


@pytest.mark.e2e
def test_kill_9_of_workers_loses_nothing(tmp_path, monkeypatch):
    monkeypatch.setenv("LEDGER_DIR", str(tmp_path))
    _check(run_worker_kills(workdir=tmp_path, tasks=TASKS, seed=1))

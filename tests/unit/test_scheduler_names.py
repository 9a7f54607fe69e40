"""Scheduler names are derived injectively from task IDs and schedule names."""

from __future__ import annotations

import itertools
import re

import pytest

from conveyor.triggers import scheduler_name

VALID = re.compile(r"[0-9A-Za-z_.-]{1,64}")
TEXTS = [
    "job:1",
    "job_1",
    "job.1",
    "job-1",
    "t-job:1",
    "t-job_1",
    "",
    "_",
    ":",
    "a" * 64,
    "a" * 65,
    "a" * 40 + ":" + "b" * 30,
    "a" * 40 + "_" + "b" * 30,
    "evt-\ud800",
    "evt-\udfff",
    "événement",
]


def test_distinct_texts_get_distinct_valid_names():
    names = [scheduler_name(text) for text in TEXTS]
    assert all(VALID.fullmatch(name) for name in names), names
    assert len(set(names)) == len(TEXTS)


@pytest.mark.parametrize("text", ["nightly_report", "t-01HZX3", "a" * 64, "x.y-z_1"])
def test_a_valid_name_is_its_own_name(text):
    assert scheduler_name(text) == text


def test_a_valid_name_that_looks_hashed_cannot_collide_with_a_hashed_one():
    hashed = scheduler_name("job:1")
    assert hashed != "job:1"
    assert scheduler_name(hashed) != hashed
    pairs = itertools.combinations(["job:1", hashed, scheduler_name(hashed)], 2)
    assert all(scheduler_name(a) != scheduler_name(b) for a, b in pairs)


def test_names_are_stable():
    assert scheduler_name("job:1") == scheduler_name("job:1")

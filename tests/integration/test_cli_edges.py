"""The command line's edges, in process: usage errors are one line and exit 2, and error
text prints as it is (no rich markup)."""

from __future__ import annotations

import json

import pytest

from conveyor.cli import main
from conveyor.cli.common import catalog_path


def run(monkeypatch, capsys, *args: str) -> tuple[int, str, str]:
    monkeypatch.setattr("sys.argv", ["conveyor", *args])
    with pytest.raises(SystemExit) as done:
        main()
    out, err = capsys.readouterr()
    return done.value.code, out, err


@pytest.mark.parametrize(
    "args",
    [
        ("submit", "make_thumbnail", "--delay", "abc"),
        ("submit", "make_thumbnail", "--colour", "red"),
        ("list", "--limit", "many"),
        ("dlq", "list", "--bogus"),
        ("no-such-command",),
    ],
)
def test_a_usage_error_is_one_line_and_exit_2(monkeypatch, capsys, args):
    code, out, err = run(monkeypatch, capsys, *args, "--catalog", "examples.catalog")
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("Error: ")
    assert "Traceback" not in err
    assert out == ""


def test_no_arguments_print_the_help(monkeypatch, capsys):
    code, out, err = run(monkeypatch, capsys)
    assert code == 2
    assert "submit" in out
    assert "Traceback" not in err


def test_error_text_keeps_its_brackets(monkeypatch, capsys):
    monkeypatch.setenv("CONVEYOR_PREFIX", "Bad")
    code, _, err = run(monkeypatch, capsys, "list", "--catalog", "examples.catalog")
    assert code == 2
    assert "InvalidOption" in err
    assert "[a-z0-9-]" in err


def test_the_catalog_comes_from_cdk_json_when_not_given(monkeypatch, tmp_path):
    monkeypatch.delenv("CONVEYOR_CATALOG", raising=False)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(Exception, match="no catalog"):
        catalog_path(None)
    (tmp_path / "cdk.json").write_text(json.dumps({"context": {"catalog": "shop.tasks"}}))
    assert catalog_path(None) == "shop.tasks"
    assert catalog_path("other.cat") == "other.cat"
    monkeypatch.setenv("CONVEYOR_CATALOG", "env.cat")
    assert catalog_path(None) == "env.cat"

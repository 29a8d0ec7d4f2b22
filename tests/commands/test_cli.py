"""The command line: --help everywhere, db upgrade/status/downgrade, serve's refusals."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from gistcad.cli import build_parser, main


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("GISTCAD_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("GISTCAD_DB_URL", raising=False)
    return tmp_path


def _commands(parser: object, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    found = [prefix]
    for action in getattr(parser, "_actions", []):
        if isinstance(action, argparse._SubParsersAction):
            for name, child in action.choices.items():
                found += _commands(child, (*prefix, name))
    return found


COMMANDS = _commands(build_parser())


def test_the_expected_commands_exist() -> None:
    assert {("db", "upgrade"), ("db", "status"), ("db", "downgrade"), ("serve",)} <= set(COMMANDS)


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c) or "gistcad")
def test_help_everywhere(command: tuple[str, ...], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main([*command, "--help"])
    assert info.value.code == 0
    assert "usage: gistcad" in capsys.readouterr().out


def test_db_upgrade_and_status(data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["db", "status"]) == 1
    out = capsys.readouterr().out
    assert "empty database" in out
    assert "run 'gistcad db upgrade'" in out
    assert main(["db", "upgrade"]) == 0
    assert "up to date" in capsys.readouterr().out
    assert (data_dir / "gistcad.sqlite").is_file()
    assert main(["db", "status"]) == 0
    assert main(["db", "downgrade", "base"]) == 0
    assert main(["db", "status"]) == 1


def test_config_error_is_one_line_exit_2(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("GISTCAD_DB_URL", "oracle://x")
    assert main(["db", "status"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("gistcad: error: GISTCAD_DB_URL")
    assert err.count("\n") == 1


def test_serve_refuses_an_outdated_database(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["serve"]) == 2
    assert "gistcad db upgrade" in capsys.readouterr().err


def test_serve_refuses_a_network_address(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    main(["db", "upgrade"])
    assert main(["serve", "--address", "0.0.0.0"]) == 2
    assert "refusing to serve on '0.0.0.0'" in capsys.readouterr().err

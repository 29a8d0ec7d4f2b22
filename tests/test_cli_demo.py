"""``gistcad demo load``: what ``make run`` does on first start."""

from __future__ import annotations

from pathlib import Path

import pytest

from gistcad.cli import main


def test_demo_load_builds_imports_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("GISTCAD_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("GISTCAD_DB_URL", raising=False)
    assert main(["db", "upgrade"]) == 0
    assert main(["demo", "load", "--patients", "2"]) == 0
    out = capsys.readouterr().out
    assert "building the synthetic demo cohort (2 patients)" in out
    # two patients are too few to train on: each demo model says so and is skipped
    assert "demo-clinical: not trained (only" in out
    assert (tmp_path / "demo-cohort" / "manifest.json").is_file()
    assert main(["survival", "--by", "center", "--min-group-size", "1"]) == 0
    assert main(["audit", "--action", "import", "--csv"]) == 0
    trail = capsys.readouterr().out
    assert trail.count("import,import,hmac:") >= 1  # one row a report, named by a hash
    assert "demo-cohort" not in trail  # never by its path (folders carry patients' names)
    assert "'center': ''" not in trail  # each report's own center
    assert main(["demo", "load"]) == 0
    assert capsys.readouterr().out == "the database holds 2 patients: no demo cohort loaded\n"


def test_demo_load_needs_an_upgraded_database(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("GISTCAD_DATA_DIR", str(tmp_path))
    assert main(["demo", "load"]) == 2
    assert "gistcad db upgrade" in capsys.readouterr().err

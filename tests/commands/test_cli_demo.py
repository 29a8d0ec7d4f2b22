"""``gistcad demo load``: what ``make run`` does on first start."""

from __future__ import annotations

import json
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
    # nothing is trained in the foreground: the three demo models wait as background jobs
    assert out.endswith(
        "demo-clinical: queued (job 1)\n"
        "demo-radiomics: queued (job 2)\n"
        "demo-deep: queued (job 3)\n"
        "the demo models train in the background: 'gistcad serve' starts their worker\n"
    )
    assert main(["jobs", "list", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [(j["job_id"], j["status"]) for j in listed] == [
        (3, "queued"),
        (2, "queued"),
        (1, "queued"),
    ]
    assert (tmp_path / "demo-cohort" / "manifest.json").is_file()
    assert main(["survival", "--by", "center", "--min-group-size", "1"]) == 0
    assert main(["audit", "--action", "import", "--csv"]) == 0
    trail = capsys.readouterr().out
    assert trail.count("import,import,hmac:") >= 1  # one row a report, named by a hash
    assert "demo-cohort" not in trail  # never by its path (folders carry patients' names)
    assert "'center': ''" not in trail  # each report's own center
    # the worker 'gistcad serve' starts: two patients are too few, each job says so
    assert main(["jobs", "run", "--demo"]) == 1
    assert capsys.readouterr().out == "job 1: failed\njob 2: failed\njob 3: failed\n"
    assert main(["demo", "load"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "the database holds 2 patients: no demo cohort loaded"
    # a job that failed for its own reason is shown, not queued again
    assert [line.split(" (only ")[0] for line in out[1:]] == [
        "demo-clinical: failed (job 1)",
        "demo-radiomics: failed (job 2)",
        "demo-deep: failed (job 3)",
    ]
    assert all("import more data before training)" in line for line in out[1:])


def test_demo_load_without_models_queues_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("GISTCAD_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("GISTCAD_DB_URL", raising=False)
    assert main(["db", "upgrade"]) == 0
    assert main(["demo", "load", "--patients", "2", "--no-models"]) == 0
    assert "queued" not in capsys.readouterr().out
    assert main(["demo", "load"]) == 0  # no demo model was ever queued: none is now
    assert capsys.readouterr().out == "the database holds 2 patients: no demo cohort loaded\n"


def test_demo_load_needs_an_upgraded_database(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("GISTCAD_DATA_DIR", str(tmp_path))
    assert main(["demo", "load"]) == 2
    assert "gistcad db upgrade" in capsys.readouterr().err

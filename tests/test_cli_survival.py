"""``gistcad survival`` on a small seeded database: every grouping, options and errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from gistcad.cli import main
from gistcad.store import make_engine, migrations
from tests.factories import seed_cohort


@pytest.fixture
def seeded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, list[int]]:
    """60 patients in two centers with outcomes, and a model's predictions for all of them."""
    monkeypatch.setenv("GISTCAD_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("GISTCAD_DB_URL", raising=False)
    engine = make_engine(f"sqlite:///{tmp_path / 'gistcad.sqlite'}")
    migrations.upgrade(engine)
    with Session(engine) as s:
        truth = seed_cohort(s)
        s.commit()
    engine.dispose()
    return truth


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> dict:
    assert main(["survival", *args, "--json"]) == 0, capsys.readouterr().err
    return json.loads(capsys.readouterr().out)


def _n(out: dict) -> dict[str, int]:
    return {row["group"]: row["n"] for row in out["summary"]}


def test_by_genotype(seeded: dict, capsys: pytest.CaptureFixture[str]) -> None:
    out = _run(capsys, "--by", "genotype", "--times", "12,60")
    assert _n(out) == {"KIT exon 11": 24, "PDGFRA": 12, "Wild-type": 12, "KIT exon 9": 12}
    assert sum(r["events"] for r in out["summary"]) == sum(seeded["events"])
    assert out["logrank"]["df"] == 3
    assert 0 <= out["logrank"]["p_value"] <= 1
    assert {r["time"] for r in out["at_risk"]} == {0, 12, 60}
    assert out["cox"]["reference_levels"]["group"] == "KIT exon 11"


def test_by_predicted_kit11_threshold(seeded: dict, capsys: pytest.CaptureFixture[str]) -> None:
    out = _run(capsys, "--by", "predicted", "--model", "clinical-v1", "--threshold", "0.5")
    positives = sum(seeded["kit11"])
    assert _n(out) == {"KIT exon 11": positives, "Not KIT exon 11": 60 - positives}
    assert out["model"] == "clinical-v1" and out["split"] == "kit11"


def test_by_predicted_four_class(seeded: dict, capsys: pytest.CaptureFixture[str]) -> None:
    out = _run(capsys, "--by", "predicted", "--model", "1", "--split", "four_class")
    assert sum(_n(out).values()) == 60
    assert set(_n(out)) <= {"KIT exon 11", "KIT exon 9", "PDGFRA", "Wild-type / other"}


def test_by_risk_and_center_with_adjustment(
    seeded: dict, capsys: pytest.CaptureFixture[str]
) -> None:
    out = _run(capsys, "--by", "risk", "--scheme", "nih2002", "--min-group-size", "5")
    assert set(_n(out)) <= {"Very low", "Low", "Intermediate", "High"}
    assert sum(_n(out).values()) == 60
    out = _run(capsys, "--by", "center", "--adjust", "age,size", "--reference", "Beta")
    assert _n(out) == {"Alpha": 30, "Beta": 30}
    assert out["cox"] is not None, out["notes"]
    terms = [row["term"] for row in out["cox"]["table"]]
    assert len(terms) == 3 and out["reference"] == "Beta"


def test_landmark_and_center_filter(seeded: dict, capsys: pytest.CaptureFixture[str]) -> None:
    out = _run(capsys, "--by", "genotype", "--center", "Alpha", "--landmark", "12")
    assert sum(_n(out).values()) < 30
    assert any("Landmark at 12 months" in n for n in out["selection_notes"])


def test_small_groups_are_reported_not_dropped(
    seeded: dict, capsys: pytest.CaptureFixture[str]
) -> None:
    out = _run(capsys, "--by", "genotype", "--min-group-size", "13")
    small = {row["group"] for row in out["summary"] if row["small_group"]}
    assert small == {"PDGFRA", "Wild-type", "KIT exon 9"}
    assert out["logrank"] is None
    assert any("fewer than 13" in n for n in out["notes"])


def test_text_report(seeded: dict, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["survival", "--by", "genotype"]) == 0
    text = capsys.readouterr().out
    parts = ("Recurrence-free survival by genotype", "Number at risk", "log-rank: chi2", "Cox")
    for part in parts:
        assert part in text


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--by", "predicted"], "--by predicted needs --model"),
        (["--by", "predicted", "--model", "nope"], "no model version 'nope'"),
        (["--by", "genotype", "--times", "a,b"], "--times must be months"),
        (["--by", "genotype", "--adjust", "shoe"], "unknown covariate shoe"),
        (["--by", "genotype", "--center", "Gamma"], "holds no patients"),
        (["--by", "predicted", "--model", "1", "--threshold", "1.5"], "threshold must lie"),
    ],
)
def test_errors_are_one_line(
    seeded: dict, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    assert main(["survival", *args]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1

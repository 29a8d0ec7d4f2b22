"""``gistcad evaluate`` of a deep genotype model: its risk head judged for recurrence-free
survival, as text and as JSON."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy.orm import Session

from gistcad.analysis.performance import concordance_index
from gistcad.cli import main
from gistcad.store import AccessScope, make_engine, migrations
from gistcad.store.model_queries import find_model_version, model_version_detail
from tests.factories import add_deep_model_with_risk_head, seed_cohort


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("GISTCAD_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("GISTCAD_DB_URL", raising=False)
    engine = make_engine(f"sqlite:///{tmp_path / 'gistcad.sqlite'}")
    migrations.upgrade(engine)
    with Session(engine) as s:
        seed_cohort(s, n=80, with_series=True)
        add_deep_model_with_risk_head(s, "deep-g")
        s.commit()
    engine.dispose()
    return tmp_path


def _oof(data_dir: Path) -> pd.DataFrame:
    engine = make_engine(f"sqlite:///{data_dir / 'gistcad.sqlite'}")
    with Session(engine) as s:
        model_id, _ = find_model_version(s, "deep-g", AccessScope.everything())
        oof = model_version_detail(s, AccessScope.everything(), model_id).oof
    engine.dispose()
    return oof


def test_evaluate_judges_the_risk_head_in_json(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["evaluate", "--model", "deep-g", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert "kit11_vs_rest" in report["tasks"]  # the genotype target is still evaluated
    head = report["risk_head"]
    pooled = {r["center"]: r for r in head["metrics"]}["All centers"]
    oof = _oof(data_dir)
    assert pooled["n"] == len(oof)
    expected = concordance_index(oof["risk_score"], oof["rfs_months"], oof["rfs_event"])
    assert pooled["harrell_c"] == pytest.approx(expected)
    references = {r["reference"] for r in head["delta_c"] if r["center"] == "All centers"}
    assert references == {"Modified NIH 2008", "Tumour size alone"}
    uno = {r["reference"] for r in head["delta_c_uno"] if r["center"] == "All centers"}
    assert uno == references  # the same comparison in Uno's C up to 60 months
    assert {t["base"] for t in head["lr_tests"]} >= {"Log tumour size"}
    assert "calibration" not in head and "ranking, not probabilities" in head["calibration_note"]


def test_evaluate_prints_the_risk_head(data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["evaluate", "--model", "deep-g"]) == 0
    out = capsys.readouterr().out
    assert "Risk head for recurrence-free survival (out of fold)" in out
    assert "Uno's C (τ 60 months)" in out
    assert "All centers, vs Tumour size alone" in out
    assert re.search(
        r"All centers, vs Tumour size alone \(n=\d+\), Uno's C \(τ 60 months\): C", out
    )
    assert "Score added to a Cox model of Log tumour size: LR" in out
    assert "Not calibrated: a risk head gives a ranking, not probabilities" in out

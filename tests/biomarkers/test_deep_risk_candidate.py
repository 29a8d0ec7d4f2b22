"""The deep model's risk score as a discovery candidate: out-of-fold for its training patients,
never the final model's in-sample score, screened with the radiomics features.

The patients are stored with a baseline CT and a mask; their radiomics features are already in
the feature cache (noise and a size echo), so no image is read. The deep model version is a
row with out-of-fold risk scores that carry the planted trait, as training would record them.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sqlalchemy import Engine

from gistcad.biomarkers import DiscoveryRequest, discover_biomarkers
from gistcad.biomarkers.discovery import Adjustment
from gistcad.biomarkers.simulation import planted_cohort
from gistcad.cli import main
from gistcad.domain import ModelKind
from gistcad.errors import ValidationError
from gistcad.store import AccessScope, session_scope
from gistcad.store.models import ModelVersion, Prediction
from tests.cached_cohort import store_cached_cohort

EVERYTHING = AccessScope.everything()
N = 120
#: patients the deep model was not trained on (its final model's score is honest for them)
UNSEEN = 20
#: patients the deep model never scored
UNSCORED = 3
RADIOMICS = ["size_echo", "noise_00", "noise_01", "noise_02"]


def _store(engine: Engine, data_dir: Path) -> dict[str, Any]:
    """The planted cohort in the store, its radiomics features cached, and deep model
    ``deep-v1``: trained on all but the last UNSEEN + UNSCORED patients, its out-of-fold score
    the planted trait; its final model's scores of the patients it was trained on the
    opposite (in-sample, never to be used); of the UNSEEN ones, the trait."""
    cohort = planted_cohort(N, hazard_ratio=2.5, noise_features=3, seed=5)
    trait = cohort.features["planted"].to_numpy(dtype=float)
    ids = store_cached_cohort(engine, data_dir, cohort, RADIOMICS, seed=5)
    trained = N - UNSEEN - UNSCORED
    oof = [{"patient_id": p, "risk_score": float(trait[i])} for i, p in enumerate(ids[:trained])]
    final = {p: -float(trait[i]) for i, p in enumerate(ids[:trained])}
    final |= {ids[i]: float(trait[i]) for i in range(trained, trained + UNSEEN)}
    with session_scope(engine) as session:
        deep = ModelVersion(name="deep-v1", kind=ModelKind.DL, target="genotype")
        session.add(deep)
        session.flush()
        for patient_id, score in final.items():
            session.add(
                Prediction(
                    patient_id=patient_id,
                    model_version_id=deep.id,
                    probabilities={"kit11": 0.6, "kit9": 0.2, "pdgfra": 0.1, "wt_other": 0.1},
                    predicted_class="kit11",
                    risk_score=score,
                )
            )
        deep.parameters = {"scheme": "kfold"}
        deep.metrics = {"oof": oof, "training_patients": ids[:trained]}
    return {"ids": ids, "trait": trait, "trained": trained}


@pytest.fixture
def stored(engine: Engine, tmp_path: Path) -> tuple[Engine, Path, dict[str, Any]]:
    return engine, tmp_path, _store(engine, tmp_path)


def _discover(engine: Engine, data_dir: Path, deep_model: str | None) -> Any:
    request = DiscoveryRequest(
        adjust=(Adjustment.RISK,), bootstrap=0, seed=1, deep_model=deep_model
    )
    with session_scope(engine) as session:
        return discover_biomarkers(session, EVERYTHING, data_dir, request)


def test_a_deep_risk_score_carrying_the_trait_is_discovered_from_its_out_of_fold_values(
    stored: tuple[Engine, Path, dict[str, Any]],
) -> None:
    engine, data_dir, truth = stored
    found = _discover(engine, data_dir, "deep-v1")
    table = found.discovery.table.set_index("feature")
    assert found.candidates == len(RADIOMICS) + 1
    assert found.discovery.discovered[0] == "deep_risk_score"
    assert table.loc["deep_risk_score", "hr"] > 1.5  # the in-sample scores point the other way
    assert bool(table.loc["deep_risk_score", "confirmed"])
    assert f"{UNSCORED} patient(s) without a risk score of deep model deep-v1" in found.notes[0]
    # each patient's value is the out-of-fold one, or the final model's for unseen patients
    patients = found.patients
    assert len(patients) == found.discovery.n == N - UNSCORED
    rows = [int(p[2:]) for p in patients["pseudonym"]]
    np.testing.assert_array_equal(patients["deep_risk_score"], truth["trait"][rows])
    sources = ["out_of_fold" if i < truth["trained"] else "final_model" for i in rows]
    assert patients["deep_risk_source"].tolist() == sources
    analysed = found.discovery.analysed["deep_risk_score"].to_numpy(dtype=float)
    # analysed as stored: winsorised at the 1st and 99th percentiles, then standardised
    scores = truth["trait"][rows]
    winsorised = np.clip(scores, *np.quantile(scores, [0.01, 0.99]))
    assert np.corrcoef(analysed, winsorised)[0, 1] == pytest.approx(1.0)


def test_without_a_deep_model_the_candidates_are_the_radiomics_features_alone(
    stored: tuple[Engine, Path, dict[str, Any]],
) -> None:
    engine, data_dir, _ = stored
    found = _discover(engine, data_dir, None)
    assert found.candidates == len(RADIOMICS)
    assert set(found.discovery.table["feature"]) == set(RADIOMICS)
    assert found.discovery.n == N and list(found.patients.columns) == [
        "pseudonym",
        "center",
        "months",
        "event",
    ]


def test_a_model_that_is_not_deep_is_refused_naming_the_deep_ones(
    stored: tuple[Engine, Path, dict[str, Any]],
) -> None:
    engine, data_dir, _ = stored
    with session_scope(engine) as session:
        session.add(ModelVersion(name="radiomics-v1", kind=ModelKind.RADIOMICS, target="rfs"))
    with pytest.raises(ValidationError, match=r"not a deep model.*: deep-v1$"):
        _discover(engine, data_dir, "radiomics-v1")


def test_the_deep_model_travels_with_the_request() -> None:
    request = DiscoveryRequest(bootstrap=5, deep_model=" deep-v1 ")
    assert request.deep_model == "deep-v1"
    assert DiscoveryRequest.from_parameters(request.to_parameters()) == request
    assert DiscoveryRequest.from_parameters({"deep_model": 7}).deep_model == "7"
    assert DiscoveryRequest(deep_model="").deep_model is None
    with pytest.raises(ValidationError, match="named by a model version's id or name"):
        DiscoveryRequest.from_parameters({"deep_model": ["deep-v1"]})


#: the discovery command on the stored cohort, quickly (no bootstrap)
DISCOVER = ["biomarkers", "discover", "--adjust", "risk", "--bootstrap", "0"]


@pytest.fixture
def command(stored: tuple[Engine, Path, dict[str, Any]], monkeypatch: pytest.MonkeyPatch) -> None:
    """The command reads the stored cohort (its database and data folder)."""
    engine, data_dir, _ = stored
    monkeypatch.setenv("GISTCAD_DATA_DIR", str(data_dir))
    monkeypatch.setenv("GISTCAD_DB_URL", engine.url.render_as_string(hide_password=False))


def test_the_command_takes_the_deep_model_and_says_so(
    command: None, capsys: pytest.CaptureFixture[str]
) -> None:
    arguments = DISCOVER
    assert main([*arguments, "--deep-model", "deep-v1", "--json"]) == 0
    found = json.loads(capsys.readouterr().out)
    assert found["deep_model"] == "deep-v1" and found["candidates"] == len(RADIOMICS) + 1
    assert found["discovered"][0] == "deep_risk_score"
    assert main([*arguments, "--deep-model", "deep-v1"]) == 0
    assert "candidates include deep model deep-v1's risk score" in capsys.readouterr().out
    assert main([*arguments, "--deep-model", "deep-v9"]) == 2
    assert "no model version 'deep-v9'; known model versions: deep-v1" in capsys.readouterr().err


def test_the_command_winsorises_unless_told_not_to(
    command: None, capsys: pytest.CaptureFixture[str]
) -> None:
    arguments = DISCOVER
    assert main(arguments) == 0
    assert "winsorised at 1.0% per tail" in capsys.readouterr().out
    assert main([*arguments, "--winsorise", "0", "--json"]) == 0
    raw = json.loads(capsys.readouterr().out)
    assert raw["winsorise"] == 0.0
    assert main([*arguments, "--winsorise", "0.05", "--json"]) == 0
    clipped = json.loads(capsys.readouterr().out)
    assert clipped["winsorise"] == 0.05
    # the clip changes the statistics of the features with tails (the size echo is skewed)
    hr = {f["feature"]: f["hr"] for f in raw["features"]}
    assert any(abs(f["hr"] - hr[f["feature"]]) > 1e-6 for f in clipped["features"])
    assert main([*arguments, "--winsorise", "0.3"]) == 2  # the request refuses it
    assert "winsorised share of each tail must be 0 to 0.25" in capsys.readouterr().err

"""The deep model's risk score as an input of the imaging risk score: out-of-fold for the deep
model's training patients in training, its stored prediction of the patient in prediction.

The cohort is the one of the discovery tests (radiomics features in the feature cache, a deep
model version whose out-of-fold scores carry the planted trait and whose final model's scores
of its training patients point the other way).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sqlalchemy import Engine, select, update

from gistcad.domain import ModelKind
from gistcad.errors import ValidationError
from gistcad.modelling.request import TrainRequest
from gistcad.modelling.risk_score_model import DEEP_RISK_COLUMN, RiskScoreLearner
from gistcad.modelling.targets import Target, labels_for
from gistcad.modelling.trainer import predict, train, with_deep_risk_score
from gistcad.store import AccessScope, session_scope
from gistcad.store.model_queries import deep_risk_scores, modelling_table
from gistcad.store.models import Patient, Prediction
from tests.biomarkers.test_deep_risk_candidate import UNSCORED, UNSEEN, N, _store

EVERYTHING = AccessScope.everything()


@pytest.fixture
def stored(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> tuple[Engine, Path, dict[str, Any]]:
    monkeypatch.setenv("GISTCAD_CLUSTER", "off")  # the cached features are read here
    return engine, tmp_path, _store(engine, tmp_path)


def _train(engine: Engine, data_dir: Path, deep_model: str | None) -> tuple[int, dict[str, Any]]:
    request = TrainRequest(ModelKind.RADIOMICS, Target.RFS, seed=2, deep_model=deep_model)
    with session_scope(engine) as session:
        version = train(session, EVERYTHING, data_dir, request)
        return version.id, {"parameters": version.parameters, "metrics": version.metrics}


def _pooled_c(metrics: dict[str, Any]) -> float:
    return float(metrics["evaluation"]["concordance"]["All centers"])


def test_the_deep_score_enters_out_of_fold_and_lifts_the_concordance(
    stored: tuple[Engine, Path, dict[str, Any]],
) -> None:
    engine, data_dir, truth = stored
    _, plain = _train(engine, data_dir, None)
    _, deep = _train(engine, data_dir, "deep-v1")
    assert deep["parameters"]["deep_model"] == "deep-v1"
    recorded = deep["metrics"]["deep_model"]
    assert recorded["name"] == "deep-v1"
    assert recorded["out_of_fold"] == truth["trained"] and recorded["final_model"] == UNSEEN
    assert deep["metrics"]["n_patients"] == N - UNSCORED  # the unscored patients left out
    assert "the risk score of deep model deep-v1" in deep["metrics"]["card"]
    # the out-of-fold deep score carries the trait (the in-sample one is its opposite): the
    # cross-validated C rises well above radiomics and size alone
    assert _pooled_c(deep["metrics"]) > _pooled_c(plain["metrics"]) + 0.05


def test_prediction_reads_the_deep_models_stored_prediction_of_the_patient(
    stored: tuple[Engine, Path, dict[str, Any]],
) -> None:
    engine, data_dir, truth = stored
    version_id, _ = _train(engine, data_dir, "deep-v1")
    unseen = truth["ids"][truth["trained"]]  # predicted by the deep model, never trained on

    def risk_score() -> float:
        with session_scope(engine) as session:
            predict(session, EVERYTHING, data_dir, version_id, ["P-097"])
            stmt = select(Prediction.risk_score).where(
                Prediction.model_version_id == version_id, Prediction.patient_id == unseen
            )
            return float(session.scalars(stmt).one())

    before = risk_score()
    with session_scope(engine) as session:
        assert session.get_one(Patient, unseen).pseudonym == "P-097"
        session.execute(
            update(Prediction)
            .where(Prediction.patient_id == unseen, Prediction.risk_score.is_not(None))
            .values(risk_score=Prediction.risk_score + 3.0)
        )
    # a higher deep score, a higher imaging risk score (the deep score's coefficient is > 0)
    assert risk_score() > before + 0.5
    # a patient the deep model has not predicted: refused when named, left out of "all"
    with (
        session_scope(engine) as session,
        pytest.raises(ValidationError, match=r"1 patient\(s\) have none \(P-118\): run the deep"),
    ):
        predict(session, EVERYTHING, data_dir, version_id, ["P-097", "P-118"])
    with session_scope(engine) as session:
        run = predict(session, EVERYTHING, data_dir, version_id)
    assert run.written == N - UNSCORED
    why = "without a risk score of deep model deep-v1, an input"
    assert list(run.left_out) == [why] and len(run.left_out[why]) == UNSCORED
    assert "P-118" in run.left_out[why]
    assert f"({UNSCORED} patient(s) left out, {why}: " in run.text()


def test_the_learner_fits_the_deep_score_on_the_training_rows_only(
    stored: tuple[Engine, Path, dict[str, Any]],
) -> None:
    engine, data_dir, _ = stored
    with session_scope(engine) as session:
        table = modelling_table(session, EVERYTHING)
        table = with_deep_risk_score(table, deep_risk_scores(session, EVERYTHING, "deep-v1"))
    labels = labels_for(table, Target.RFS)
    learner = RiskScoreLearner(n_classes=2, data_dir=data_dir, deep_risk=True)
    train_rows, test_rows = np.arange(80), np.arange(80, len(table))
    fitted = learner.fit(table, labels, train_rows)
    assert fitted["features"][:2] == ["clin_log_size", DEEP_RISK_COLUMN]
    # the held-out rows' deep scores change nothing in the fit: they are not read
    moved = table.copy()
    moved.loc[test_rows, DEEP_RISK_COLUMN] += 100.0
    np.testing.assert_array_equal(learner.fit(moved, labels, train_rows)["coef"], fitted["coef"])
    with pytest.raises(ValidationError, match="the table has no deep_risk_score column"):
        learner.predict(fitted, table.drop(columns=DEEP_RISK_COLUMN))

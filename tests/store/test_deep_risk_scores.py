"""A deep model's risk score per patient: out-of-fold for its training patients, never
in-sample."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from gistcad.domain import ModelKind
from gistcad.errors import NotFoundError, ValidationError
from gistcad.store import AccessScope
from gistcad.store.model_queries import deep_models_with_risk_scores, deep_risk_scores
from gistcad.store.models import ModelVersion, Patient, Prediction
from tests.conftest import BACKENDS
from tests.factories import add_center, add_patient

pytestmark = pytest.mark.parametrize("engine", BACKENDS, indirect=True)


def _version(
    session: Session,
    name: str,
    kind: ModelKind,
    *,
    oof: list[dict[str, Any]],
    trained: list[int] | None,
    validation: str = "kfold",
) -> ModelVersion:
    metrics: dict[str, Any] = {"oof": oof}
    if trained is not None:
        metrics["training_patients"] = trained
    version = ModelVersion(
        name=name, kind=kind, target="genotype", parameters={"scheme": validation}, metrics=metrics
    )
    session.add(version)
    session.flush()
    return version


def _predict(session: Session, version: ModelVersion, patient: Patient, risk: float | None) -> None:
    session.add(
        Prediction(
            patient_id=patient.id,
            model_version_id=version.id,
            probabilities={"kit11": 0.5, "kit9": 0.2, "pdgfra": 0.2, "wt_other": 0.1},
            predicted_class="kit11",
            risk_score=risk,
        )
    )


def _cohort(session: Session) -> dict[str, int]:
    """Six patients of Alpha and one of Beta; a deep version trained on A0–A3 and B0 by k-fold
    (out-of-fold scores for A0–A2 and B0, none for A3), whose final model predicted everyone."""
    alpha, beta = add_center(session, "Alpha"), add_center(session, "Beta")
    patients = [add_patient(session, alpha, f"A{i}") for i in range(6)]
    other = add_patient(session, beta, "B0")
    ids = {p.pseudonym: p.id for p in [*patients, other]}
    trained = [ids["A0"], ids["A1"], ids["A2"], ids["A3"], ids["B0"]]
    oof = [
        {"patient_id": ids[name], "risk_score": score, "p_kit11": 0.5}
        for name, score in (("A0", -1.0), ("A1", 0.25), ("A2", 2.0), ("B0", 9.0))
    ]
    deep = _version(session, "deep-v1", ModelKind.DL, oof=oof, trained=trained)
    for i, patient in enumerate(patients):
        # the final model's scores of its training patients are in-sample: 100 + i, never used
        _predict(session, deep, patient, None if i == 5 else 100.0 + i)
    _predict(session, deep, other, 200.0)
    session.commit()
    return ids


def test_trained_patients_get_their_out_of_fold_score_others_the_final_models(
    engine: Engine,
) -> None:
    with Session(engine) as s:
        ids = _cohort(s)
        alpha = s.get_one(Patient, ids["A0"]).center_id
        found = deep_risk_scores(s, AccessScope.centers(alpha), "deep-v1")
        by_id = deep_risk_scores(s, AccessScope.everything(), str(found.model_version_id))
    scores = found.scores.set_index("patient_id")
    # A0–A2: out-of-fold; A3 trained without an out-of-fold score: left out (in-sample only);
    # A4: never trained on, the final model's score; A5: no score; B0: another center
    assert list(scores.index) == [ids["A0"], ids["A1"], ids["A2"], ids["A4"]]
    assert scores["risk_score"].tolist() == [-1.0, 0.25, 2.0, 104.0]
    assert scores["source"].tolist() == ["out_of_fold"] * 3 + ["final_model"]
    assert found.in_sample == 1 and found.name == "deep-v1"
    assert by_id.scores.set_index("patient_id").loc[ids["B0"], "risk_score"] == 9.0


def test_without_a_record_of_the_training_patients_only_out_of_fold_scores_are_used(
    engine: Engine,
) -> None:
    with Session(engine) as s:
        center = add_center(s, "Alpha")
        patients = [add_patient(s, center, f"A{i}") for i in range(3)]
        oof = [{"patient_id": patients[0].id, "risk_score": 0.5}]
        version = _version(s, "deep-old", ModelKind.DL, oof=oof, trained=None, validation="holdout")
        for patient in patients:
            _predict(s, version, patient, 3.0)
        first = patients[0].id
        s.commit()
        found = deep_risk_scores(s, AccessScope.everything(), "deep-old")
    assert found.scores["patient_id"].tolist() == [first]
    assert found.scores["risk_score"].tolist() == [0.5]
    assert found.in_sample == 2


def test_a_version_that_is_not_a_deep_model_or_has_no_score_is_refused(engine: Engine) -> None:
    with Session(engine) as s:
        _cohort(s)
        _version(s, "radiomics-v1", ModelKind.RADIOMICS, oof=[], trained=[])
        _version(
            s, "deep-silent", ModelKind.DL, oof=[{"patient_id": 1, "p_kit11": 0.4}], trained=[]
        )
        s.commit()
        everything = AccessScope.everything()
        assert deep_models_with_risk_scores(s) == ["deep-v1"]
        with pytest.raises(ValidationError, match=r"'radiomics-v1' is a Radiomics \(CT\) model, "):
            deep_risk_scores(s, everything, "radiomics-v1")
        with pytest.raises(ValidationError, match=r"'deep-silent' holds no risk score.*: deep-v1$"):
            deep_risk_scores(s, everything, "deep-silent")
        with pytest.raises(NotFoundError, match="no model version 'deep-v9'"):
            deep_risk_scores(s, everything, "deep-v9")

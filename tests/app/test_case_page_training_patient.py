"""AppTest of the case view for a patient a model was trained on: the out-of-fold prediction
stands for them, and without one no in-sample score or class is shown as theirs."""

from __future__ import annotations

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from gistcad.domain import ModelKind
from gistcad.modelling.targets import Target
from gistcad.store.models import ModelVersion, Patient, Prediction
from tests.app.conftest import open_page


def _rfs_version(
    session: Session, name: str, scheme: str, training: list[int], tested: list[int]
) -> ModelVersion:
    """An rfs version as ``gistcad train --target rfs --cv <scheme>`` registers one: the
    out-of-fold rows of the ``tested`` patients (risk scores 0.0, 0.5, 1.0, ...; P(recurrence
    by 5 years) 0.7) and its ``training`` patients."""
    version = ModelVersion(
        name=name,
        kind=ModelKind.RADIOMICS,
        target=Target.RFS.value,
        parameters={"scheme": scheme, "classes": list(Target.RFS.classes)},
        metrics={
            "oof": [
                {"patient_id": pid, "fold": "fold 1", "label": 0, "risk_score": i / 2}
                | {"p_no_recurrence_5y": 0.3, "p_recurrence_5y": 0.7}
                for i, pid in enumerate(tested)
            ],
            "training_patients": training,
        },
    )
    session.add(version)
    session.flush()
    return version


def _predict(session: Session, version: ModelVersion, patient_id: int) -> None:
    """The final model's in-sample prediction: no recurrence (0.9), risk score 2.0."""
    session.add(
        Prediction(
            patient_id=patient_id,
            model_version_id=version.id,
            probabilities={"no_recurrence_5y": 0.9, "recurrence_5y": 0.1},
            predicted_class="no_recurrence_5y",
            risk_score=2.0,
        )
    )


def _ids(session: Session) -> dict[str, int]:
    return {p: i for p, i in session.execute(select(Patient.pseudonym, Patient.id))}


def test_a_hold_out_training_patient_gets_no_in_sample_score_or_class(
    app_db: Engine, seeded: dict
) -> None:
    with Session(app_db) as s:
        ids = _ids(s)
        training = [ids[f"P-{i:03d}"] for i in range(6)]
        tested = [ids[f"P-{i:03d}"] for i in range(6, 12)]  # the hold-out patients
        version = _rfs_version(s, "rfs-holdout", "holdout", training + tested, tested)
        _predict(s, version, ids["P-002"])
        s.commit()
        number = version.id
    at = open_page("views/case.py", {"patient": "P-002"})
    text = " ".join(m.value for m in at.markdown)
    assert (
        f"Imaging risk score (rfs-holdout, version {number}): not shown — the model was trained "
        "on this patient and has no out-of-fold score of them, so its score would be in-sample"
    ) in text
    assert "Imaging risk score 2.00" not in text and "tertile" not in text
    assert (
        "no prediction shown — this patient was used to train rfs-holdout, which has no "
        "out-of-fold prediction of them (hold-out); its final prediction would be in-sample."
    ) in text
    assert "No recurrence by 5 years" not in text and "90%" not in text


def test_a_k_fold_training_patient_is_shown_the_out_of_fold_prediction(
    app_db: Engine, seeded: dict
) -> None:
    with Session(app_db) as s:
        ids = _ids(s)
        training = [ids[f"P-{i:03d}"] for i in range(6)]
        version = _rfs_version(s, "rfs-kfold", "kfold", training, training)
        _predict(s, version, ids["P-002"])
        s.commit()
    at = open_page("views/case.py", {"patient": "P-002"})
    text = " ".join(m.value for m in at.markdown)
    assert (
        "rfs-kfold, out-of-fold (k-fold cross-validation; fitted without this patient): "
        "**Recurrence by 5 years** — No recurrence by 5 years 30%, Recurrence by 5 years 70%"
    ) in text
    assert "**No recurrence by 5 years**" not in text  # the final model's, in-sample
    assert "Imaging risk score 1.00 (rfs-kfold" in text  # P-002's out-of-fold score
    captions = " ".join(c.value for c in at.caption)
    assert "rfs-kfold was trained on this patient: its final prediction is in-sample" in captions

"""A model version's final and out-of-fold predictions, its training patients, in scope."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from gistcad.store import AccessScope
from gistcad.store.model_queries import model_prediction_set
from tests.conftest import BACKENDS
from tests.factories import add_center, add_patient, add_validated_model

pytestmark = pytest.mark.parametrize("engine", BACKENDS, indirect=True)


def _seed(engine: Engine) -> dict[str, object]:
    with Session(engine) as s:
        a, b = add_center(s, "Alpha"), add_center(s, "Beta")
        ids = [add_patient(s, a, f"A-{i}").id for i in range(3)]
        ids += [add_patient(s, b, f"B-{i}").id for i in range(2)]
        final = {pid: 0.9 for pid in ids}
        kfold = add_validated_model(s, "kfold", final, {p: 0.2 for p in ids[:4]}, ids[:4])
        old = add_validated_model(s, "old", final, {p: 0.2 for p in ids[:4]}, None)
        hold = add_validated_model(s, "hold", final, {ids[0]: 0.2}, None, scheme="holdout")
        s.commit()
        return {"ids": ids, "kfold": kfold, "old": old, "hold": hold, "a": a.id}


def _rows(engine: Engine, model_id: int, scope: AccessScope) -> list[tuple[int, str, object]]:
    with Session(engine) as s:
        found = model_prediction_set(s, scope, model_id)
    return sorted(
        (int(r.patient_id), str(r.kind), r.trained_on, round(r.probabilities["kit11"], 2))
        for r in found.predictions.itertuples(index=False)
    )


def test_final_and_out_of_fold_rows_with_training_patients(engine: Engine) -> None:
    seeded = _seed(engine)
    ids = seeded["ids"]
    rows = _rows(engine, seeded["kfold"], AccessScope.everything())
    assert len(rows) == 9
    assert (ids[4], "final model", False, 0.9) in rows
    assert (ids[0], "final model", True, 0.9) in rows
    assert (ids[0], "out-of-fold", True, 0.2) in rows
    with Session(engine) as s:
        assert model_prediction_set(s, AccessScope.everything(), seeded["kfold"]).validation == (
            "kfold"
        )


def test_older_versions_infer_or_leave_unknown_the_training_patients(engine: Engine) -> None:
    seeded = _seed(engine)
    ids = seeded["ids"]
    old = _rows(engine, seeded["old"], AccessScope.everything())
    assert (ids[4], "final model", False, 0.9) in old  # k-fold folds cover the training set
    hold = _rows(engine, seeded["hold"], AccessScope.everything())
    assert (ids[1], "final model", None, 0.9) in hold


def test_one_center_sees_only_its_out_of_fold_rows(engine: Engine) -> None:
    seeded = _seed(engine)
    rows = _rows(engine, seeded["kfold"], AccessScope.centers(seeded["a"]))
    assert {r[0] for r in rows} == set(seeded["ids"][:3])


def test_only_the_classes_asked_for_are_read_with_the_same_values(engine: Engine) -> None:
    seeded = _seed(engine)
    with Session(engine) as s:
        model_id = int(str(seeded["kfold"]))
        every = model_prediction_set(s, AccessScope.everything(), model_id).predictions
        one = model_prediction_set(
            s, AccessScope.everything(), model_id, classes=["kit11"]
        ).predictions
        # a class no prediction has: rows read, the class absent from each row (not 0)
        absent = model_prediction_set(
            s, AccessScope.everything(), model_id, classes=["kit11", "kit9"]
        ).predictions
    assert list(one["patient_id"]) == list(every["patient_id"])
    assert list(one["kind"]) == list(every["kind"])
    # the same numbers, exactly, as the whole JSON gives, and no other class
    assert [p["kit11"] for p in one["probabilities"]] == [
        p["kit11"] for p in every["probabilities"]
    ]
    assert {frozenset(p) for p in one["probabilities"]} == {frozenset({"kit11"})}
    assert sorted(round(p["not_kit11"], 2) for p in every["probabilities"]) == [0.1] * 5 + [0.8] * 4
    assert {frozenset(p) for p in absent["probabilities"]} == {frozenset({"kit11"})}


def test_a_class_without_its_own_column_is_read_from_the_json(engine: Engine) -> None:
    seeded = _seed(engine)
    with Session(engine) as s:
        model_id = int(str(seeded["kfold"]))
        every = model_prediction_set(s, AccessScope.everything(), model_id).predictions
        rest = model_prediction_set(
            s, AccessScope.everything(), model_id, classes=["not_kit11", "kit11"]
        ).predictions
    assert [p["not_kit11"] for p in rest["probabilities"]] == [
        p["not_kit11"] for p in every["probabilities"]
    ]
    assert [p["kit11"] for p in rest["probabilities"]] == [
        p["kit11"] for p in every["probabilities"]
    ]


def test_writing_a_prediction_fills_its_probability_columns(engine: Engine) -> None:
    from gistcad.domain import ModelKind
    from gistcad.store.models import ModelVersion, Prediction

    with Session(engine) as s:
        patient = add_patient(s, add_center(s, "Alpha"), "A-1")
        model = ModelVersion(name="m", kind=ModelKind.CLINICAL, target="kit11")
        s.add(model)
        s.flush()
        row = Prediction(
            patient_id=patient.id,
            model_version_id=model.id,
            probabilities={"not_kit11": 0.25, "kit11": 0.75},
            predicted_class="kit11",
        )
        s.add(row)
        s.commit()
        stored = s.get(Prediction, row.id)
        assert stored is not None
        assert (stored.p_kit11, stored.p_kit9, stored.p_pdgfra, stored.p_wt_other) == (
            0.75,
            None,
            None,
            None,
        )
        stored.probabilities = {"kit11": 0.5, "kit9": 0.125, "pdgfra": 0.125, "wt_other": 0.25}
        s.commit()
        s.expire_all()
        again = s.get(Prediction, row.id)
        assert again is not None
        assert (again.p_kit11, again.p_kit9, again.p_pdgfra, again.p_wt_other) == (
            0.5,
            0.125,
            0.125,
            0.25,
        )

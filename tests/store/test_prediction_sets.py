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
    # the same numbers, exactly, as the whole JSON gives, as a float column, and no other class
    assert one["p_kit11"].tolist() == [p["kit11"] for p in every["probabilities"]]
    assert list(one.columns) == ["patient_id", "p_kit11", "kind", "trained_on"]
    assert sorted(round(p["not_kit11"], 2) for p in every["probabilities"]) == [0.1] * 5 + [0.8] * 4
    assert absent["p_kit11"].tolist() == one["p_kit11"].tolist()
    assert absent["p_kit9"].isna().all()


def test_a_class_without_its_own_column_is_read_from_the_json(engine: Engine) -> None:
    seeded = _seed(engine)
    with Session(engine) as s:
        model_id = int(str(seeded["kfold"]))
        every = model_prediction_set(s, AccessScope.everything(), model_id).predictions
        rest = model_prediction_set(
            s, AccessScope.everything(), model_id, classes=["not_kit11", "kit11"]
        ).predictions
    assert rest["p_not_kit11"].tolist() == [p["not_kit11"] for p in every["probabilities"]]
    assert rest["p_kit11"].tolist() == [p["kit11"] for p in every["probabilities"]]


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


FOUR = ("kit11", "kit9", "pdgfra", "wt_other")


def _seed_versions(engine: Engine) -> dict[str, object]:
    """Three model versions: a four-class one whose rows come out of patient order (a patient
    predicted twice, the newer row last; ties at the threshold and between classes), one
    whose only row lacks classes, and a validated KIT exon 11 one with out-of-fold rows."""
    from gistcad.domain import ModelKind
    from gistcad.store.models import ModelVersion, Prediction

    with Session(engine) as s:
        a = add_center(s, "Alpha")
        ids = [add_patient(s, a, f"A-{i}").id for i in range(7)]
        four = ModelVersion(
            name="four", kind=ModelKind.CLINICAL, target="genotype", parameters={}, metrics={}
        )
        s.add(four)
        s.flush()
        rows = [
            (ids[3], (0.1, 0.2, 0.3, 0.4)),
            (ids[1], (0.9, 0.05, 0.03, 0.02)),  # replaced by the newer row below
            (ids[0], (0.5, 0.1, 0.1, 0.3)),  # P(KIT exon 11) at the threshold
            (ids[2], (0.3, 0.3, 0.2, 0.2)),  # two classes tie for the most probable
            (ids[1], (0.2, 0.3, 0.25, 0.25)),  # the newer prediction of ids[1]
            (ids[4], (0.25, 0.25, 0.25, 0.25)),
        ]
        for pid, probs in rows:
            s.add(
                Prediction(
                    patient_id=pid,
                    model_version_id=four.id,
                    probabilities=dict(zip(FOUR, probs, strict=True)),
                    predicted_class="kit11",
                )
            )
            s.flush()
        partial = ModelVersion(
            name="partial", kind=ModelKind.CLINICAL, target="genotype", parameters={}, metrics={}
        )
        s.add(partial)
        s.flush()
        s.add(  # a row without P(KIT exon 9) etc.: refused by the splits that read them
            Prediction(
                patient_id=ids[6],
                model_version_id=partial.id,
                probabilities={"kit11": 0.7, "wt_other": 0.3},
                predicted_class="kit11",
            )
        )
        binary = add_validated_model(
            s,
            "kfold",
            {p: 0.5 + 0.1 * (i % 3) for i, p in enumerate(ids[:5])},
            {ids[0]: 0.2, ids[1]: 0.5, ids[2]: 0.8},
            ids[:3],
        )
        s.commit()
        return {"ids": ids, "four": four.id, "partial": partial.id, "binary": binary}


def _grouped(
    engine: Engine, model_id: object, split: object, *, arrays: bool, in_sample: bool
) -> tuple[list[str], list[str]] | str:
    """Predicted status and prediction source of every patient, from the probabilities as
    float columns (``arrays``) or as the whole JSON of each row; the refusal's message
    where there is one."""
    from gistcad.analysis.grouping import needed_classes, predicted_groups
    from gistcad.analysis.prediction_source import PredictionSource, choose_predictions
    from gistcad.domain import StatusSplit
    from gistcad.errors import ValidationError
    from gistcad.store.queries import CohortFilter, cohort_table

    assert isinstance(split, StatusSplit)
    scope = AccessScope.everything()
    with Session(engine) as s:
        cohort = cohort_table(s, scope, CohortFilter(), columns=["patient_id"])
        classes = needed_classes(split) if arrays else None
        found = model_prediction_set(s, scope, int(str(model_id)), classes=classes)
    try:
        chosen = choose_predictions(cohort["patient_id"], found.predictions, in_sample=in_sample)
        labels = predicted_groups(
            cohort, chosen[chosen["source"] != PredictionSource.NONE], split, threshold=0.5
        )
    except ValidationError as exc:
        return str(exc)
    return list(labels), list(chosen["source"])


@pytest.mark.parametrize("in_sample", [False, True])
def test_probabilities_as_arrays_group_as_the_mappings_do(engine: Engine, in_sample: bool) -> None:
    from gistcad.domain import GenotypeClass, StatusSplit

    seeded = _seed_versions(engine)
    for model in ("four", "partial", "binary"):
        for split in StatusSplit:
            arrays = _grouped(engine, seeded[model], split, arrays=True, in_sample=in_sample)
            mappings = _grouped(engine, seeded[model], split, arrays=False, in_sample=in_sample)
            if isinstance(mappings, str):
                assert isinstance(arrays, str) and "no probability for" in arrays
                assert arrays.split(" (")[0] == mappings.split(" (")[0]  # the same classes
            else:
                assert arrays == mappings, (model, split)
    # the cases themselves, worked by hand
    partial = _grouped(
        engine, seeded["partial"], StatusSplit.FOUR_CLASS, arrays=True, in_sample=False
    )
    assert isinstance(partial, str) and "no probability for kit9, pdgfra" in partial
    four = _grouped(engine, seeded["four"], StatusSplit.FOUR_CLASS, arrays=True, in_sample=False)
    assert not isinstance(four, str)
    # the newer row of ids[1]; a tie goes to the first class (KIT exon 11)
    assert four[0] == [GenotypeClass(c).label for c in ("kit11", "kit9", "kit11", "wt_other")] + [
        GenotypeClass.KIT11.label,
        "No prediction",
        "No prediction",
    ]
    mutant = _grouped(engine, seeded["four"], StatusSplit.KIT_MUTANT, arrays=True, in_sample=False)
    assert not isinstance(mutant, str)
    assert (
        mutant[0] == ["KIT-mutant"] * 3 + ["Not KIT-mutant", "KIT-mutant"] + ["No prediction"] * 2
    )
    kit11 = _grouped(engine, seeded["four"], StatusSplit.KIT11, arrays=True, in_sample=in_sample)
    assert not isinstance(kit11, str)
    assert kit11[0] == [
        "KIT exon 11",  # 0.5 at the threshold 0.5
        "Not KIT exon 11",  # the newer row (0.2), not the older (0.9)
        "Not KIT exon 11",
        "Not KIT exon 11",
        "Not KIT exon 11",
        "No prediction",
        "No prediction",
    ]
    assert set(kit11[1]) == {"final model, training patients not recorded", "no prediction"}
    binary = _grouped(engine, seeded["binary"], StatusSplit.KIT11, arrays=True, in_sample=False)
    assert not isinstance(binary, str)
    # out-of-fold for the training patients (0.2, 0.5, 0.8), the final model for the others
    # (0.8, 0.5: ids[3], ids[4]), none for ids[5] and ids[6]
    yes, no, none = "KIT exon 11", "Not KIT exon 11", "No prediction"
    assert binary[0] == [no, yes, yes, yes, yes, none, none]
    assert binary[1][:5] == ["out-of-fold"] * 3 + ["final model, not trained on"] * 2

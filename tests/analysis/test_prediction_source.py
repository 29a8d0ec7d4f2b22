"""Which prediction stands for each patient: out-of-fold for training patients, never in-sample
unless asked, and the counts per source."""

from __future__ import annotations

import pandas as pd
import pytest

from gistcad.analysis.prediction_source import (
    PredictionSource,
    choose_predictions,
    describe_sources,
    prediction_text,
    source_counts,
)
from gistcad.errors import ValidationError


def _p(kit11: float) -> dict[str, float]:
    return {"kit11": kit11, "not_kit11": 1 - kit11}


# patients 1-3 trained on (out-of-fold rows), 4 not trained on, 5 without any prediction
PREDICTIONS = pd.DataFrame(
    {
        "patient_id": [1, 2, 3, 4, 1, 2, 3],
        "probabilities": [_p(0.9), _p(0.8), _p(0.7), _p(0.6), _p(0.1), _p(0.2), _p(0.3)],
        "kind": ["final model"] * 4 + ["out-of-fold"] * 3,
        "trained_on": [True, True, True, False, True, True, True],
    }
)
PATIENTS = pd.Series([1, 2, 3, 4, 5], index=[10, 11, 12, 13, 14])


def test_training_patients_get_their_out_of_fold_prediction() -> None:
    chosen = choose_predictions(PATIENTS, PREDICTIONS)
    assert list(chosen.index) == [10, 11, 12, 13, 14]
    assert list(chosen["source"]) == [
        PredictionSource.OUT_OF_FOLD,
        PredictionSource.OUT_OF_FOLD,
        PredictionSource.OUT_OF_FOLD,
        PredictionSource.FINAL_UNSEEN,
        PredictionSource.NONE,
    ]
    assert [p and p["kit11"] for p in chosen["probabilities"]] == [0.1, 0.2, 0.3, 0.6, None]


def test_in_sample_only_on_request_and_then_labelled() -> None:
    hold_out = PREDICTIONS[
        ~((PREDICTIONS["kind"] == "out-of-fold") & (PREDICTIONS["patient_id"] == 3))
    ]
    with pytest.raises(ValidationError, match="1 of the selected patients were used to train"):
        choose_predictions(PATIENTS, hold_out)
    chosen = choose_predictions(PATIENTS, hold_out, in_sample=True)
    assert list(chosen["source"])[:4] == [PredictionSource.IN_SAMPLE] * 3 + [
        PredictionSource.FINAL_UNSEEN
    ]
    assert [p["kit11"] for p in chosen["probabilities"][:3]] == [0.9, 0.8, 0.7]


def test_a_model_that_records_nothing_says_so() -> None:
    bare = PREDICTIONS[PREDICTIONS["kind"] == "final model"][["patient_id", "probabilities"]]
    chosen = choose_predictions(PATIENTS, bare)
    assert set(chosen["source"][:4]) == {PredictionSource.FINAL_UNRECORDED}


def test_counts_and_words_per_group() -> None:
    chosen = choose_predictions(PATIENTS, PREDICTIONS)
    groups = pd.Series(["yes", "no", "no", "no", "none"])
    counts = source_counts(groups, chosen["source"])
    assert counts.to_dict(orient="records") == [
        {"group": "no", "source": "out-of-fold", "n": 2},
        {"group": "no", "source": "final model, not trained on", "n": 1},
        {"group": "none", "source": "no prediction", "n": 1},
        {"group": "yes", "source": "out-of-fold", "n": 1},
    ]
    words = describe_sources(counts, "kfold")
    assert words["no"] == "out-of-fold (k-fold cross-validation) 2; final model, not trained on 1"


def _row(target: str, oof: dict[str, float] | None) -> dict[str, object]:
    return {
        "model": "clin",
        "kind": "clinical",
        "target": target,
        "created_at": pd.Timestamp("2026-01-02"),
        "predicted_class": "progression_6m",
        "probabilities": {"no_progression_6m": 0.25, "progression_6m": 0.75},
        "trained_on": False,
        "out_of_fold": oof,
        "validation": "kfold",
    }


def test_a_response_prediction_says_what_its_probability_means() -> None:
    final = prediction_text(_row("progression_6m", None))
    assert final.summary == (
        "Predicted RECIST 1.1 progression by 6 months: 75% (clin, final model, not trained on)"
    )
    assert final.plain.startswith(
        f"{final.summary}. clin (Clinical, 2026-01-02), final model, not trained on: "
        "Progression by 6 months"
    )
    oof = prediction_text(_row("progression_6m", {"no_progression_6m": 0.6, "progression_6m": 0.4}))
    assert oof.summary == "Predicted RECIST 1.1 progression by 6 months: 40% (clin, out-of-fold)"
    assert prediction_text(_row("kit11", None)).summary is None


@pytest.mark.parametrize("in_sample", [False, True])
def test_choosing_by_arrays_equals_choosing_patient_by_patient(in_sample: bool) -> None:
    import numpy as np

    from gistcad.analysis.prediction_source import final_prediction_source

    rng = np.random.default_rng(4)
    n = 400
    predictions = pd.DataFrame(
        {
            "patient_id": rng.integers(0, 150, n),
            "probabilities": [{"kit11": float(p)} for p in rng.random(n)],
            "kind": rng.choice(["final model", "out-of-fold"], n),
            # only unseen or unrecorded ones, so that no in-sample refusal stops the check
            "trained_on": rng.choice(np.array([False, None], dtype=object), n),
        }
    )
    patients = pd.Series(np.arange(0, 180), index=np.arange(0, 180) + 7)

    def latest(kind: str) -> dict[int, dict]:
        rows = predictions[predictions["kind"] == kind].drop_duplicates("patient_id", keep="last")
        return {int(r["patient_id"]): r for r in rows.to_dict(orient="records")}

    final, oof = latest("final model"), latest("out-of-fold")
    expected = []
    for pid in patients:  # the rule of the docstring, one patient at a time
        own_final, own_oof = final.get(pid), oof.get(pid)
        if own_oof is not None and not (in_sample and own_final is not None):
            expected.append((pid, own_oof["probabilities"], PredictionSource.OUT_OF_FOLD.value))
        elif own_final is None:
            expected.append((pid, None, PredictionSource.NONE.value))
        else:
            source = final_prediction_source(own_final["trained_on"], own_oof is not None)
            expected.append((pid, own_final["probabilities"], source.value))
    if not in_sample and any(e[2] == PredictionSource.IN_SAMPLE.value for e in expected):
        with pytest.raises(ValidationError):
            choose_predictions(patients, predictions, in_sample=in_sample)
        return
    chosen = choose_predictions(patients, predictions, in_sample=in_sample)
    assert list(chosen.index) == list(patients.index)
    assert [tuple(r) for r in chosen.itertuples(index=False)] == expected
    assert {e[2] for e in expected} >= {
        PredictionSource.OUT_OF_FOLD.value,
        PredictionSource.NONE.value,
        PredictionSource.FINAL_UNSEEN.value,
    }


def _trained(target: str, oof: dict[str, float] | None, validation: str) -> dict[str, object]:
    """A prediction of a patient the model was trained on (in-sample final prediction)."""
    return {**_row(target, oof), "model": "m", "trained_on": True, "validation": validation}


def test_a_training_patient_without_out_of_fold_prediction_is_shown_no_in_sample_class() -> None:
    # ``--target rfs --cv holdout``: the final model's class of a training patient is in-sample
    text = prediction_text(
        {
            **_trained("rfs", None, "holdout"),
            "predicted_class": "recurrence_5y",
            "probabilities": {"no_recurrence_5y": 0.1, "recurrence_5y": 0.9},
        }
    )
    assert text.source is PredictionSource.IN_SAMPLE and text.shown is None
    assert text.plain == (
        "m (Clinical, 2026-01-02): no prediction shown — this patient was used to train m, "
        "which has no out-of-fold prediction of them (hold-out); its final prediction would "
        "be in-sample."
    )
    assert "Recurrence" not in text.plain and "90%" not in text.plain
    response = prediction_text(_trained("progression_6m", None, "loco"))
    assert response.summary is None and response.shown is None  # no in-sample 75 %
    assert "75%" not in response.plain and "(leave-one-center-out)" in response.plain


def test_a_training_patient_is_shown_the_out_of_fold_prediction_first_and_warned() -> None:
    oof = {"no_progression_6m": 0.6, "progression_6m": 0.4}
    text = prediction_text(_trained("progression_6m", oof, "kfold"))
    assert text.shown == (
        "m, out-of-fold (k-fold cross-validation; fitted without this patient)",
        "No progression by 6 months",
        "No progression by 6 months 60%, Progression by 6 months 40%",
    )
    assert text.plain == (
        "Predicted RECIST 1.1 progression by 6 months: 40% (m, out-of-fold). "
        "m, out-of-fold (k-fold cross-validation; fitted without this patient): No progression "
        "by 6 months (No progression by 6 months 60%, Progression by 6 months 40%). m was "
        "trained on this patient: its final prediction is in-sample; the out-of-fold "
        "prediction is the honest one."
    )
    unseen = prediction_text(_row("progression_6m", None))  # not trained on: the final one
    assert unseen.shown is not None and unseen.shown[0].endswith("final model, not trained on")

"""The case card's genotype panel: which model is recommended, with what AUC, and whether
this patient was in its training set."""

from __future__ import annotations

import datetime as dt
from typing import Any

from gistcad.analysis.case import genotype_panel
from gistcad.analysis.prediction_source import prediction_text

KIT11 = {"not_kit11": 0.33, "kit11": 0.67}


def _row(
    version: int,
    name: str,
    *,
    target: str = "kit11",
    validation: str | None = "kfold",
    auc: float | None = 0.8,
    ci: tuple[float, float] | None = (0.7, 0.9),
    n: int = 200,
    out_of_fold: dict[str, float] | None = None,
    trained_on: bool | None = True,
) -> dict[str, Any]:
    pooled = (
        {}
        if auc is None
        else {
            "kit11_vs_rest": {
                "auc": auc,
                "ci_lower": None if ci is None else ci[0],
                "ci_upper": None if ci is None else ci[1],
                "n": n,
            }
        }
    )
    return {
        "model_version_id": version,
        "model": name,
        "kind": "clinical",
        "target": target,
        "created_at": dt.datetime(2026, 1, version + 1),
        "probabilities": KIT11,
        "predicted_class": "kit11",
        "trained_on": trained_on,
        "out_of_fold": out_of_fold,
        "validation": validation,
        "pooled": pooled,
    }


def _panel(rows: list[dict[str, Any]]) -> Any:
    return genotype_panel(rows, tuple(prediction_text(r) for r in rows))


def test_the_best_out_of_fold_model_is_recommended_and_a_hold_out_one_is_not_compared() -> None:
    rows = [
        # the highest AUC, but on a 50-patient hold-out: not comparable, never recommended
        _row(3, "deep", target="genotype", validation="holdout", auc=0.9, n=50, trained_on=False),
        _row(2, "radiomics", auc=0.78, ci=(0.71, 0.85), out_of_fold={"kit11": 0.6}),
        _row(1, "clinical", target="genotype", auc=0.74, out_of_fold={"kit11": 0.5}),
        _row(4, "risk", target="risk", auc=0.95),  # not a genotype model
    ]
    panel = _panel(rows)
    assert panel.recommended is not None and panel.recommended.model == "radiomics"
    assert panel.recommendation == (
        "Recommended model: radiomics, the best validated for KIT exon 11 vs rest: out-of-fold "
        "AUC 0.78 (95 % CI 0.71–0.85), 200 patients, k-fold cross-validation."
    )
    assert panel.recommended.this_patient == "out-of-fold (fitted without this patient)"
    assert [m.model for m in panel.others] == ["deep", "clinical"]
    deep = panel.others[0]
    assert deep.validation == (
        "AUC 0.90 (95 % CI 0.70–0.90), 50 patients on a hold-out only, not comparable with "
        "out-of-fold AUCs"
    )
    assert deep.this_patient == "not trained on this patient"
    assert deep.shown == ("KIT exon 11", deep.text.probabilities)  # not trained on: its own
    assert panel.recommended.shown == ("KIT exon 11", "KIT exon 11 60%")  # out of fold


def test_a_training_patient_without_an_out_of_fold_prediction_is_said_to_be_in_sample() -> None:
    panel = _panel([_row(1, "clinical", validation="loco", ci=None, out_of_fold=None)])
    assert panel.recommended is not None
    assert panel.recommended.this_patient == "trained on this patient (in-sample)"
    # its only prediction of the patient is in-sample: no class stands for the patient
    assert panel.recommended.shown is None
    assert panel.recommended.plain.startswith("clinical: no prediction shown (in-sample only)")
    withheld = panel.recommended.text.withheld
    assert withheld is not None and "its final prediction would be in-sample" in withheld
    assert panel.recommended.validation == (
        "out-of-fold AUC 0.80 (CI not estimable), 200 patients, leave-one-center-out"
    )


def test_no_recommendation_without_a_model_validated_on_the_cohort() -> None:
    panel = _panel([_row(1, "deep", validation="holdout"), _row(2, "old", validation=None)])
    assert panel.recommended is None
    assert panel.reason is not None and "none is recommended" in panel.reason
    assert [m.validation for m in panel.others][1] == "not validated out of fold"
    assert _panel([]).reason == "No genotype model has predicted this patient yet."


def test_a_model_that_predicted_twice_counts_once_by_its_newest_prediction() -> None:
    newest, older = _row(1, "clinical"), {**_row(1, "clinical"), "probabilities": {"kit11": 0.1}}
    panel = _panel([newest, older])
    assert panel.recommended is not None and panel.others == ()
    assert panel.recommended.text.probabilities == "KIT exon 11 67%, Not KIT exon 11 33%"


def test_an_empty_out_of_fold_record_is_no_out_of_fold_prediction() -> None:
    # the panel's words and the prediction shown follow one rule (standing_prediction): an
    # empty record is not an out-of-fold prediction, so a training patient's is withheld
    trained, unseen = (
        _row(1, "clinical", out_of_fold={}, trained_on=True),
        _row(2, "radiomics", out_of_fold={}, trained_on=False),
    )
    panel = _panel([trained, unseen])
    models = {m.model: m for m in (panel.recommended, *panel.others) if m is not None}
    assert models["clinical"].this_patient == "trained on this patient (in-sample)"
    assert models["clinical"].shown is None
    assert models["radiomics"].this_patient == "not trained on this patient"
    assert models["radiomics"].shown == ("KIT exon 11", models["radiomics"].text.probabilities)

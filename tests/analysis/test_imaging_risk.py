"""The imaging risk score's tertile in its training cohort, by hand."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from gistcad.analysis.imaging_risk import imaging_risk_score, tertile_cuts, tertile_of
from gistcad.errors import ValidationError
from gistcad.modelling.survival_evaluation import risk_tertiles


def test_cuts_by_hand() -> None:
    # six scores: ranks 1-2 low, 3-4 middle, 5-6 high; the middle starts at the 3rd (0.3),
    # the high at the 5th (0.5); seven: ranks 1-3 low (⌊3·2/7⌋ = 0), 4-5 middle, 6-7 high
    assert tertile_cuts([0.6, 0.1, 0.5, 0.2, 0.4, 0.3]) == (0.3, 0.5)
    assert tertile_cuts([7, 1, 6, 2, 5, 3, 4]) == (4, 6)
    assert [tertile_of(s, (0.3, 0.5)) for s in (0.29, 0.3, 0.49, 0.5, 9.0)] == [
        "Low",
        "Middle",
        "Middle",
        "High",
        "High",
    ]
    with pytest.raises(ValidationError, match="at least 3 out-of-fold scores; the model has 2"):
        tertile_cuts([0.1, float("nan"), 0.2])


def test_the_training_patients_fall_in_the_tertiles_of_the_performance_page() -> None:
    scores = np.random.default_rng(3).normal(size=31)
    cuts = tertile_cuts(scores)
    page = risk_tertiles(pd.DataFrame({"risk_score": scores}))
    assert [tertile_of(s, cuts) for s in scores] == list(page)


def _row(
    target: str,
    score: float | None,
    own: float | None,
    version: int = 2,
    trained_on: bool | None = False,
) -> dict:
    return {
        "model_version_id": version,
        "model": f"m{version}",
        "target": target,
        "risk_score": score,
        "out_of_fold_risk_score": own,
        "trained_on": own is not None or trained_on,
        "training_risk_scores": None if target != "rfs" else [0.1, 0.2, 0.3, 0.4, 0.5, 0.6],
    }


def test_the_newest_survival_model_gives_the_score_out_of_fold_when_there_is_one() -> None:
    rows = [
        _row("genotype", None, None, 5),
        _row("rfs", 0.55, 0.25, 4),
        _row("rfs", 0.1, None, trained_on=False),
    ]
    result = imaging_risk_score(rows)
    assert result is not None
    assert (result.model, result.score, result.tertile) == ("m4", 0.25, "Low")
    assert result.out_of_fold and result.n_training == 6
    assert result.plain == (
        "Imaging risk score 0.25 (m4, version 4): Low tertile of 6 training patients' "
        "out-of-fold scores; out-of-fold (fitted without this patient)"
    )
    final = imaging_risk_score([_row("rfs", 0.55, None)])
    assert final is not None and (final.tertile, final.out_of_fold) == ("High", False)
    assert final.plain.endswith("; final model, not trained on this patient")
    assert imaging_risk_score([_row("genotype", 0.9, None)]) is None


@pytest.mark.parametrize(
    ("trained_on", "why"),
    [
        (True, "the model was trained on this patient"),
        (None, "the model does not record whether it was trained on this patient"),
    ],
)
def test_a_training_patient_without_an_out_of_fold_score_gets_no_score_nor_tertile(
    trained_on: bool | None, why: str
) -> None:
    # ``--target rfs --cv holdout``: the training patients have only the final model's
    # (in-sample) score; 2.00 would be the High tertile of the out-of-fold scores
    rows = [_row("rfs", 2.0, None, 1, trained_on), _row("rfs", 0.35, 0.35, 0)]
    result = imaging_risk_score(rows)
    assert result is not None and result.model == "m1"
    assert (result.score, result.tertile, result.out_of_fold) == (None, None, False)
    assert result.plain == (
        f"Imaging risk score (m1, version 1): not shown — {why} and has no out-of-fold score "
        "of them, so its score would be in-sample"
    )
    assert "2.00" not in result.plain and "tertile" not in result.plain


def test_a_recorded_nan_trained_on_counts_as_not_recorded() -> None:
    row = {**_row("rfs", 2.0, None), "trained_on": float("nan")}
    result = imaging_risk_score([row])
    assert result is not None and result.score is None and result.trained_on is None

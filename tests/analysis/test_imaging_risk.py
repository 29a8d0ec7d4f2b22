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


def _row(target: str, score: float | None, own: float | None, version: int = 2) -> dict:
    return {
        "model_version_id": version,
        "model": f"m{version}",
        "target": target,
        "risk_score": score,
        "out_of_fold_risk_score": own,
        "training_risk_scores": None if target != "rfs" else [0.1, 0.2, 0.3, 0.4, 0.5, 0.6],
    }


def test_the_newest_survival_model_gives_the_score_out_of_fold_when_there_is_one() -> None:
    rows = [_row("genotype", None, None, 5), _row("rfs", 0.55, 0.25, 4), _row("rfs", 0.1, None)]
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
    assert final.plain.endswith("; final model")
    assert imaging_risk_score([_row("genotype", 0.9, None)]) is None

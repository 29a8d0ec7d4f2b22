"""Survival of a cohort table: selection notes, landmark, predicted beside true status."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from gistcad.analysis.cohort_survival import SurvivalRequest, cohort_survival, predicted_vs_true
from gistcad.analysis.grouping import Grouping, StatusSplit
from gistcad.errors import ValidationError

rng = np.random.default_rng(3)
N = 80
COHORT = pd.DataFrame(
    {
        "patient_id": np.arange(N),
        "center": np.where(np.arange(N) % 2, "A", "B"),
        "genotype_detail": np.where(np.arange(N) % 4 == 0, "pdgfra_d842v", "kit11_del_other"),
        "age_at_diagnosis": rng.uniform(30, 80, N),
        "sex": np.where(np.arange(N) % 3, "male", "female"),
        "size_cm": rng.uniform(1, 15, N),
        "rfs_months": np.where(np.arange(N) == 5, np.nan, rng.uniform(1, 120, N)),
        "rfs_event": np.where(np.arange(N) == 5, np.nan, rng.integers(0, 2, N)),
    }
)
PREDICTIONS = pd.DataFrame(
    {
        "patient_id": np.arange(N),
        "probabilities": [
            {"kit11": p, "kit9": (1 - p) / 3, "pdgfra": (1 - p) / 3, "wt_other": (1 - p) / 3}
            for p in rng.uniform(0, 1, N)
        ],
    }
)


def test_missing_endpoint_is_noted_not_hidden() -> None:
    result = cohort_survival(COHORT, SurvivalRequest(by=Grouping.GENOTYPE))
    assert result.notes == ("1 patients without RFS data (or a covariate) left out.",)
    assert result.comparison.summary["n"].sum() == N - 1
    assert result.n_selected == N


def test_landmark_restarts_the_clock() -> None:
    request = SurvivalRequest(by=Grouping.CENTER, landmark_months=24)
    result = cohort_survival(COHORT, request)
    kept = (COHORT["rfs_months"] > 24).sum()
    assert result.comparison.summary["n"].sum() == kept
    assert "Landmark at 24 months" in result.notes[-1]


def test_predicted_beside_true_with_agreement() -> None:
    request = SurvivalRequest(by=Grouping.PREDICTED, split=StatusSplit.KIT11, threshold=0.5)
    predicted, true, agreement = predicted_vs_true(COHORT, request, PREDICTIONS)
    assert set(true.comparison.groups) == {"KIT exon 11", "Not KIT exon 11"}
    assert predicted.comparison.summary["n"].sum() == N - 1
    assert agreement.loc["Total", "Total"] == N
    n_pred_pos = sum(p["kit11"] >= 0.5 for p in PREDICTIONS["probabilities"])
    assert agreement.loc["KIT exon 11", "Total"] == n_pred_pos
    assert agreement.loc["Total", "Not KIT exon 11"] == N // 4


def test_bad_requests() -> None:
    with pytest.raises(ValidationError, match="unknown covariate height"):
        SurvivalRequest(adjust=("height",))
    with pytest.raises(ValidationError, match="needs a model's predictions"):
        cohort_survival(COHORT, SurvivalRequest(by=Grouping.PREDICTED))
    with pytest.raises(ValidationError, match="holds no patients"):
        cohort_survival(COHORT.iloc[:0], SurvivalRequest())

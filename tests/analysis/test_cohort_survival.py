"""Survival of a cohort table: selection notes, landmark, predicted beside true status."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from gistcad.analysis.cohort_survival import (
    SurvivalRequest,
    build_request,
    cohort_survival,
    predicted_vs_true,
)
from gistcad.analysis.grouping import Grouping, StatusSplit
from gistcad.analysis.time_to_event import TimeUnit
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


# --- any variable, any time unit: the 6-MP trial by treatment arm --------------------------


def _six_mp() -> pd.DataFrame:
    """Freireich et al. (1963), arms as adjuvant treatment yes/no, weeks stored as months."""
    data = pd.read_csv(Path(__file__).resolve().parents[1] / "data" / "freireich_6mp.csv")
    return pd.DataFrame(
        {
            "patient_id": np.arange(len(data)),
            "adjuvant_imatinib": (data["group"] == "6-MP").astype(int),
            "rfs_months": TimeUnit.WEEKS.to_months(data["weeks"]),
            "rfs_event": data["relapse"],
        }
    )


def test_six_mp_by_arm_in_weeks_matches_the_published_analysis() -> None:
    request = build_request(by="adjuvant", times="10,20", time_unit="weeks", min_group_size=5)
    result = cohort_survival(_six_mp(), request)
    comparison = result.comparison
    # Kleinbaum & Klein, ch. 2: log-rank chi-square 16.79 (1 df); KM medians 23 and 8 weeks;
    # 6-MP S(10) = 18/21 · 16/17 · 14/15 = 0.7529 (events at 6, 7, 10), placebo S(10) = 8/21
    assert comparison.logrank is not None
    assert comparison.logrank.statistic == pytest.approx(16.79, abs=5e-3)
    summary = comparison.summary.set_index("group")
    assert summary.loc["Adjuvant imatinib", "median"] == pytest.approx(23.0)
    assert summary.loc["No adjuvant imatinib", "median"] == pytest.approx(8.0)
    assert summary.loc["Adjuvant imatinib", "survival_at_10"] == pytest.approx(0.7529, abs=1e-4)
    assert summary.loc["No adjuvant imatinib", "survival_at_10"] == pytest.approx(8 / 21)
    assert comparison.times == (0.0, 10.0, 20.0)
    assert result.time_unit is TimeUnit.WEEKS


def test_the_same_data_in_days_and_years_scale_the_times() -> None:
    weeks = cohort_survival(_six_mp(), build_request(by="adjuvant", time_unit="weeks"))
    days = cohort_survival(_six_mp(), build_request(by="adjuvant", time_unit="days"))
    for group in ("Adjuvant imatinib", "No adjuvant imatinib"):
        np.testing.assert_allclose(
            days.comparison.curves[group].times, weeks.comparison.curves[group].times * 7
        )
    assert days.comparison.logrank.statistic == pytest.approx(weeks.comparison.logrank.statistic)


def test_unknown_groups_are_shown_but_not_tested() -> None:
    cohort = COHORT.assign(
        adjuvant_imatinib=np.where(np.arange(N) % 10 == 0, np.nan, np.arange(N) % 2)
    )
    result = cohort_survival(cohort, build_request(by="adjuvant"))
    assert "Unknown" in result.comparison.groups
    assert result.comparison.untested == ("Unknown",)
    assert result.comparison.logrank is not None
    assert "Unknown" not in result.comparison.logrank.groups
    assert any("left out of the tests" in note for note in result.comparison.notes)
    tested = cohort_survival(
        cohort, build_request(by="adjuvant", test_unknown=True, min_group_size=5)
    )
    assert "Unknown" in tested.comparison.logrank.groups


def test_ordered_groups_use_the_lowest_as_reference_and_report_a_trend() -> None:
    result = cohort_survival(COHORT, build_request(by="size:5,10", min_group_size=5))
    comparison = result.comparison
    assert comparison.groups[:3] == ("< 5 cm", "5 to < 10 cm", "≥ 10 cm")
    assert comparison.reference == "< 5 cm"
    assert comparison.trend is not None and comparison.trend.groups == comparison.groups[:3]
    chosen = cohort_survival(COHORT, build_request(by="size:5,10", reference="≥ 10 cm"))
    assert chosen.comparison.reference == "≥ 10 cm"


def test_adjust_for_any_variable() -> None:
    request = build_request(by="center", adjust="age:tertiles,sex")
    result = cohort_survival(COHORT, request)
    assert result.comparison.cox is not None
    terms = result.comparison.cox.table["term"].tolist()
    assert any(t.startswith("age:tertiles: ") for t in terms)
    assert result.comparison.cox.reference_levels["age:tertiles"].startswith("< ")


def test_predicted_status_from_out_of_fold_predictions() -> None:
    oof = PREDICTIONS.assign(
        probabilities=[{**p, "kit11": 1 - p["kit11"]} for p in PREDICTIONS["probabilities"]],
        kind="out-of-fold",
        trained_on=True,
    )
    final = PREDICTIONS.assign(kind="final model", trained_on=True)
    both = pd.concat([final, oof], ignore_index=True)
    request = SurvivalRequest(by=Grouping.PREDICTED)
    result = cohort_survival(COHORT, request, both, validation="kfold")
    by_oof = cohort_survival(COHORT, request, oof)
    pd.testing.assert_frame_equal(
        result.comparison.summary.drop(columns="prediction_source"),
        by_oof.comparison.summary.drop(columns="prediction_source"),
    )
    assert set(result.prediction_sources["source"]) == {"out-of-fold"}
    assert (
        result.comparison.summary["prediction_source"]
        .str.startswith("out-of-fold (k-fold cross-validation) ")
        .all()
    )
    assert not result.in_sample
    in_sample = cohort_survival(COHORT, replace(request, in_sample=True), both)
    assert in_sample.in_sample
    assert any("overstates the separation" in note for note in in_sample.notes)


def test_afip_insufficient_data_is_shown_but_neither_tested_nor_ordered() -> None:
    # duodenal 7.5 cm tumours fall in an AFIP cell without published figures
    cohort = COHORT.assign(
        site=np.where(np.arange(N) % 4 == 0, "duodenum", "stomach"),
        size_cm=np.where(np.arange(N) % 4 == 0, 7.5, np.where(np.arange(N) % 2, 1.5, 7.5)),
        mitotic_count=np.where(np.arange(N) % 3 == 0, 8.0, 2.0),
        mitotic_unit="per_50hpf",
        rupture=0,
    )
    result = cohort_survival(
        cohort, build_request(by="risk", scheme="afip2006", min_group_size=1)
    ).comparison
    assert "Insufficient data" in result.groups
    assert "Insufficient data" in result.untested
    assert result.logrank is not None and "Insufficient data" not in result.logrank.groups
    assert result.trend is not None and "Insufficient data" not in result.trend.groups

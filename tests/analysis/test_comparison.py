"""The survival comparison of groups: small groups, agreement with the building blocks, JSON."""

import json

import numpy as np
import pandas as pd
import pytest

from gistcad.analysis.comparison import compare_groups
from gistcad.analysis.kaplan_meier import kaplan_meier, median_survival, number_at_risk, survival_at
from gistcad.errors import ValidationError


def _cohort(seed: int = 11) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    sizes = {"kit11": 40, "pdgfra": 25, "kit9": 4}
    scales = {"kit11": 60.0, "pdgfra": 120.0, "kit9": 20.0}
    frames = []
    for group, size in sizes.items():
        event_time = rng.exponential(scales[group], size=size)
        censor_time = rng.uniform(6, 96, size=size)
        frames.append(
            pd.DataFrame(
                {
                    "months": np.minimum(event_time, censor_time).round(1),
                    "event": (event_time <= censor_time).astype(int),
                    "genotype": group,
                }
            )
        )
    return pd.concat(frames, ignore_index=True)


def test_compare_groups_flags_small_groups_and_leaves_them_out_of_tests() -> None:
    cohort = _cohort()
    result = compare_groups(
        cohort["months"], cohort["event"], cohort["genotype"], times=[0, 12, 36, 60]
    )
    summary = result.summary.set_index("group")
    assert summary.loc["kit9", "small_group"]
    assert "fewer than 10 patients" in summary.loc["kit9", "note"]
    assert not summary.loc["kit11", "small_group"]
    assert summary["n"].to_dict() == {"kit11": 40, "kit9": 4, "pdgfra": 25}
    assert result.logrank is not None
    assert result.logrank.groups == ("kit11", "pdgfra")
    assert len(result.pairwise) == 1
    assert result.reference == "kit11"  # the largest group
    assert result.cox is not None
    assert result.cox.table["term"].tolist() == ["group: pdgfra vs kit11"]
    assert any("kit9" in note and "left out" in note for note in result.notes)
    assert set(result.curves) == {"kit11", "kit9", "pdgfra"}


def test_compare_groups_summary_and_at_risk_agree_with_the_building_blocks() -> None:
    cohort = _cohort()
    result = compare_groups(
        cohort["months"], cohort["event"], cohort["genotype"], times=[60, 12, 0]
    )
    assert result.times == (0.0, 12.0, 60.0)
    member = cohort["genotype"] == "pdgfra"
    curve = kaplan_meier(cohort.loc[member, "months"], cohort.loc[member, "event"])
    row = result.summary.set_index("group").loc["pdgfra"]
    expected = survival_at(curve, [12]).iloc[0]
    assert row["survival_at_12"] == pytest.approx(expected["survival"])
    assert row["survival_at_12_ci_lower"] == pytest.approx(expected["ci_lower"])
    assert row["median_text"] == str(median_survival(curve))
    at_risk = result.at_risk[result.at_risk["group"] == "pdgfra"].reset_index(drop=True)
    table = number_at_risk(cohort.loc[member, "months"], cohort.loc[member, "event"], [0, 12, 60])
    pd.testing.assert_frame_equal(at_risk.drop(columns="group"), table)


def test_compare_groups_to_dict_is_json() -> None:
    cohort = _cohort()
    result = compare_groups(
        cohort["months"], cohort["event"], cohort["genotype"], times=[0, 12, 36, 60, 200]
    )
    data = result.to_dict()
    text = json.dumps(data, allow_nan=False)  # fails on NaN or numpy types
    assert json.loads(text)["reference"] == "kit11"
    survival_200 = {row["group"]: row["survival_at_200"] for row in data["summary"]}
    # beyond follow-up S is not estimable (NaN → null) unless the curve already reached 0
    assert survival_200 == {"kit11": None, "kit9": 0.0, "pdgfra": None}
    assert data["logrank"]["test"] == "log-rank"


def test_compare_groups_with_a_chosen_reference_and_covariates() -> None:
    cohort = _cohort()
    rng = np.random.default_rng(5)
    covariates = pd.DataFrame(
        {
            "risk": rng.choice(["low", "high"], size=len(cohort)),
            "age": rng.normal(60, 10, size=len(cohort)),
        }
    )
    result = compare_groups(
        cohort["months"],
        cohort["event"],
        cohort["genotype"],
        times=[12],
        reference="pdgfra",
        covariates=covariates,
    )
    assert result.cox is not None
    assert result.cox.table["term"].iloc[0] == "group: kit11 vs pdgfra"
    assert {"age", "group"} <= set(result.cox.table["variable"])


def test_compare_groups_notes_when_cox_cannot_be_fitted() -> None:
    times = np.arange(1, 25, dtype=float)
    events = np.r_[np.ones(12), np.zeros(12)]
    groups = ["a"] * 12 + ["b"] * 12  # group b: no events
    result = compare_groups(times, events, groups, times=[0, 10])
    assert result.cox is None
    assert any(
        note.startswith("Cox model not fitted") and "no events" in note for note in result.notes
    )
    assert result.logrank is not None


def test_compare_groups_without_two_eligible_groups_runs_no_tests() -> None:
    result = compare_groups([1, 2, 3, 4], [1, 0, 1, 1], ["a", "a", "b", "b"], times=[0])
    assert result.logrank is None and result.cox is None and result.pairwise.empty
    assert any("No tests" in note for note in result.notes)


def test_compare_groups_rejects_bad_reference() -> None:
    cohort = _cohort()
    with pytest.raises(ValidationError, match="reference group 'kit13' is not among the groups"):
        compare_groups(
            cohort["months"], cohort["event"], cohort["genotype"], times=[0], reference="kit13"
        )
    with pytest.raises(ValidationError, match="has only 4 patients, fewer than min_group_size"):
        compare_groups(
            cohort["months"], cohort["event"], cohort["genotype"], times=[0], reference="kit9"
        )
    with pytest.raises(ValidationError, match="covariates has 2 rows"):
        compare_groups(
            cohort["months"],
            cohort["event"],
            cohort["genotype"],
            times=[0],
            covariates=pd.DataFrame({"age": [1, 2]}),
        )
    with pytest.raises(ValidationError, match="min_group_size must be ≥ 1"):
        compare_groups([1, 2], [1, 1], ["a", "b"], times=[0], min_group_size=0)

"""Kaplan–Meier, log-rank, landmark and group comparison.

Reference values come from hand computation (arithmetic in the comments) and from published
analyses of the Freireich et al. (1963) 6-MP leukaemia trial; see tests/data/LICENCE_NOTES.md.
"""

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from gistcad.analysis.survival import (
    CI_METHOD,
    MedianSurvival,
    compare_groups,
    holm_adjust,
    kaplan_meier,
    landmark,
    logrank_test,
    median_survival,
    number_at_risk,
    pairwise_logrank,
    survival_at,
)
from gistcad.errors import ValidationError

DATA = Path(__file__).resolve().parents[1] / "data"

# Six patients: times 1, 2, 2+, 3, 4+, 5 ("+" = censored).
SMALL_T = [1, 2, 2, 3, 4, 5]
SMALL_E = [1, 1, 0, 1, 0, 1]


@pytest.fixture(scope="module")
def freireich() -> pd.DataFrame:
    return pd.read_csv(DATA / "freireich_6mp.csv")


# --- hand-computed small case ---------------------------------------------------------------


def test_small_case_life_table() -> None:
    curve = kaplan_meier(SMALL_T, SMALL_E)
    # distinct times 1, 2, 3, 4, 5; at risk 6, 5, 3, 2, 1; events 1, 1, 1, 0, 1;
    # censored 0, 1, 0, 1, 0
    np.testing.assert_array_equal(curve.times, [1, 2, 3, 4, 5])
    np.testing.assert_array_equal(curve.n_at_risk, [6, 5, 3, 2, 1])
    np.testing.assert_array_equal(curve.n_events, [1, 1, 1, 0, 1])
    np.testing.assert_array_equal(curve.n_censored, [0, 1, 0, 1, 0])
    # S(1) = 5/6; S(2) = 5/6 · 4/5 = 2/3; S(3) = 2/3 · 2/3 = 4/9; S(4) = 4/9; S(5) = 0
    np.testing.assert_allclose(curve.survival, [5 / 6, 2 / 3, 4 / 9, 4 / 9, 0.0])
    # Greenwood sums d/(n(n-d)): 1/30; 1/30 + 1/20 = 1/12; 1/12 + 1/6 = 1/4; 1/4
    # SE = S·sqrt(sum): (5/6)·0.182574 = 0.152145; (2/3)·0.288675 = 0.192450; (4/9)·0.5 = 0.222222
    np.testing.assert_allclose(
        curve.std_error[:4], [0.152145, 0.192450, 0.222222, 0.222222], atol=1e-6
    )
    # At t = 5 everyone at risk fails: S = 0 and the Greenwood variance is undefined.
    assert math.isnan(curve.variance[4])
    assert curve.n == 6
    assert curve.total_events == 4


def test_small_case_loglog_interval() -> None:
    curve = kaplan_meier(SMALL_T, SMALL_E)
    # sigma = sqrt(Greenwood sum) / |log S|, limits S^exp(±1.959964·sigma):
    # t=1: log(5/6) = -0.182322, sigma = 0.182574/0.182322 = 1.001385, exp(1.962680) = 7.117397
    #      lower = (5/6)^7.117397 = 0.2731, upper = (5/6)^(1/7.117397) = 0.9747
    # t=2: log(2/3) = -0.405465, sigma = 0.288675/0.405465 = 0.711960, exp(1.395416) = 4.036662
    #      lower = (2/3)^4.036662 = 0.1946, upper = (2/3)^(1/4.036662) = 0.9044
    # t=3: log(4/9) = -0.810930, sigma = 0.5/0.810930 = 0.616576, exp(1.208467) = 3.348335
    #      lower = (4/9)^3.348335 = 0.0662, upper = (4/9)^(1/3.348335) = 0.7849
    np.testing.assert_allclose(curve.ci_lower[:3], [0.2731, 0.1946, 0.0662], atol=1e-4)
    np.testing.assert_allclose(curve.ci_upper[:3], [0.9747, 0.9044, 0.7849], atol=1e-4)
    # At S = 0 the band collapses onto the estimate.
    assert curve.ci_lower[4] == curve.ci_upper[4] == 0.0
    assert curve.ci_method == CI_METHOD
    assert "log(-log)" in curve.ci_method


def test_small_case_median() -> None:
    median = median_survival(kaplan_meier(SMALL_T, SMALL_E))
    # S first ≤ 0.5 at t = 3 (4/9). Lower CI limit first ≤ 0.5 at t = 1 (0.2731); upper CI
    # limit first ≤ 0.5 at t = 5 (0, after 0.7849 at t = 3 and 4).
    assert median == MedianSurvival(estimate=3.0, ci_lower=1.0, ci_upper=5.0)
    assert str(median) == "3.0 (1.0–5.0)"


def test_small_case_at_risk_table() -> None:
    table = number_at_risk(SMALL_T, SMALL_E, [0, 2, 3, 4.5, 6])
    # t=0: all 6 at risk. t=2: follow-up ≥ 2 are 2, 2+, 3, 4+, 5 → 5; before 2: one event (1).
    # t=3: 3, 4+, 5 → 3; before 3: events 1, 2; censored 2+.
    # t=4.5: only 5 → 1; events 1, 2, 3; censored 2+, 4+.  t=6: nobody; events 4, censored 2.
    assert table["at_risk"].tolist() == [6, 5, 3, 1, 0]
    assert table["events"].tolist() == [0, 1, 2, 3, 4]
    assert table["censored"].tolist() == [0, 0, 1, 2, 2]


def test_survival_at_reads_the_right_continuous_step() -> None:
    curve = kaplan_meier(SMALL_T, SMALL_E)
    table = survival_at(curve, [0, 0.5, 1, 2.5, 4.9])
    np.testing.assert_allclose(table["survival"], [1, 1, 5 / 6, 2 / 3, 4 / 9])
    np.testing.assert_allclose(table["ci_lower"].iloc[:2], [1, 1])
    np.testing.assert_allclose(table["std_error"].iloc[2], 0.152145, atol=1e-6)


def test_survival_after_last_follow_up_is_not_estimable() -> None:
    curve = kaplan_meier([1, 2, 3], [1, 0, 0])
    table = survival_at(curve, [3, 3.5])
    assert table["survival"].iloc[0] == pytest.approx(2 / 3)
    assert table[["survival", "ci_lower", "ci_upper"]].iloc[1].isna().all()


def test_median_not_reached() -> None:
    median = median_survival(kaplan_meier([1, 2, 3, 4], [1, 0, 0, 0]))
    assert median.estimate is None
    assert str(median) == "not reached"
    assert str(MedianSurvival(23.0, 16.0, None)) == "23.0 (16.0–NR)"


# --- published data: Freireich et al. (1963) 6-MP vs placebo --------------------------------


def test_freireich_6mp_kaplan_meier_matches_published_table(freireich: pd.DataFrame) -> None:
    six_mp = freireich[freireich["group"] == "6-MP"]
    curve = kaplan_meier(six_mp["weeks"], six_mp["relapse"])
    table = survival_at(curve, [6, 7, 10, 13, 16, 22, 23])
    # Product-limit estimates of the 6-MP arm at its relapse times, as printed in
    # Kalbfleisch & Prentice (1980) and Klein & Moeschberger, Survival Analysis (2nd ed. 2003),
    # Table 4.1A, and Kleinbaum & Klein, Survival Analysis: A Self-Learning Text, ch. 2.
    np.testing.assert_allclose(
        table["survival"], [0.857, 0.807, 0.753, 0.690, 0.627, 0.538, 0.448], atol=5e-4
    )
    # Greenwood standard errors, Klein & Moeschberger (2003), Table 4.1A.
    np.testing.assert_allclose(
        table["std_error"], [0.076, 0.087, 0.096, 0.107, 0.114, 0.128, 0.135], atol=5e-4
    )
    np.testing.assert_array_equal(curve.n_at_risk[curve.n_events > 0], [21, 17, 15, 12, 11, 7, 6])


def test_freireich_medians_match_published(freireich: pd.DataFrame) -> None:
    # Median remission: 23 weeks on 6-MP, 8 weeks on placebo (Kleinbaum & Klein, ch. 2).
    medians = {
        name: median_survival(kaplan_meier(arm["weeks"], arm["relapse"])).estimate
        for name, arm in freireich.groupby("group")
    }
    assert medians == {"6-MP": 23.0, "placebo": 8.0}


def test_freireich_logrank_matches_published(freireich: pd.DataFrame) -> None:
    result = logrank_test(freireich["weeks"], freireich["relapse"], freireich["group"])
    # Kleinbaum & Klein, ch. 2: O = 9 and 21, E = 19.25 and 10.75, Var(O − E) = 6.2570,
    # log-rank chi-square = (9 − 19.25)² / 6.2570 = 16.79 on 1 df (R survdiff: p = 4.17e-05).
    assert result.groups == ("6-MP", "placebo")
    np.testing.assert_array_equal(result.observed, [9, 21])
    np.testing.assert_allclose(result.expected, [19.25, 10.75], atol=5e-3)
    assert result.variance[0, 0] == pytest.approx(6.257, abs=5e-4)
    assert result.statistic == pytest.approx(16.79, abs=5e-3)
    assert result.df == 1
    assert result.p_value == pytest.approx(4.17e-5, rel=1e-2)


# --- log-rank with three groups, Holm -------------------------------------------------------


def test_three_group_logrank_by_hand() -> None:
    # A: 1, 3   B: 2, 4+   C: 3, 5.  Event times 1, 2, 3, 5.
    # t=1: at risk (2,2,2), n=6, d=1 (A): E += (1/3, 1/3, 1/3)
    # t=2: at risk (1,2,2), n=5, d=1 (B): E += (1/5, 2/5, 2/5)
    # t=3: at risk (1,1,2), n=4, d=2 (A, C): E += (1/2, 1/2, 1)
    # t=5: at risk (0,0,1), n=1, d=1 (C): E += (0, 0, 1); variance term 0 since n − d = 0
    # E = (31/30, 37/30, 82/30), O = (2, 1, 2), U = O − E = (29/30, −7/30, −22/30)
    # V_jl = Σ d(n−d)/(n²(n−1)) · n_j (n δ_jl − n_l):
    # V_AA = 2/9 + 4/25 + 1/4 = 569/900, V_BB = 2/9 + 6/25 + 1/4 = 641/900,
    # V_AB = −1/9 − 2/25 − 1/12 = −247/900.
    # On (A, B): χ² = w' adj(M) w / (det M · 900) with M = [[569, −247], [−247, 641]],
    # w = (870, −210): (641·870² − 2·247·870·210 + 569·210²) / (303720 · 900)
    # = 420012000 / 273348000 = 1.536547; p = exp(−χ²/2) for 2 df = 0.463813.
    result = logrank_test([1, 3, 2, 4, 3, 5], [1, 1, 1, 0, 1, 1], list("AABBCC"))
    np.testing.assert_allclose(result.expected, [31 / 30, 37 / 30, 82 / 30])
    np.testing.assert_allclose(result.variance[:2, :2], np.array([[569, -247], [-247, 641]]) / 900)
    assert result.statistic == pytest.approx(420012000 / 273348000)
    assert result.df == 2
    assert result.p_value == pytest.approx(math.exp(-result.statistic / 2))


def test_holm_adjustment_by_hand() -> None:
    # sorted 0.01, 0.03, 0.04 → ×3, ×2, ×1 = 0.03, 0.06, 0.04 → running max 0.03, 0.06, 0.06
    np.testing.assert_allclose(holm_adjust([0.01, 0.04, 0.03]), [0.03, 0.06, 0.06])
    # capped at 1; NaN (test not done) stays NaN and does not count in m
    np.testing.assert_allclose(holm_adjust([0.6, np.nan, 0.2]), [0.6, np.nan, 0.4])
    np.testing.assert_allclose(holm_adjust([0.7, 0.9]), [1.0, 1.0])


def test_pairwise_logrank_uses_pair_subsets_and_holm() -> None:
    times = [1, 3, 2, 4, 3, 5]
    events = [1, 1, 1, 0, 1, 1]
    table = pairwise_logrank(times, events, list("AABBCC"))
    assert list(zip(table["group_a"], table["group_b"], strict=True)) == [
        ("A", "B"),
        ("A", "C"),
        ("B", "C"),
    ]
    only_ab = logrank_test(times[:4], events[:4], list("AABB"))
    assert table["statistic"].iloc[0] == pytest.approx(only_ab.statistic)
    np.testing.assert_allclose(table["p_holm"], holm_adjust(table["p_value"]))


# --- invariants -----------------------------------------------------------------------------


def test_without_censoring_km_is_the_empirical_survival_function() -> None:
    rng = np.random.default_rng(7)
    times = rng.integers(1, 20, size=40).astype(float)
    curve = kaplan_meier(times, np.ones_like(times))
    empirical = np.array([(times > t).mean() for t in curve.times])
    np.testing.assert_allclose(curve.survival, empirical)
    # and Greenwood reduces to the binomial variance S(1 − S)/n
    inner = empirical > 0
    np.testing.assert_allclose(
        curve.variance[inner], (empirical * (1 - empirical) / times.size)[inner]
    )


@pytest.mark.parametrize("seed", range(25))
def test_random_curves_are_monotone_with_a_band_around_them(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 60))
    times = rng.integers(0, 15, size=n).astype(float)  # many ties, zero times allowed
    events = rng.integers(0, 2, size=n)
    curve = kaplan_meier(times, events, alpha=0.1)
    assert np.all(np.diff(curve.survival) <= 0)
    assert np.all((curve.ci_lower <= curve.survival) & (curve.survival <= curve.ci_upper))
    assert np.all((curve.ci_lower >= 0) & (curve.ci_upper <= 1))
    table = number_at_risk(times, events, [0, 5, 10, 20])
    assert (table[["at_risk", "events", "censored"]].sum(axis=1) == n).all()


def test_random_logrank_agrees_with_an_independent_implementation() -> None:
    # Cross-check (not the validation, which uses the published and hand-computed cases above):
    # lifelines' multivariate log-rank on seeded data.
    from lifelines.statistics import multivariate_logrank_test

    rng = np.random.default_rng(3)
    times = rng.exponential(10, size=90).round()
    events = rng.integers(0, 2, size=90)
    groups = rng.choice(["x", "y", "z"], size=90)
    ours = logrank_test(times, events, groups)
    theirs = multivariate_logrank_test(times, groups, events)
    assert ours.statistic == pytest.approx(theirs.test_statistic, rel=1e-9)


def test_curve_arrays_are_read_only() -> None:
    curve = kaplan_meier(SMALL_T, SMALL_E)
    with pytest.raises(ValueError, match="read-only"):
        curve.survival[0] = 0.5


# --- validation -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("durations", "events", "message"),
    [
        ([1, -2, 3], [1, 0, 1], r"durations is negative at row\(s\) 1"),
        ([1, np.nan, 3], [1, 0, 1], r"durations is missing \(NaN\) or infinite at row\(s\) 1"),
        ([1, 2, 3], [1, 2, 1], r"event_observed is not 0 or 1 at row\(s\) 1"),
        ([1, 2, 3], [1, np.nan, 1], r"event_observed is missing"),
        ([1, 2, 3], [1, 0], "durations has 3 values but event_observed has 2"),
        ([], [], "no observations"),
        (["a", "b"], [1, 0], "durations must be numeric"),
        ([[1, 2]], [[1, 0]], "one-dimensional"),
    ],
)
def test_bad_input_is_rejected(durations: list, events: list, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        kaplan_meier(durations, events)


def test_bad_groups_and_options_are_rejected() -> None:
    with pytest.raises(ValidationError, match="groups has 2 labels but there are 3 durations"):
        logrank_test([1, 2, 3], [1, 1, 1], ["a", "b"])
    with pytest.raises(ValidationError, match=r"groups is missing at row\(s\) 1"):
        logrank_test([1, 2, 3], [1, 1, 1], ["a", None, "b"])
    with pytest.raises(ValidationError, match="at least two groups"):
        logrank_test([1, 2, 3], [1, 1, 1], ["a", "a", "a"])
    with pytest.raises(ValidationError, match="no events"):
        logrank_test([1, 2, 3], [0, 0, 0], ["a", "b", "b"])
    with pytest.raises(ValidationError, match="alpha must lie strictly between 0 and 1"):
        kaplan_meier([1, 2], [1, 1], alpha=1.5)
    with pytest.raises(ValidationError, match="times is missing, infinite or negative"):
        number_at_risk([1, 2], [1, 1], [-1])
    with pytest.raises(ValidationError, match=r"p_values is outside \[0, 1\]"):
        holm_adjust([0.2, 1.2])


# --- landmark -------------------------------------------------------------------------------


def test_landmark_keeps_those_followed_beyond_it_and_restarts_the_clock() -> None:
    result = landmark([1, 2, 3, 5, 8], [1, 0, 1, 1, 0], landmark_time=3)
    # 1 (event), 2+ (censored) and 3 (event at the landmark) are not event-free beyond t = 3.
    np.testing.assert_array_equal(result.mask, [False, False, False, True, True])
    np.testing.assert_array_equal(result.durations, [2, 5])
    np.testing.assert_array_equal(result.event_observed, [True, False])
    assert result.landmark_time == 3.0


def test_landmark_rejects_bad_times() -> None:
    with pytest.raises(ValidationError, match="landmark_time must be finite and ≥ 0"):
        landmark([1, 2], [1, 0], landmark_time=-1)
    with pytest.raises(ValidationError, match="choose an earlier landmark"):
        landmark([1, 2], [1, 0], landmark_time=2)


# --- compare_groups -------------------------------------------------------------------------


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

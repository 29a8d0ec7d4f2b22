"""Kaplan–Meier curves, medians, S(t) and the number-at-risk table.

Reference values come from hand computation (arithmetic in the comments) and from published
analyses of the Freireich et al. (1963) 6-MP leukaemia trial; see tests/data/LICENCE_NOTES.md.
"""

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from gistcad.analysis.kaplan_meier import (
    CI_METHOD,
    MedianSurvival,
    kaplan_meier,
    median_survival,
    number_at_risk,
    survival_at,
)
from gistcad.errors import ValidationError

DATA = Path(__file__).resolve().parents[1] / "data"


@pytest.fixture(scope="module")
def freireich() -> pd.DataFrame:
    return pd.read_csv(DATA / "freireich_6mp.csv")


# Six patients: times 1, 2, 2+, 3, 4+, 5 ("+" = censored).
SMALL_T = [1, 2, 2, 3, 4, 5]
SMALL_E = [1, 1, 0, 1, 0, 1]


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


def test_bad_options_are_rejected() -> None:
    with pytest.raises(ValidationError, match="alpha must lie strictly between 0 and 1"):
        kaplan_meier([1, 2], [1, 1], alpha=1.5)
    with pytest.raises(ValidationError, match="times is missing, infinite or negative"):
        number_at_risk([1, 2], [1, 1], [-1])


def test_the_sorted_counts_equal_the_product_limit_loop_with_ties() -> None:
    rng = np.random.default_rng(5)
    n = 800
    times = np.round(rng.exponential(12.0, n), 0)  # whole units: many ties
    events = (rng.random(n) < 0.6).astype(int)
    curve = kaplan_meier(times, events)
    survival, greenwood, rows = 1.0, 0.0, []
    for t in sorted(set(times.tolist())):  # Kaplan & Meier's product, one time at a time
        at_risk = int(np.sum(times >= t))
        dead = int(np.sum((times == t) & (events == 1)))
        survival *= 1.0 - dead / at_risk
        if dead:
            greenwood += dead / (at_risk * (at_risk - dead)) if at_risk > dead else np.inf
        rows.append((t, at_risk, dead, survival, survival**2 * greenwood))
    expected = np.array(rows)
    np.testing.assert_array_equal(curve.times, expected[:, 0])
    np.testing.assert_array_equal(curve.n_at_risk, expected[:, 1])
    np.testing.assert_array_equal(curve.n_events, expected[:, 2])
    np.testing.assert_allclose(curve.survival, expected[:, 3], rtol=1e-12)
    finite = np.isfinite(expected[:, 4])
    np.testing.assert_allclose(curve.variance[finite], expected[finite, 4], rtol=1e-10)

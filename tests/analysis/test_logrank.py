"""Log-rank tests of k groups, pairwise log-rank tests and Holm's adjustment.

Reference values come from hand computation (arithmetic in the comments) and from published
analyses of the Freireich et al. (1963) 6-MP leukaemia trial; see tests/data/LICENCE_NOTES.md.
"""

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from gistcad.analysis.logrank import (
    holm_adjust,
    logrank_test,
    logrank_tests,
    logrank_trend,
    pairwise_logrank,
)
from gistcad.errors import ValidationError

DATA = Path(__file__).resolve().parents[1] / "data"


@pytest.fixture(scope="module")
def freireich() -> pd.DataFrame:
    return pd.read_csv(DATA / "freireich_6mp.csv")


# --- published data: Freireich et al. (1963) 6-MP vs placebo --------------------------------


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


# --- validation -----------------------------------------------------------------------------


def test_bad_groups_and_p_values_are_rejected() -> None:
    with pytest.raises(ValidationError, match="groups has 2 labels but there are 3 durations"):
        logrank_test([1, 2, 3], [1, 1, 1], ["a", "b"])
    with pytest.raises(ValidationError, match=r"groups is missing at row\(s\) 1"):
        logrank_test([1, 2, 3], [1, 1, 1], ["a", None, "b"])
    with pytest.raises(ValidationError, match="at least two groups"):
        logrank_test([1, 2, 3], [1, 1, 1], ["a", "a", "a"])
    with pytest.raises(ValidationError, match="no events"):
        logrank_test([1, 2, 3], [0, 0, 0], ["a", "b", "b"])
    with pytest.raises(ValidationError, match=r"p_values is outside \[0, 1\]"):
        holm_adjust([0.2, 1.2])


# --- log-rank test for trend ------------------------------------------------------------------


def test_trend_by_hand() -> None:
    # The three groups above in the order A < B < C, scores 1, 2, 3. Rows of V sum to zero:
    # V_AC = −(569 − 247)/900 = −322/900, V_BC = −(−247 + 641)/900 = −394/900,
    # V_CC = 716/900. U_T = w'U = (29 − 14 − 66)/30 = −51/30;
    # V_T = w'Vw = (569 + 4·641 + 9·716 + 2(−2·247 − 3·322 − 6·394))/900 = 1929/900;
    # χ²_T = (51/30)² / (1929/900) = 2601/1929 on 1 df.
    result = logrank_test([1, 3, 2, 4, 3, 5], [1, 1, 1, 0, 1, 1], list("AABBCC"))
    trend = logrank_trend(result, ["A", "B", "C"])
    assert trend.statistic == pytest.approx(2601 / 1929)
    assert trend.df == 1
    assert trend.p_value == pytest.approx(math.erfc(math.sqrt(2601 / 1929 / 2)))
    reversed_order = logrank_trend(result, ["C", "B", "A"])
    assert reversed_order.statistic == pytest.approx(trend.statistic)


def test_trend_of_two_groups_is_the_logrank(freireich: pd.DataFrame) -> None:
    result = logrank_test(freireich["weeks"], freireich["relapse"], freireich["group"])
    trend = logrank_trend(result, ["placebo", "6-MP"])
    assert trend.statistic == pytest.approx(result.statistic)
    with pytest.raises(ValidationError, match="must name every tested group"):
        logrank_trend(result, ["placebo"])


def test_two_groups_by_hand() -> None:
    # A: events at 1 and 3; B: event at 2, censored at 4. Event times 1, 2, 3:
    # t=1: n=4, nA=2, d=1: E_A = 1/2, V = 1·3/(16·3)·2·2 = 1/4
    # t=2: n=3, nA=1, d=1: E_A = 1/3, V = 1·2/(9·2)·1·2 = 2/9
    # t=3: n=2, nA=1, d=1: E_A = 1/2, V = 1·1/(4·1)·1·1 = 1/4
    # O_A = 2, E_A = 4/3, V = 13/18: chi-square (2/3)² / (13/18) = 8/13.
    result = logrank_test([1, 3, 2, 4], [1, 1, 1, 0], ["A", "A", "B", "B"])
    assert result.expected[0] == pytest.approx(4 / 3)
    assert result.variance[0, 0] == pytest.approx(13 / 18)
    assert result.statistic == pytest.approx(8 / 13)
    assert list(result.n) == [2, 2]


def _loop_logrank(times: np.ndarray, events: np.ndarray, labels: np.ndarray) -> tuple:
    """The Mantel–Haenszel sums written out, one event time at a time (Collett §2.6)."""
    names = sorted(set(labels.tolist()))
    k = len(names)
    observed, expected, variance = np.zeros(k), np.zeros(k), np.zeros((k, k))
    for t in sorted(set(times[events.astype(bool)].tolist())):
        at_risk = np.array([np.sum((times >= t) & (labels == g)) for g in names], dtype=float)
        dead = np.array(
            [np.sum((times == t) & events.astype(bool) & (labels == g)) for g in names], float
        )
        n, d = at_risk.sum(), dead.sum()
        observed += dead
        expected += d * at_risk / n
        if n > 1:
            w = d * (n - d) / (n**2 * (n - 1))
            variance += w * (np.diag(at_risk * n) - np.outer(at_risk, at_risk))
    u = observed - expected
    return names, observed, expected, variance, float(u @ np.linalg.pinv(variance) @ u)


def test_counting_by_sorts_equals_the_loop_over_event_times_with_ties() -> None:
    rng = np.random.default_rng(11)
    n = 500
    labels = rng.choice(["a", "b", "c", "d"], n)
    times = np.round(rng.exponential(10.0, n))  # whole units: many ties
    events = (rng.random(n) < 0.7).astype(int)
    names, observed, expected, variance, statistic = _loop_logrank(times, events, labels)
    result = logrank_test(times, events, labels)
    assert list(result.groups) == names
    np.testing.assert_allclose(result.observed, observed)
    np.testing.assert_allclose(result.expected, expected, rtol=1e-12)
    np.testing.assert_allclose(result.variance, variance, rtol=1e-10, atol=1e-12)
    assert result.statistic == pytest.approx(statistic, rel=1e-10)
    pairs = pairwise_logrank(times, events, labels)
    for row in pairs.itertuples():
        member = (labels == row.group_a) | (labels == row.group_b)
        expected_pair = _loop_logrank(times[member], events[member], labels[member])[-1]
        assert row.statistic == pytest.approx(expected_pair, rel=1e-10)


def test_the_tests_counted_once_equal_the_tests_counted_apart() -> None:
    rng = np.random.default_rng(5)
    times = rng.exponential(10, size=120).round()
    events = rng.integers(0, 2, size=120)
    groups = rng.choice(["b", "a", "c", "d"], size=120).astype(object)  # labels as objects
    overall, pairs = logrank_tests(times, events, groups)
    alone = logrank_test(times, events, groups)
    assert overall.groups == ("a", "b", "c", "d") == alone.groups
    assert overall.statistic == alone.statistic
    np.testing.assert_array_equal(overall.observed, alone.observed)
    pd.testing.assert_frame_equal(pairs, pairwise_logrank(times, events, groups))
    # each pair: the two-group test on that pair's patients alone
    for row in pairs.itertuples(index=False):
        pair = np.isin(groups, [row.group_a, row.group_b])
        two = logrank_test(times[pair], events[pair], groups[pair])
        assert row.statistic == pytest.approx(two.statistic, rel=1e-12)

"""Discrimination and calibration metrics against hand-computed cases and known truths."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import expit, logit

from gistcad.analysis.performance import (
    at_threshold,
    bootstrap_auc,
    calibration,
    center_mean_auc,
    concordance_index,
    delong_test,
    roc_auc,
    roc_curve,
)
from gistcad.errors import ValidationError

SCORES = [0.1, 0.4, 0.35, 0.8]
LABELS = [0, 0, 1, 1]


def test_auc_by_hand() -> None:
    # positives 0.35, 0.8 against negatives 0.1, 0.4: 0.35>0.1, 0.35<0.4, 0.8>both -> 3/4
    assert roc_auc(SCORES, LABELS) == pytest.approx(0.75)
    assert roc_auc([0.5, 0.5], [0, 1]) == pytest.approx(0.5)  # a tie counts half
    assert np.isnan(roc_auc([0.1, 0.2], [1, 1]))


def test_roc_curve_and_threshold() -> None:
    fpr, tpr, thresholds = roc_curve(SCORES, LABELS)
    assert list(thresholds) == [np.inf, 0.8, 0.4, 0.35, 0.1]
    assert list(zip(fpr, tpr, strict=True)) == [
        (0, 0),
        (0, 0.5),
        (0.5, 0.5),
        (0.5, 1),
        (1, 1),
    ]
    assert np.trapezoid(tpr, fpr) == pytest.approx(0.75)
    m = at_threshold(SCORES, LABELS, 0.35)
    assert (m.true_positive, m.false_negative, m.true_negative, m.false_positive) == (2, 0, 1, 1)
    assert (m.sensitivity, m.specificity) == (1.0, 0.5)


def test_bootstrap_ci_is_seeded_and_narrows_with_n() -> None:
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 400)
    s = y + rng.normal(0, 1.2, 400)
    small = bootstrap_auc(s[:80], y[:80], n_boot=500, seed=1)
    large = bootstrap_auc(s, y, n_boot=500, seed=1)
    assert small == bootstrap_auc(s[:80], y[:80], n_boot=500, seed=1)
    assert small.ci_lower < small.auc < small.ci_upper
    assert large.ci_upper - large.ci_lower < small.ci_upper - small.ci_lower
    assert str(large).count("–") == 1


def test_center_mean_auc_and_its_stratified_bootstrap_by_hand() -> None:
    # A: positives 0.9, 0.8 above negatives 0.1, 0.2 -> AUC 1 in every resample with both
    # classes. B: one positive 0.5 between negatives 0.4 and 0.6 -> AUC 1/2; a resample's AUC
    # is (draws of 0.4) / (draws of 0.4 or 0.6). C has no positive: it is not averaged.
    scores = [0.9, 0.8, 0.1, 0.2, 0.5, 0.4, 0.6, 0.3, 0.7]
    labels = [1, 1, 0, 0, 1, 0, 0, 0, 0]
    centers = ["A"] * 4 + ["B"] * 3 + ["C"] * 2
    found = center_mean_auc(scores, labels, centers, n_boot=4000, seed=3)
    assert found.centers == ("A", "B")
    assert found.auc == pytest.approx((1.0 + 0.5) / 2)
    # Of B's 27 equally likely draws of 3, 8 lack the positive and 1 lacks a negative; of the
    # 18 left, 6 draw only 0.6 among negatives (AUC 0) and 6 only 0.4 (AUC 1): the mean is
    # 1/2 with probability 1/3 and 1 with probability 1/3, so the 2.5 % and 97.5 %
    # percentiles are 0.5 and 1.
    assert (found.ci_lower, found.ci_upper) == (0.5, 1.0)
    # kept: A has both classes in 1 - 2 / 2**4 = 7/8 of its draws, B in 18/27
    kept = 7 / 8 * 18 / 27
    assert found.n_boot / 4000 == pytest.approx(kept, abs=4 * (kept * (1 - kept) / 4000) ** 0.5)


def test_center_mean_auc_of_one_center_is_its_bootstrap_auc() -> None:
    rng = np.random.default_rng(2)
    y = rng.integers(0, 2, 60)
    s = y + rng.normal(0, 1.0, 60)
    one = center_mean_auc(s, y, ["A"] * 60, n_boot=500, seed=4)
    alone = bootstrap_auc(s, y, n_boot=500, seed=4)
    assert (one.auc, one.ci_lower, one.ci_upper, one.n_boot) == (
        alone.auc,
        alone.ci_lower,
        alone.ci_upper,
        alone.n_boot,
    )


def test_center_mean_auc_without_a_center_with_both_classes_and_bad_centers() -> None:
    none = center_mean_auc([0.1, 0.2, 0.3], [0, 0, 1], ["A", "A", "B"])
    assert none.centers == () and np.isnan(none.auc) and np.isnan(none.ci_lower)
    with pytest.raises(ValidationError, match=r"one center per patient \(got \(2,\) for"):
        center_mean_auc([0.1, 0.2, 0.3], [0, 0, 1], ["A", "B"])


def test_delong_by_hand() -> None:
    # Placement values (Sun & Xu 2014): model a: V10 = [1/2, 1], V01 = [1, 1/2];
    # model b scores both positives above both negatives: V10 = V01 = [1, 1].
    # var(AUCa - AUCb) = (0.125 + 0)/2 + (0.125 + 0)/2 = 0.125, z = -0.25 / sqrt(0.125).
    result = delong_test(SCORES, [0.2, 0.1, 0.3, 0.9], LABELS)
    assert (result.auc_a, result.auc_b) == (pytest.approx(0.75), pytest.approx(1.0))
    assert result.se == pytest.approx(np.sqrt(0.125))
    assert result.z == pytest.approx(-0.25 / np.sqrt(0.125))
    assert result.p_value == pytest.approx(0.4795, abs=1e-4)
    same = delong_test(SCORES, SCORES, LABELS)
    assert same.difference == 0 and same.p_value == 1.0


def test_delong_cannot_test_a_difference_without_variance() -> None:
    # a perfect model against one scoring everyone alike: every placement value is 1 for the
    # first and 1/2 for the second, so the difference (1/2) has no estimated variance
    result = delong_test([0.1, 0.2, 0.8, 0.9], [0.5] * 4, [0, 0, 1, 1])
    assert (result.auc_a, result.auc_b, result.difference) == (1.0, 0.5, 0.5)
    assert np.isnan(result.z) and np.isnan(result.p_value)


def test_delong_detects_a_real_difference() -> None:
    rng = np.random.default_rng(2)
    y = rng.integers(0, 2, 600)
    good, weak = y + rng.normal(0, 0.7, 600), y + rng.normal(0, 3.0, 600)
    assert delong_test(good, weak, y).p_value < 1e-6


def test_concordance_by_hand() -> None:
    assert concordance_index([3, 2, 1], [1, 2, 3], [1, 1, 1]) == 1.0
    assert concordance_index([1, 2, 3], [1, 2, 3], [1, 1, 1]) == 0.0
    # first patient censored at 1: only the pair (2nd fails at 2, 3rd seen to 3) is usable
    assert concordance_index([1, 2, 3], [1, 2, 3], [0, 1, 1]) == 0.0
    assert concordance_index([1, 1, 1], [1, 2, 3], [1, 1, 1]) == 0.5


def test_concordance_counts_an_event_and_a_censoring_at_the_same_time() -> None:
    # the censored patient was event-free when the other failed: a usable pair (R's
    # survival::concordance and Hmisc's rcorr.cens count it so)
    assert concordance_index([2, 1], [5, 5], [1, 0]) == 1.0
    assert concordance_index([1, 2], [5, 5], [1, 0]) == 0.0
    # two events, or two censorings, at the same time are not usable
    assert np.isnan(concordance_index([2, 1], [5, 5], [1, 1]))
    assert np.isnan(concordance_index([2, 1], [5, 5], [0, 0]))
    # with a third patient: pairs (1 fails at 5, 2 censored at 5) concordant, (1, 3 seen to 7)
    # discordant, (2, 3) not usable: 1 of 2
    assert concordance_index([2, 1, 3], [5, 5, 7], [1, 0, 0]) == 0.5


def test_calibration_recovers_known_miscalibration() -> None:
    rng = np.random.default_rng(3)
    p = rng.uniform(0.05, 0.95, 20000)
    y = (rng.random(20000) < p).astype(int)
    fair = calibration(p, y)
    assert fair.slope == pytest.approx(1.0, abs=0.05)
    assert fair.intercept == pytest.approx(0.0, abs=0.05)
    overconfident = calibration(expit(2 * logit(p)), y)
    assert overconfident.slope == pytest.approx(0.5, abs=0.03)
    observed = [o for _, o, _ in fair.bins]
    predicted = [m for m, _, _ in fair.bins]
    assert np.allclose(observed, predicted, atol=0.04) and len(fair.bins) == 10


@pytest.mark.parametrize(
    ("scores", "labels", "message"),
    [
        ([0.1, np.nan], [0, 1], "NaN"),
        ([0.1, 0.2], [0, 2], "labels must be 0 or 1"),
        ([0.1, 0.2, 0.3], [0, 1], "equal length"),
    ],
)
def test_bad_input(scores: list[float], labels: list[int], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        roc_auc(scores, labels)


def test_weighted_auc_equals_the_auc_of_the_resampled_patients() -> None:
    from gistcad.analysis.performance import _weighted_aucs

    rng = np.random.default_rng(5)
    s = np.round(rng.normal(size=60), 1)  # rounded: many ties
    y = rng.integers(0, 2, 60).astype(bool)
    idx = rng.integers(0, 60, size=(20, 60))
    counts = np.stack([np.bincount(row, minlength=60) for row in idx])
    expected = [roc_auc(s[row], y[row]) for row in idx]
    assert np.allclose(_weighted_aucs(s, y, counts), expected)
    assert _weighted_aucs(s, y, np.ones((1, 60), int))[0] == pytest.approx(roc_auc(s, y))

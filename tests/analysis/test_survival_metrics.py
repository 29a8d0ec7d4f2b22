"""Survival metrics against hand computation on five patients, and invariants.

The five patients (times 1..5, events 1 0 1 1 0, scores 0.5 0.9 0.7 0.1 0.2) are worked by
hand in the comments: the Kaplan–Meier of censoring is 1 before 2, then 3/4 (one of four at
risk censored at 2), then 0 at 5, so Ĝ(1−) = 1, Ĝ(3−) = Ĝ(4−) = 3/4.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from gistcad.analysis.performance import concordance_index, roc_auc
from gistcad.analysis.survival_metrics import (
    ConcordanceKind,
    _concordant,
    _pair_weights,
    calibration_at,
    censoring_survival_before,
    compare_concordance,
    concordance_interval,
    cumulative_dynamic_auc,
    likelihood_ratio_test,
    null_log_likelihood,
    uno_concordance,
)
from gistcad.errors import ValidationError

TIMES = np.array([1.0, 2.0, 3.0, 4.0, 5.0])
EVENTS = np.array([1, 0, 1, 1, 0])
SCORE = np.array([0.5, 0.9, 0.7, 0.1, 0.2])


def test_censoring_survival_is_read_just_before_each_time() -> None:
    g = censoring_survival_before(TIMES, EVENTS, [0.5, 1.0, 2.0, 2.5, 3.0, 5.0, 6.0])
    np.testing.assert_allclose(g, [1, 1, 1, 0.75, 0.75, 0.75, 0.0])


def test_censorings_tied_with_events_come_after_them() -> None:
    # at 1: 7 at risk, 2 events, 1 censoring: Ĝ falls by 1/(7 - 2), not by 1/7;
    # at 4: 2 at risk (4 and 5), the censoring of 4: Ĝ halves
    times, events = [1, 1, 1, 2, 3, 4, 5], [1, 1, 0, 1, 1, 0, 1]
    g = censoring_survival_before(times, events, [1.0, 1.5, 2.0, 4.0, 4.5, 5.0])
    np.testing.assert_allclose(g, [1.0, 0.8, 0.8, 0.8, 0.4, 0.4])
    assert censoring_survival_before([1, 2], [1, 1], [0.5, 3.0]).tolist() == [1.0, 1.0]


def test_the_bootstrap_weights_count_harrells_tied_pairs_as_concordance_index_does() -> None:
    times = np.array([1.0, 1.0, 2.0, 2.0, 3.0])
    events = np.array([1, 0, 1, 1, 0])
    score = np.array([0.9, 0.1, 0.5, 0.7, 0.2])
    weight = _pair_weights(times, events.astype(bool), ConcordanceKind.HARRELL, None)
    ones = np.ones(5)
    c = ones @ (weight * _concordant(score)) @ ones / (ones @ weight @ ones)
    assert c == pytest.approx(concordance_index(score, times, events))
    assert weight[0, 1] == 1.0 and weight[1, 0] == 0.0 and weight[2, 3] == weight[3, 2] == 0.0


def test_uno_concordance_by_hand() -> None:
    # event at 1 (score 0.5) vs 0.9 0.7 0.1 0.2: 2 of 4 concordant, weight 1 each;
    # event at 3 (0.7) vs 0.1 0.2: 2 of 2, weight 1/(3/4)² = 16/9 each;
    # event at 4 (0.1) vs 0.2: 0 of 1, weight 16/9.
    expected = (2 + 2 * 16 / 9) / (4 + 3 * 16 / 9)  # = 25/42
    assert uno_concordance(SCORE, TIMES, EVENTS) == pytest.approx(expected)
    assert expected == pytest.approx(25 / 42)
    # Harrell's C of the same pairs, unweighted: 4 of 7
    assert concordance_index(SCORE, TIMES, EVENTS) == pytest.approx(4 / 7)
    # truncated at τ = 3.5: the event at 4 leaves: (2 + 32/9) / (4 + 32/9) = 25/34
    assert uno_concordance(SCORE, TIMES, EVENTS, tau=3.5) == pytest.approx(25 / 34)


def test_uno_equals_harrell_without_censoring_and_ties_count_half() -> None:
    rng = np.random.default_rng(3)
    times = rng.exponential(10, 40)
    score = rng.normal(size=40)
    events = np.ones(40)
    assert uno_concordance(score, times, events) == pytest.approx(
        concordance_index(score, times, events)
    )
    # every score tied: every usable pair counts half
    assert uno_concordance(np.zeros(5), TIMES, EVENTS) == pytest.approx(0.5)


def test_time_dependent_auc_by_hand() -> None:
    # t = 4.5: cases 1 (0.5), 3 (0.7), 4 (0.1) with weights 1/Ĝ(T−) = 1, 4/3, 4/3;
    # the one control (5, score 0.2) is below the first two cases and above the third
    assert cumulative_dynamic_auc(SCORE, TIMES, EVENTS, 4.5) == pytest.approx(7 / 11)
    # t = 2.5: one case (0.5) against controls 0.7 0.1 0.2: 2 of 3
    assert cumulative_dynamic_auc(SCORE, TIMES, EVENTS, 2.5) == pytest.approx(2 / 3)
    # no control after the last time
    assert math.isnan(cumulative_dynamic_auc(SCORE, TIMES, EVENTS, 9.0))


def test_time_dependent_auc_without_censoring_is_the_roc_auc_of_failing_by_t() -> None:
    rng = np.random.default_rng(5)
    times = rng.exponential(10, 60)
    score = -np.log(times) + rng.normal(0, 1, 60)
    label = (times <= 8.0).astype(int)
    assert cumulative_dynamic_auc(score, times, np.ones(60), 8.0) == pytest.approx(
        roc_auc(score, label)
    )


def test_calibration_groups_and_slope_by_hand() -> None:
    # two groups by predicted survival: {3, 4, 5} predicted 0.9 (low risk), {1, 2} predicted
    # 0.4; observed at t = 1.5: group 1 has no event by then → 1; group 2: 1 − 1/2 at 1 → 0.5;
    # at t = 3.5 group 2's follow-up has ended (censored at 2): not estimable
    predicted = np.array([0.4, 0.4, 0.9, 0.9, 0.9])
    lp = np.array([1.0, 0.0, 1.0, 0.0, 0.0])
    cal = calibration_at(predicted, lp, TIMES, EVENTS, 1.5, n_groups=2)
    assert cal.groups["n"].tolist() == [3, 2]
    assert cal.groups["events"].tolist() == [2, 1]
    assert cal.groups["predicted"].tolist() == pytest.approx([0.9, 0.4])
    assert cal.groups["observed"].tolist() == pytest.approx([1.0, 0.5])
    later = calibration_at(predicted, lp, TIMES, EVENTS, 3.5, n_groups=2)
    assert later.groups["observed"].iloc[0] == pytest.approx(2 / 3)
    assert math.isnan(later.groups["observed"].iloc[1])


def test_calibration_slope_is_the_cox_coefficient_of_the_linear_predictor_by_hand() -> None:
    # three events at 1, 2, 3 with lp 1, 0, 1: ℓ(β) = β − log(2e^β + 1) − log(1 + e^β);
    # ℓ'(β) = 0 gives e^{2β} = 1/2, β = −log(2)/2
    times, events, lp = np.array([1.0, 2.0, 3.0]), np.ones(3), np.array([1.0, 0.0, 1.0])
    cal = calibration_at(np.full(3, 0.5), lp, times, events, 2.5, n_groups=1)
    assert cal.slope == pytest.approx(-math.log(2) / 2, abs=1e-8)


def test_likelihood_ratio_test_by_hand() -> None:
    times, events, x = np.array([1.0, 2.0, 3.0]), np.ones(3), np.array([1.0, 0.0, 1.0])
    u = 2**-0.5
    ll_full = math.log(u) - math.log(2 * u + 1) - math.log(1 + u)
    ll_null = -math.log(3) - math.log(2)
    result = likelihood_ratio_test(np.zeros((3, 0)), x, times, events)
    assert result.log_likelihood_base == pytest.approx(ll_null)
    assert result.log_likelihood_full == pytest.approx(ll_full)
    assert result.statistic == pytest.approx(2 * (ll_full - ll_null))
    assert result.df == 1
    assert result.p == pytest.approx(math.erfc(math.sqrt(result.statistic / 2)))


def test_null_log_likelihood_with_efron_ties_by_hand() -> None:
    # two events tied at 1 among 4 at risk: −log 4 − log 3; then one event of 1 at risk: 0
    assert null_log_likelihood([1, 1, 2, 3], [1, 1, 0, 1]) == pytest.approx(
        -math.log(4) - math.log(3)
    )


def test_lr_test_finds_a_real_predictor_and_not_noise() -> None:
    rng = np.random.default_rng(11)
    n = 300
    scheme = rng.integers(0, 4, n).astype(float)
    signal = rng.normal(size=n)
    times = rng.exponential(np.exp(-(0.5 * scheme + 0.7 * signal)))
    censor = rng.exponential(2.0, n)
    durations, events = np.minimum(times, censor), (times <= censor).astype(int)
    assert likelihood_ratio_test(scheme, signal, durations, events).p < 1e-6
    noise = rng.normal(size=n)
    assert likelihood_ratio_test(scheme, noise, durations, events).p > 0.001


def test_bootstrap_replicate_is_the_concordance_of_the_resampled_patients() -> None:
    counts = np.array([2.0, 0.0, 1.0, 3.0, 1.0])  # patient 1 twice, patient 4 three times...
    rows = np.repeat(np.arange(5), counts.astype(int))
    weight = _pair_weights(TIMES, EVENTS.astype(bool), ConcordanceKind.HARRELL, None)
    replicate = counts @ (weight * _concordant(SCORE)) @ counts / (counts @ weight @ counts)
    assert replicate == pytest.approx(concordance_index(SCORE[rows], TIMES[rows], EVENTS[rows]))


def test_c_interval_is_the_percentiles_of_the_c_of_resampled_patients() -> None:
    # the same multinomial draws, expanded into resampled patients and scored one by one
    result = concordance_interval(SCORE, TIMES, EVENTS, n_boot=50, seed=3)
    rng = np.random.default_rng(3)
    counts = rng.multinomial(5, np.full(5, 0.2), size=50)
    replicates = []
    for row in counts:
        rows = np.repeat(np.arange(5), row)
        replicates.append(concordance_index(SCORE[rows], TIMES[rows], EVENTS[rows]))
    kept = np.array(replicates)[np.isfinite(replicates)]
    # usable pairs (1,2..5), (3,4), (3,5), (4,5): concordant 1>4, 1>5, 3>4, 3>5: C = 4/7
    assert result.c == pytest.approx(4 / 7)
    assert result.n_boot == kept.size
    assert (result.ci_lower, result.ci_upper) == pytest.approx(
        tuple(np.quantile(kept, [0.025, 0.975]))
    )


def test_c_interval_narrows_with_more_patients_and_covers_the_estimate() -> None:
    rng = np.random.default_rng(5)
    widths = []
    for n in (60, 600):
        lp = rng.normal(size=n)
        durations = rng.exponential(np.exp(-lp))
        result = concordance_interval(lp, durations, np.ones(n), n_boot=300, seed=1)
        assert result.ci_lower < result.c < result.ci_upper
        widths.append(result.ci_upper - result.ci_lower)
    assert widths[1] < widths[0] / 2


def test_delta_c_of_a_score_with_itself_is_zero_and_a_real_gain_excludes_zero() -> None:
    same = compare_concordance(SCORE, SCORE, TIMES, EVENTS, n_boot=200)
    assert same.delta == 0 and same.ci_lower == 0 and same.ci_upper == 0
    rng = np.random.default_rng(2)
    n = 200
    lp = rng.normal(size=n)
    times = rng.exponential(np.exp(-lp))
    censor = rng.exponential(2.0, n)
    durations, events = np.minimum(times, censor), (times <= censor).astype(int)
    weak = lp + rng.normal(0, 3, n)
    result = compare_concordance(lp, weak, durations, events, n_boot=400, seed=1)
    assert result.c_a == pytest.approx(concordance_index(lp, durations, events))
    assert result.c_b == pytest.approx(concordance_index(weak, durations, events))
    assert result.ci_lower > 0 and result.ci_lower < result.delta < result.ci_upper
    assert result.p < 0.01
    uno = compare_concordance(lp, weak, durations, events, kind="uno", n_boot=200)
    assert uno.c_a == pytest.approx(uno_concordance(lp, durations, events))


def test_bad_input_is_refused_with_the_rule() -> None:
    with pytest.raises(ValidationError, match="one score per patient"):
        uno_concordance(SCORE[:3], TIMES, EVENTS)
    with pytest.raises(ValidationError, match="missing or infinite"):
        cumulative_dynamic_auc([np.nan, 1, 2, 3, 4], TIMES, EVENTS, 2.0)
    with pytest.raises(ValidationError, match="no usable pair"):
        compare_concordance(SCORE, SCORE, TIMES, np.zeros(5))

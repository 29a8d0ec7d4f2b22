"""Response statistics against hand computation and published tables."""

from __future__ import annotations

import math

import numpy as np
import pytest

from gistcad.analysis.response_statistics import (
    IntervalMethod,
    clopper_pearson_interval,
    cohen_kappa,
    landmark_survival,
    response_rates,
    wilson_interval,
)
from gistcad.domain import ResponseCategory
from gistcad.errors import ValidationError

PR, SD, PD, CR = (
    ResponseCategory.PARTIAL,
    ResponseCategory.STABLE,
    ResponseCategory.PROGRESSION,
    ResponseCategory.COMPLETE,
)


def test_wilson_interval_of_7_of_20_matches_the_hand_formula() -> None:
    # z = 1.959964: centre (7 + z²/2) / (20 + z²) = 0.37417, half-width 0.19298
    interval = wilson_interval(7, 20)
    assert interval.estimate == pytest.approx(0.35)
    assert interval.low == pytest.approx(0.1812, abs=5e-4)
    assert interval.high == pytest.approx(0.5671, abs=5e-4)


def test_clopper_pearson_interval_of_7_of_20_matches_the_published_table() -> None:
    # exact binomial 95 % limits for 7/20: 0.154 to 0.592 (e.g. Geigy Scientific Tables)
    interval = clopper_pearson_interval(7, 20)
    assert interval.low == pytest.approx(0.1539, abs=5e-4)
    assert interval.high == pytest.approx(0.5922, abs=5e-4)
    assert interval.method is IntervalMethod.CLOPPER_PEARSON


def test_exact_interval_reaches_0_and_1_at_the_extremes() -> None:
    none = clopper_pearson_interval(0, 10)
    assert none.low == 0.0
    assert none.high == pytest.approx(1 - 0.025 ** (1 / 10))  # 0.3085
    everyone = clopper_pearson_interval(10, 10)
    assert everyone.high == 1.0
    assert everyone.low == pytest.approx(0.025 ** (1 / 10))


def test_an_empty_group_has_no_rate() -> None:
    with pytest.raises(ValidationError, match="at least one patient"):
        wilson_interval(0, 0)
    with pytest.raises(ValidationError, match="between 0 and n"):
        wilson_interval(5, 4)


def test_response_rates_count_cr_and_pr_and_leave_out_the_unassessed() -> None:
    categories = [PR, CR, SD, PD, None, PR, ResponseCategory.NOT_EVALUABLE]
    groups = ["KIT exon 11", "KIT exon 11", "KIT exon 11", "PDGFRA", "PDGFRA", "PDGFRA", "PDGFRA"]
    table = response_rates(categories, groups, order=["PDGFRA"])
    assert table["group"].tolist() == ["PDGFRA", "KIT exon 11"]
    pdgfra, kit = table.iloc[0], table.iloc[1]
    assert (pdgfra["n"], pdgfra["responders"]) == (3, 1)  # NE counts, unassessed does not
    assert (kit["n"], kit["responders"]) == (3, 2)
    assert kit["rate"] == pytest.approx(2 / 3)
    assert kit["ci_low"] == pytest.approx(wilson_interval(2, 3).low)


def test_kappa_of_a_two_by_two_table_by_hand() -> None:
    # 20 PR/PR, 5 PR/SD, 10 SD/PR, 15 SD/SD: p_o = 0.7, p_e = (25·30 + 25·20) / 2500 = 0.5,
    # kappa = 0.4, SE = √(0.7·0.3 / (50·0.25)) = 0.12961
    first = [PR] * 25 + [SD] * 25
    second = [PR] * 20 + [SD] * 5 + [PR] * 10 + [SD] * 15
    agreement = cohen_kappa(first, second)
    assert agreement.n == 50
    assert agreement.observed == pytest.approx(0.7)
    assert agreement.expected == pytest.approx(0.5)
    assert agreement.kappa == pytest.approx(0.4)
    assert agreement.low == pytest.approx(0.4 - 1.959964 * 0.129615, abs=1e-4)
    assert agreement.high == pytest.approx(0.4 + 1.959964 * 0.129615, abs=1e-4)
    assert agreement.table.loc["PR (partial response)", "SD (stable disease)"] == 5
    assert agreement.table.loc["SD (stable disease)", "PR (partial response)"] == 10


def test_perfect_agreement_is_kappa_one_and_one_category_is_undefined() -> None:
    assert cohen_kappa([PR, SD, PD], [PR, SD, PD]).kappa == pytest.approx(1.0)
    assert math.isnan(cohen_kappa([SD, SD], [SD, SD]).kappa)


def test_landmark_leaves_out_early_events_and_late_responses() -> None:
    durations = [1.0, 2.5, 10.0, 20.0, 14.0, 8.0, 30.0]
    events = [1, 0, 1, 0, 1, 1, 0]
    response = ["PR", "PR", "PR", "PR", "PD", "PD", None]
    assessed = [1.0, 2.0, 2.0, 2.0, 2.0, 4.0, np.nan]
    result = landmark_survival(durations, events, response, assessed, 3.0, times=[0, 6, 12])
    # patient 0 (event at 1) and 1 (censored at 2.5) before the landmark; patient 5's response
    # comes at 4 months, after it; patient 6 has none
    assert result.kept.tolist() == [False, False, True, True, True, False, False]
    assert result.n_event_or_censored_before == 2
    assert result.n_unassessed == 2
    curves = result.comparison.curves
    assert set(curves) == {"PR", "PD"}
    # the clock restarts at the landmark: PD's one event is at 14 − 3 = 11 months
    assert curves["PD"].times.tolist()[-1] == pytest.approx(11.0)
    assert result.title == "landmark at 3 months"


def test_landmark_with_nobody_left_says_so() -> None:
    with pytest.raises(ValidationError, match="choose a later landmark"):
        landmark_survival([10.0], [1], [None], [np.nan], 3.0, times=[0])

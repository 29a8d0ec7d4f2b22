"""The score's likelihood-ratio tests over the modified NIH class, ordinal and as indicators."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from gistcad.analysis.survival_metrics import likelihood_ratio_test
from gistcad.modelling.survival_evaluation import _lr_tests, class_indicators


def test_indicators_by_hand_with_an_event_free_class_merged_into_the_reference() -> None:
    # very low (0) has no recurrence: it joins low (1) as the reference; 2 and 3 get a column
    codes = np.array([0, 0, 1, 1, 2, 2, 3, 3])
    events = np.array([0, 0, 0, 1, 1, 0, 0, 1])
    expected = np.array([[0, 0], [0, 0], [0, 0], [0, 0], [1, 0], [1, 0], [0, 1], [0, 1]])
    np.testing.assert_array_equal(class_indicators(codes, events), expected)


def test_classes_above_the_last_recurrence_join_the_last_group() -> None:
    # 0 and 1 each hold a recurrence; 2 and 3 hold none and join 1's group
    got = class_indicators([3, 2, 1, 0, 1], [0, 0, 0, 1, 1])
    np.testing.assert_array_equal(got, [[1], [1], [1], [0], [1]])


def test_recurrences_in_one_class_leave_no_indicator_and_the_test_is_not_estimable() -> None:
    assert class_indicators([0, 1, 2, 3, 3], [0, 0, 0, 1, 1]).shape == (5, 0)
    data = pd.DataFrame(
        {
            "modified_nih": [0.0, 1.0, 2.0, 3.0, 3.0, 3.0],
            "size_cm": [1.0, 2.0, 4.0, 8.0, 9.0, 12.0],
            "risk_score": [0.1, -0.3, 0.2, 0.5, 0.4, 0.9],
            "rfs_months": [50.0, 40.0, 30.0, 5.0, 12.0, 20.0],
            "rfs_event": [0.0, 0.0, 0.0, 1.0, 1.0, 0.0],
        }
    )
    tests = {t["base"]: t for t in _lr_tests(data)}
    assert tests["Modified NIH 2008 (class indicators)"]["statistic"] is None
    assert "two groups of classes" in tests["Modified NIH 2008 (class indicators)"]["note"]


def _cohort(seed: int, n: int = 400) -> pd.DataFrame:
    """A class whose log hazard is not linear in its code (0, 0, 1.5, 1.6: the step is
    between low and intermediate), and a score that only re-encodes that shape."""
    rng = np.random.default_rng(seed)
    codes = rng.integers(0, 4, n).astype(float)
    log_hazard = np.array([0.0, 0.0, 1.5, 1.6])[codes.astype(int)]
    times = rng.exponential(np.exp(-log_hazard))
    censor = rng.exponential(2.0, n)
    return pd.DataFrame(
        {
            "modified_nih": codes,
            "size_cm": rng.uniform(1, 15, n),
            "risk_score": log_hazard + rng.normal(0, 0.3, n),
            "rfs_months": np.minimum(times, censor),
            "rfs_event": (times <= censor).astype(float),
        }
    )


def test_a_score_that_re_encodes_the_class_adds_over_the_ordinal_code_not_over_indicators() -> None:
    # why indicators: the ordinal code assumes equal steps, so a score carrying nothing but
    # the class's true (unequal) steps looks like added value over it
    tests = {t["base"]: t for t in _lr_tests(_cohort(seed=4))}
    assert tests["Modified NIH 2008 (ordinal)"]["p"] < 0.001
    assert tests["Modified NIH 2008 (class indicators)"]["p"] > 0.01
    assert tests["Modified NIH 2008 (class indicators)"]["df"] == 1


def test_with_two_groups_indicators_and_ordinal_give_the_same_test() -> None:
    # one indicator is an affine function of a two-valued code: the same Cox fits by hand
    data = _cohort(seed=2, n=120)
    data = data.assign(modified_nih=np.where(data["modified_nih"] >= 2, 3.0, 1.0))
    tests = {t["base"]: t for t in _lr_tests(data)}
    ordinal, indicators = (
        tests["Modified NIH 2008 (ordinal)"],
        tests["Modified NIH 2008 (class indicators)"],
    )
    assert indicators["statistic"] == pytest.approx(ordinal["statistic"], rel=1e-6)
    direct = likelihood_ratio_test(
        (data["modified_nih"] == 3).astype(float),
        data["risk_score"],
        data["rfs_months"],
        data["rfs_event"],
    )
    assert indicators["statistic"] == pytest.approx(direct.statistic, rel=1e-9)

"""Benjamini–Hochberg q-values against the worked example of the 1995 paper, by hand."""

from __future__ import annotations

import numpy as np
import pytest

from gistcad.analysis.multiple_testing import bh_qvalues
from gistcad.errors import ValidationError

#: the 15 p-values of Benjamini & Hochberg 1995, section 4.3 (the myocardial infarction trial)
BH_1995 = [
    0.0001, 0.0004, 0.0019, 0.0095, 0.0201, 0.0278, 0.0298, 0.0344,
    0.0459, 0.3240, 0.4262, 0.5719, 0.6528, 0.7590, 1.0000,
]  # fmt: skip


def test_the_paper_example_rejects_four_at_five_percent() -> None:
    q = bh_qvalues(BH_1995)
    # the paper: the step-up procedure rejects the four smallest at q* = 0.05
    assert (q <= 0.05).sum() == 4


def test_q_values_match_the_hand_computation() -> None:
    # q_(i) = min over j >= i of 15 p_(j) / j, worked by hand:
    # 15*0.0001/1, 15*0.0004/2, 15*0.0019/3, 15*0.0095/4 = 0.0015, 0.003, 0.0095, 0.035625;
    # 5th: min(0.0603, 0.0695, 0.063857, 0.0645, 0.0765, ...) = 0.0603;
    # 6th and 7th: 15*0.0298/7 = 0.063857; 8th: 15*0.0344/8 = 0.0645; 9th: 15*0.0459/9
    # = 0.0765; 10th: 0.486; 11th: 15*0.4262/11 = 0.581182; then 0.714875, 0.753231,
    # 0.813214, 1
    expected = [
        0.0015, 0.003, 0.0095, 0.035625, 0.0603, 0.063857, 0.063857, 0.0645,
        0.0765, 0.486, 0.581182, 0.714875, 0.753231, 0.813214, 1.0,
    ]  # fmt: skip
    assert bh_qvalues(BH_1995) == pytest.approx(expected, abs=1e-6)


def test_order_is_kept_and_missing_values_are_not_counted() -> None:
    q = bh_qvalues([0.04, np.nan, 0.01])
    # m = 2 tested: 0.01 -> 0.02, 0.04 -> 0.04
    assert q[0] == pytest.approx(0.04)
    assert np.isnan(q[1])
    assert q[2] == pytest.approx(0.02)


def test_a_p_value_outside_the_unit_interval_is_refused() -> None:
    with pytest.raises(ValidationError, match=r"must lie in \[0, 1\]"):
        bh_qvalues([0.2, 1.5])

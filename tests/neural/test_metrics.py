from __future__ import annotations

import math

import numpy as np
import pytest

from gistcad.analysis.performance import concordance_index
from gistcad.neural.metrics import accuracy, auc_one_vs_rest


def test_auc_by_hand_and_undefined() -> None:
    # positives 0.1, 0.4 vs negatives 0.35, 0.8: of 4 pairs, (0.4 > 0.35) wins
    assert auc_one_vs_rest([0.1, 0.4, 0.35, 0.8], [1, 1, 0, 0], positive=1) == 0.25
    assert auc_one_vs_rest([0.5, 0.5], [0, 2], positive=0) == 0.5
    assert math.isnan(auc_one_vs_rest([0.5, 0.5], [0, -1], positive=0))


def test_c_index_by_hand() -> None:
    # comparable pairs: (0,1), (0,2), (1,2); risk 1, 3, 2 → (0,1) loses, (0,2) loses, (1,2) wins
    assert concordance_index([1.0, 3.0, 2.0], [1.0, 2.0, 3.0], [1, 1, 0]) == pytest.approx(1 / 3)
    assert math.isnan(concordance_index([1.0, 2.0], [1.0, 2.0], [0, 0]))


def test_accuracy_skips_unknown() -> None:
    p = np.array([[0.9, 0.1, 0, 0], [0.2, 0.8, 0, 0], [0.6, 0.4, 0, 0]])
    assert accuracy(p, [0, 0, -1]) == 0.5

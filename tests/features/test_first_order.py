"""Intensity statistics, histogram and intensity-volume histogram on hand-computed cases."""

from __future__ import annotations

import numpy as np
import pytest

from gistcad.features.discretise import GreyLevels
from gistcad.features.first_order import (
    intensity_histogram,
    intensity_statistics,
    intensity_volume_histogram,
)


def _levels(values: list[int], n_levels: int) -> GreyLevels:
    array = np.array(values, dtype=np.int64).reshape(-1, 1, 1)
    grey = np.arange(1, n_levels + 1, dtype=np.float64)
    return GreyLevels(array, n_levels, grey, 1.0)


def test_statistics_of_one_to_four() -> None:
    f = intensity_statistics(np.array([1.0, 2.0, 3.0, 4.0]))
    assert f["stat_mean"] == 2.5
    assert f["stat_var"] == pytest.approx(1.25)  # population variance
    assert f["stat_skew"] == pytest.approx(0.0)
    assert f["stat_kurt"] == pytest.approx(1.64 - 3.0)  # m4/m2² = 2.5625/1.5625
    assert f["stat_energy"] == 30.0
    assert f["stat_rms"] == pytest.approx(np.sqrt(7.5))
    assert f["stat_mad"] == 1.0 and f["stat_medad"] == 1.0
    assert f["stat_iqr"] == pytest.approx(1.5)


def test_constant_roi_has_zero_skewness_and_kurtosis() -> None:
    f = intensity_statistics(np.full(10, 40.0))
    assert f["stat_skew"] == 0.0 and f["stat_kurt"] == 0.0 and f["stat_cov"] == 0.0


def test_histogram_gradient_mode_and_entropy() -> None:
    # counts over levels 1..4: [2, 0, 1, 1]
    f = intensity_histogram(_levels([1, 1, 3, 4], 4))
    assert f["ih_mode"] == 1.0
    assert f["ih_entropy"] == pytest.approx(1.5)
    assert f["ih_uniformity"] == pytest.approx(0.375)
    # gradient: [0−2, (1−2)/2, (1−0)/2, 1−1] = [−2, −0.5, 0.5, 0]
    assert (f["ih_min_grad"], f["ih_min_grad_g"]) == (-2.0, 1.0)
    assert (f["ih_max_grad"], f["ih_max_grad_g"]) == (0.5, 3.0)


def test_mode_tie_takes_the_level_nearest_the_mean() -> None:
    assert intensity_histogram(_levels([1, 4, 4, 6, 6, 6, 4], 6))["ih_mode"] == 4.0


def test_intensity_volume_histogram() -> None:
    # levels 1..5, one voxel each except 5 (two voxels): ν(≥ level) = 1, 5/6, 4/6, 3/6, 2/6
    f = intensity_volume_histogram(_levels([1, 2, 3, 4, 5, 5], 5))
    assert f["ivh_v10"] == pytest.approx(5 / 6)  # γ ≥ 0.1 → level ≥ 2
    assert f["ivh_v90"] == pytest.approx(2 / 6)  # γ ≥ 0.9 → level 5
    assert f["ivh_i10"] == 6.0  # no level has ν ≤ 0.1: one step above the maximum
    assert f["ivh_i90"] == 2.0

"""NGTDM and NGLDM on small hand-checked ROIs."""

from __future__ import annotations

import numpy as np
import pytest

from gistcad.features.directions import PaddedLevels
from gistcad.features.neighbourhood import neighbourhood_features


def test_uniform_block_has_full_dependence_in_the_centre() -> None:
    levels = np.ones((3, 3, 3), dtype=np.int64)
    f = neighbourhood_features(PaddedLevels.from_levels(levels), 1)
    assert f["ngt_coarseness_3d"] == 1e6  # no grey-tone difference
    assert f["ngt_busyness_3d"] == 0.0
    # dependence = 1 + neighbours: corners 8, edges 12, faces 18, centre 27
    expected = (8 * 8**2 + 12 * 12**2 + 6 * 18**2 + 1 * 27**2) / 27
    assert f["ngl_hde_d1_a0.0_3d"] == pytest.approx(expected)


def test_two_levels_side_by_side() -> None:
    levels = np.array([1, 2]).reshape(2, 1, 1)
    f = neighbourhood_features(PaddedLevels.from_levels(levels), 2)
    # s_1 = |1 − 2| = 1, s_2 = 1, p = (½, ½): coarseness 1 / (½ + ½)
    assert f["ngt_coarseness_3d"] == pytest.approx(1.0)
    assert f["ngt_strength_3d"] == pytest.approx(2 * 1 / 2)
    assert f["ngl_lde_d1_a0.0_3d"] == 1.0  # nobody has an equal neighbour

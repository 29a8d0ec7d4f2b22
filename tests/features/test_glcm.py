"""GLCM on hand-built matrices."""

from __future__ import annotations

import numpy as np
import pytest

from gistcad.features.directions import DIRECTIONS_3D, PaddedLevels
from gistcad.features.glcm import cooccurrence_matrices, glcm_3d, glcm_features


def test_thirteen_directions_cover_the_26_neighbours() -> None:
    offsets = set(DIRECTIONS_3D) | {tuple(-c for c in d) for d in DIRECTIONS_3D}
    assert len(DIRECTIONS_3D) == 13 and len(offsets) == 26 and (0, 0, 0) not in offsets


def test_two_voxels_make_one_symmetric_pair() -> None:
    levels = np.array([1, 2]).reshape(2, 1, 1)
    counts = cooccurrence_matrices(PaddedLevels.from_levels(levels), 2)
    along_i = DIRECTIONS_3D.index((1, 0, 0))
    assert counts[along_i].tolist() == [[0.0, 1.0], [1.0, 0.0]]
    assert counts.sum() == 2.0  # no other direction links them
    f = glcm_3d(PaddedLevels.from_levels(levels), 2)
    assert f["cm_contrast_d1_3d_v_mrg"] == 1.0
    assert f["cm_joint_avg_d1_3d_v_mrg"] == 1.5
    assert f["cm_contrast_d1_3d_avg"] == 1.0  # directions without pairs are left out


def test_features_of_a_known_matrix() -> None:
    counts = np.array([[[2.0, 1.0], [1.0, 0.0]]])  # p = [[.5, .25], [.25, 0]]
    f = glcm_features(counts)
    assert f["joint_max"][0] == 0.5
    assert f["energy"][0] == pytest.approx(0.375)
    assert f["contrast"][0] == pytest.approx(0.5)
    assert f["inv_var"][0] == pytest.approx(0.5)
    assert f["sum_avg"][0] == pytest.approx(2.5)
    assert f["joint_entr"][0] == pytest.approx(1.5)


def test_single_grey_level_has_undefined_correlation() -> None:
    f = glcm_features(np.array([[[4.0]]]))
    assert np.isnan(f["corr"][0]) and f["contrast"][0] == 0.0

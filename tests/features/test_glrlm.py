"""Run lengths along the 13 directions."""

from __future__ import annotations

import numpy as np

from gistcad.features.directions import DIRECTIONS_3D, PaddedLevels
from gistcad.features.glrlm import glrlm_3d, run_length_matrices


def test_a_line_is_one_run_along_it_and_single_runs_across() -> None:
    levels = np.ones((3, 1, 1), dtype=np.int64)
    counts = run_length_matrices(PaddedLevels.from_levels(levels), 1)
    along = DIRECTIONS_3D.index((1, 0, 0))
    assert counts[along, 0, 2] == 1.0 and counts[along].sum() == 1.0
    for d in range(13):
        if d != along:
            assert counts[d, 0, 0] == 3.0 and counts[d].sum() == 3.0


def test_runs_stop_at_a_level_change_and_outside_the_roi() -> None:
    levels = np.array([1, 1, 2, 0, 2]).reshape(5, 1, 1)
    counts = run_length_matrices(PaddedLevels.from_levels(levels), 2)
    along = DIRECTIONS_3D.index((1, 0, 0))
    assert counts[along, 0, 1] == 1.0  # the run 1, 1
    assert counts[along, 1, 0] == 2.0  # two runs of 2, split by the gap
    f = glrlm_3d(PaddedLevels.from_levels(levels), 2)
    assert f["rlm_r_perc_3d_v_mrg"] == (3 + 12 * 4) / (13 * 4)


def test_diagonal_runs_do_not_wrap_across_the_box() -> None:
    rng = np.random.default_rng(3)
    levels = rng.integers(0, 3, size=(5, 6, 7))
    padded = PaddedLevels.from_levels(levels)
    counts = run_length_matrices(padded, 2)
    lengths = np.arange(1, counts.shape[2] + 1)
    for d in range(13):  # every ROI voxel is in exactly one run per direction
        assert (counts[d] * lengths).sum() == np.count_nonzero(levels)

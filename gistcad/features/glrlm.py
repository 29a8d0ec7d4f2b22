"""Grey level run length matrix (GLRLM) features, 3-D (IBSI 3.7, family code TP0I).

A run is a maximal line of consecutive ROI voxels with the same grey level along one of the
13 directions. Aggregations as for the GLCM: ``3d_avg`` (features per direction, averaged)
and ``3d_v_mrg`` (matrices summed, ``N_v`` multiplied by 13). Feature names
``rlm_<feature>_<aggregation>``; formulas and IBSI codes are in
:mod:`gistcad.features.size_matrix` (Zwanenburg et al., IBSI reference manual,
arXiv:1612.07003, section 3.7).

Runs are found without a loop over voxels: :meth:`PaddedLevels.lines` lays every line of a
direction end to end (separated by zeros) and runs are the stretches between value changes.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from gistcad.features.directions import DIRECTIONS_3D, PaddedLevels
from gistcad.features.size_matrix import named, size_matrix_features

FloatArray = npt.NDArray[np.float64]

#: Generic key → GLRLM feature name.
GLRLM_NAMES = {
    "short": "sre",
    "long": "lre",
    "low_gl": "lgre",
    "high_gl": "hgre",
    "short_low": "srlge",
    "short_high": "srhge",
    "long_low": "lrlge",
    "long_high": "lrhge",
    "glnu": "glnu",
    "glnu_norm": "glnu_norm",
    "snu": "rlnu",
    "snu_norm": "rlnu_norm",
    "percentage": "r_perc",
    "gl_var": "gl_var",
    "size_var": "rl_var",
    "size_entr": "rl_entr",
}


def run_length_matrices(padded: PaddedLevels, n_levels: int) -> FloatArray:
    """Run counts, shape (13, Ng, L): ``[d, i-1, l-1]`` = runs of level i, length l."""
    max_length = max(padded.shape)
    matrices = np.zeros((len(DIRECTIONS_3D), n_levels, max_length), dtype=np.float64)
    for d, offset in enumerate(DIRECTIONS_3D):
        line = padded.lines(offset)
        starts = np.flatnonzero(np.r_[True, line[1:] != line[:-1]])
        lengths = np.diff(np.r_[starts, line.size])
        values = line[starts]
        keep = values > 0
        index = (values[keep] - 1) * max_length + (lengths[keep] - 1)
        counts = np.bincount(index, minlength=n_levels * max_length)
        matrices[d] = counts.reshape(n_levels, max_length)
    return matrices


def glrlm_3d(padded: PaddedLevels, n_levels: int) -> dict[str, float]:
    """GLRLM features, aggregations ``3d_avg`` and ``3d_v_mrg`` (names ``rlm_*``)."""
    counts = run_length_matrices(padded, n_levels)
    n_voxels = float(np.count_nonzero(padded.flat))
    present = counts.sum(axis=(1, 2)) > 0
    per_direction = size_matrix_features(counts[present], np.full(int(present.sum()), n_voxels))
    averaged = {key: np.array([np.mean(value)]) for key, value in per_direction.items()}
    merged = size_matrix_features(
        counts.sum(axis=0, keepdims=True), np.array([n_voxels * len(DIRECTIONS_3D)])
    )
    return named(averaged, GLRLM_NAMES, "rlm_{}_3d_avg") | named(
        merged, GLRLM_NAMES, "rlm_{}_3d_v_mrg"
    )

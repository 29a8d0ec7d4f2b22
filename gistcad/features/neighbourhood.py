"""Neighbourhood grey-tone (NGTDM, IBSI 3.10) and grey-level dependence (NGLDM, IBSI 3.11).

Both look at the 26 neighbours (Chebyshev distance 1) of every ROI voxel, counting only
neighbours inside the ROI. Reference: Zwanenburg et al., IBSI reference manual,
arXiv:1612.07003, sections 3.10 (NGTDM, family code IPET) and 3.11 (NGLDM, code REK0).

NGTDM (names ``ngt_<feature>_3d``); ``Ā`` is the mean level of a voxel's ROI neighbours,
``s_i = Σ |i − Ā|`` over the voxels of level ``i`` that have at least one neighbour,
``n_i`` their number, ``N_vc = Σ n_i``, ``p_i = n_i / N_vc``, ``N_g,p`` the number of levels
with ``p_i > 0``; sums over ``i, j`` run over those levels:

===========  ====  =====================================================================
feature      IBSI  formula
===========  ====  =====================================================================
coarseness   QCDE  1 / Σ p_i s_i (10⁶ when the sum is 0)
contrast     65HE  [Σ Σ p_i p_j (i − j)² / (N_g,p (N_g,p − 1))] · Σ s_i / N_vc
busyness     NQ30  Σ p_i s_i / Σ Σ |i p_i − j p_j| (0 when N_g,p = 1)
complexity   HDEZ  Σ Σ |i − j| (p_i s_i + p_j s_j) / (p_i + p_j) / N_vc
strength     1X9X  Σ Σ (p_i + p_j)(i − j)² / Σ s_i (0 when Σ s_i = 0)
===========  ====  =====================================================================

NGLDM (names ``ngl_<feature>_d1_a0.0_3d``): the dependence of a voxel is 1 + the number of
ROI neighbours with the same grey level (distance 1, coarseness α = 0); the matrix counts
voxels by grey level and dependence, features as in :mod:`gistcad.features.size_matrix`.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from gistcad.features.directions import DIRECTIONS_3D, PaddedLevels
from gistcad.features.size_matrix import named, size_matrix_features

FloatArray = npt.NDArray[np.float64]

#: Generic key → NGLDM feature name.
NGLDM_NAMES = {
    "short": "lde",
    "long": "hde",
    "low_gl": "lgce",
    "high_gl": "hgce",
    "short_low": "ldlge",
    "short_high": "ldhge",
    "long_low": "hdlge",
    "long_high": "hdhge",
    "glnu": "glnu",
    "glnu_norm": "glnu_norm",
    "snu": "dcnu",
    "snu_norm": "dcnu_norm",
    "percentage": "dc_perc",
    "gl_var": "gl_var",
    "size_var": "dc_var",
    "size_entr": "dc_entr",
    "energy": "dc_energy",
}


#: NGTDM feature names.
NGTDM_NAMES = tuple(
    f"ngt_{name}_3d" for name in ("coarseness", "contrast", "busyness", "complexity", "strength")
)


def _neighbour_sums(padded: PaddedLevels) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Per flat voxel: sum of ROI neighbour levels, their number, number with equal level."""
    flat = padded.flat
    inside = (flat > 0).astype(np.float64)
    level_sum = np.zeros(flat.size)
    count = np.zeros(flat.size)
    equal = np.zeros(flat.size)
    for offset in DIRECTIONS_3D:
        s = padded.stride(offset)
        level_sum[:-s] += flat[s:]
        level_sum[s:] += flat[:-s]
        count[:-s] += inside[s:]
        count[s:] += inside[:-s]
        same = ((flat[:-s] == flat[s:]) & (flat[s:] > 0)).astype(np.float64)
        equal[:-s] += same
        equal[s:] += same
    return level_sum, count, equal


def _ngtdm(levels: FloatArray, mean_neighbour: FloatArray, n_levels: int) -> dict[str, float]:
    grey = np.arange(1, n_levels + 1, dtype=np.float64)
    index = levels.astype(np.int64) - 1
    n_i = np.bincount(index, minlength=n_levels).astype(np.float64)
    s_i = np.bincount(index, weights=np.abs(levels - mean_neighbour), minlength=n_levels)
    n_vc = n_i.sum()
    if n_vc == 0:  # no voxel has a neighbour in the ROI
        return dict.fromkeys(NGTDM_NAMES, float("nan"))
    present = n_i > 0
    p, s, g = n_i[present] / n_vc, s_i[present], grey[present]
    n_gp = p.size
    ps = float(np.sum(p * s))
    diff = g[:, None] - g[None, :]
    p_plus = p[:, None] + p[None, :]
    busy_denominator = float(np.sum(np.abs((g * p)[:, None] - (g * p)[None, :])))
    weighted = (p * s)[:, None] + (p * s)[None, :]
    contrast = (
        float(np.sum(p[:, None] * p[None, :] * diff**2)) / (n_gp * (n_gp - 1)) * s.sum() / n_vc
        if n_gp > 1
        else 0.0
    )
    return {
        "ngt_coarseness_3d": 1.0 / ps if ps > 0 else 1e6,
        "ngt_contrast_3d": contrast,
        "ngt_busyness_3d": ps / busy_denominator if busy_denominator > 0 else 0.0,
        "ngt_complexity_3d": float(np.sum(np.abs(diff) * weighted / p_plus)) / n_vc,
        "ngt_strength_3d": float(np.sum(p_plus * diff**2)) / s.sum() if s.sum() > 0 else 0.0,
    }


def neighbourhood_features(padded: PaddedLevels, n_levels: int) -> dict[str, float]:
    """NGTDM (``ngt_*_3d``) and NGLDM (``ngl_*_d1_a0.0_3d``) features of the ROI."""
    level_sum, count, equal = _neighbour_sums(padded)
    flat = padded.flat
    roi = flat > 0
    with_neighbours = roi & (count > 0)
    features = _ngtdm(
        flat[with_neighbours].astype(np.float64),
        level_sum[with_neighbours] / count[with_neighbours],
        n_levels,
    )
    dependence = equal[roi].astype(np.int64) + 1
    n_dependence = 2 * len(DIRECTIONS_3D) + 1
    index = (flat[roi] - 1) * n_dependence + (dependence - 1)
    counts = np.bincount(index, minlength=n_levels * n_dependence).astype(np.float64)
    matrix = counts.reshape(1, n_levels, n_dependence)
    ngldm = size_matrix_features(matrix, np.array([float(roi.sum())]))
    return features | named(ngldm, NGLDM_NAMES, "ngl_{}_d1_a0.0_3d")

"""Grey level size zone matrix (GLSZM) features, 3-D, 26-connectivity (IBSI 3.8, code 9SAK).

A zone is a 26-connected group of ROI voxels with the same grey level; the matrix counts
zones by grey level and size (number of voxels). Feature names ``szm_<feature>_3d``;
formulas and IBSI codes in :mod:`gistcad.features.size_matrix` (Zwanenburg et al., IBSI
reference manual, arXiv:1612.07003, section 3.8). Zones are labelled with
:func:`scipy.ndimage.label`, once per grey level present.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import ndimage

from gistcad.features.size_matrix import named, size_matrix_features

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]

#: 26-connectivity in 3-D.
CONNECTIVITY_26 = np.ones((3, 3, 3), dtype=bool)

#: Generic key → GLSZM feature name.
GLSZM_NAMES = {
    "short": "sze",
    "long": "lze",
    "low_gl": "lgze",
    "high_gl": "hgze",
    "short_low": "szlge",
    "short_high": "szhge",
    "long_low": "lzlge",
    "long_high": "lzhge",
    "glnu": "glnu",
    "glnu_norm": "glnu_norm",
    "snu": "zsnu",
    "snu_norm": "zsnu_norm",
    "percentage": "z_perc",
    "gl_var": "gl_var",
    "size_var": "zs_var",
    "size_entr": "zs_entr",
}


@dataclass(frozen=True)
class Zones:
    """The zones of a discretised ROI.

    Attributes
    ----------
    labels
        Same shape as the levels; zone id 1…n_zones, 0 outside the ROI.
    level
        Shape (n_zones,): grey level of each zone.
    size
        Shape (n_zones,): number of voxels of each zone.
    """

    labels: IntArray
    level: IntArray
    size: IntArray


def find_zones(levels: IntArray) -> Zones:
    """Label the 26-connected zones of equal grey level in ``levels`` (0 = outside)."""
    labels = np.zeros(levels.shape, dtype=np.int64)
    zone_levels: list[IntArray] = []
    n_zones = 0
    for level in np.unique(levels[levels > 0]):
        component, count = ndimage.label(levels == level, structure=CONNECTIVITY_26)
        inside = component > 0
        labels[inside] = component[inside] + n_zones
        zone_levels.append(np.full(count, level, dtype=np.int64))
        n_zones += count
    level_of_zone = np.concatenate(zone_levels) if zone_levels else np.zeros(0, np.int64)
    size = np.bincount(labels.ravel(), minlength=n_zones + 1)[1:]
    return Zones(labels, level_of_zone, size)


def zone_matrix(level: IntArray, size: IntArray, n_levels: int) -> FloatArray:
    """Counts (1, Ng, max size): ``[0, i-1, j-1]`` = elements of level i and size j."""
    n_sizes = int(size.max()) if size.size else 1
    counts = np.bincount((level - 1) * n_sizes + (size - 1), minlength=n_levels * n_sizes)
    return counts.reshape(1, n_levels, n_sizes).astype(np.float64)


def glszm_3d(zones: Zones, n_levels: int) -> dict[str, float]:
    """GLSZM features, 3-D (names ``szm_*_3d``)."""
    n_voxels = float(np.count_nonzero(zones.labels))
    counts = zone_matrix(zones.level, zones.size, n_levels)
    features = size_matrix_features(counts, np.array([n_voxels]))
    return named(features, GLSZM_NAMES, "szm_{}_3d")

"""Grey level distance zone matrix (GLDZM) features, 3-D (IBSI 3.9, family code VMDZ).

The zones are those of the GLSZM (26-connected, equal grey level); each zone's distance is
the smallest distance of its voxels to the edge of the ROI, measured in 6-connected
(taxicab) steps so that a voxel on the border is at distance 1 (IBSI 3.9). The distance map
comes from the morphological mask, padded so that the image border is an ROI border. Feature
names ``dzm_<feature>_3d``; formulas and IBSI codes in :mod:`gistcad.features.size_matrix`
(Zwanenburg et al., IBSI reference manual, arXiv:1612.07003, section 3.9).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from scipy import ndimage

from gistcad.features.glszm import Zones, zone_matrix
from gistcad.features.size_matrix import named, size_matrix_features

BoolArray = npt.NDArray[np.bool_]
IntArray = npt.NDArray[np.int64]

#: Generic key → GLDZM feature name.
GLDZM_NAMES = {
    "short": "sde",
    "long": "lde",
    "low_gl": "lgze",
    "high_gl": "hgze",
    "short_low": "sdlge",
    "short_high": "sdhge",
    "long_low": "ldlge",
    "long_high": "ldhge",
    "glnu": "glnu",
    "glnu_norm": "glnu_norm",
    "snu": "zdnu",
    "snu_norm": "zdnu_norm",
    "percentage": "z_perc",
    "gl_var": "gl_var",
    "size_var": "zd_var",
    "size_entr": "zd_entr",
}


def border_distance(mask: BoolArray) -> IntArray:
    """Taxicab distance of each mask voxel to the nearest voxel outside (border = 1)."""
    padded = np.pad(mask, 1)
    distance = ndimage.distance_transform_cdt(padded, metric="taxicab")
    return np.asarray(distance[1:-1, 1:-1, 1:-1], dtype=np.int64)


def gldzm_3d(zones: Zones, morphological_mask: BoolArray, n_levels: int) -> dict[str, float]:
    """GLDZM features, 3-D (names ``dzm_*_3d``)."""
    distance = border_distance(morphological_mask)
    labels = zones.labels.ravel()
    inside = labels > 0
    zone_distance = np.full(zones.level.size, np.iinfo(np.int64).max, dtype=np.int64)
    np.minimum.at(zone_distance, labels[inside] - 1, distance.ravel()[inside])
    counts = zone_matrix(zones.level, zone_distance, n_levels)
    features = size_matrix_features(counts, np.array([float(inside.sum())]))
    return named(features, GLDZM_NAMES, "dzm_{}_3d")

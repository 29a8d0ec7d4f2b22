"""GLSZM zones (26-connected) and GLDZM distances."""

from __future__ import annotations

import numpy as np
import pytest

from gistcad.features.gldzm import border_distance, gldzm_3d
from gistcad.features.glszm import find_zones, glszm_3d


def test_corner_touching_voxels_form_one_zone() -> None:
    levels = np.zeros((4, 4, 4), dtype=np.int64)
    levels[0, 0, 0] = levels[1, 1, 1] = 1  # touch at a corner: 26-connected
    levels[3, 3, 0] = 1  # not touching
    zones = find_zones(levels)
    assert sorted(zones.size.tolist()) == [1, 2]
    f = glszm_3d(zones, 1)
    assert f["szm_z_perc_3d"] == 2 / 3
    assert f["szm_sze_3d"] == pytest.approx((1 + 1 / 4) / 2)


def test_zones_are_per_grey_level() -> None:
    levels = np.array([1, 2, 2, 1]).reshape(4, 1, 1)
    zones = find_zones(levels)
    pairs = zip(zones.level.tolist(), zones.size.tolist(), strict=True)
    assert sorted(pairs) == [(1, 1), (1, 1), (2, 2)]


def test_border_distance_is_taxicab_from_one() -> None:
    mask = np.ones((5, 5, 5), dtype=bool)
    distance = border_distance(mask)
    assert distance[0, 0, 0] == 1 and distance[2, 2, 2] == 3 and distance[1, 2, 2] == 2
    levels = np.where(mask, 1, 0)
    levels[2, 2, 2] = 2
    f = gldzm_3d(find_zones(levels), mask, 2)
    assert f["dzm_lde_3d"] == (1 + 9) / 2  # zone of 1s at distance 1, the centre at 3

"""Local intensity peaks."""

from __future__ import annotations

import numpy as np
import pytest

from gistcad.features.local_intensity import SPHERE_RADIUS_MM, local_intensity, sphere_kernel


def test_sphere_has_a_volume_of_one_cubic_centimetre() -> None:
    assert 4 / 3 * np.pi * SPHERE_RADIUS_MM**3 == pytest.approx(1000.0)
    kernel = sphere_kernel((0.5, 0.5, 0.5))
    assert kernel.sum() * 0.125 == pytest.approx(1000.0, rel=0.02)


def test_peaks_average_the_sphere_including_voxels_outside_the_roi() -> None:
    image = np.zeros((21, 21, 21))
    image[10, 10, 10] = 1000.0
    mask = np.zeros_like(image, dtype=bool)
    mask[10, 10, 10] = True
    n = sphere_kernel((1.0, 1.0, 1.0)).sum()
    f = local_intensity(image, mask, (1.0, 1.0, 1.0))
    assert f["loc_peak_loc"] == pytest.approx(1000.0 / n)
    assert f["loc_peak_glob"] == pytest.approx(1000.0 / n)

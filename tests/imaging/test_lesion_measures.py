"""Lesion measures on analytic shapes: ellipses and ellipsoids of known size, anisotropic grids.

Diameters are measured between voxel centres, so a digitised shape may measure up to one voxel
less than its analytic diameter: the tolerance is one voxel (its in-plane diagonal, as a chord
may run obliquely through the grid). Shapes are centred on an axial slice (an odd number of
slices, and of columns and rows), so that the middle slice cuts them at their widest.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

from gistcad.errors import ValidationError
from gistcad.imaging.errors import GeometryMismatchError
from gistcad.imaging.lesion_measures import (
    NECROSIS_HU,
    LesionMeasures,
    axial_last,
    longest_axial_diameter_mm,
    mask_diameter_mm,
    measure_lesion,
    measure_volume,
)
from gistcad.imaging.volume import LPS_TO_RAS, Volume
from gistcad.viewer.slices import measure, to_lps


def _ellipsoid(
    shape: tuple[int, int, int],
    spacing: tuple[float, float, float],
    semi_axes_mm: tuple[float, float, float],
    angle_deg: float = 0.0,
) -> np.ndarray:
    """A mask of an ellipsoid centred in the grid, its first axis turned ``angle_deg`` in-plane."""
    grid = np.indices(shape).astype(float)
    centre = (np.array(shape) - 1) / 2
    x, y, z = ((grid[a] - centre[a]) * spacing[a] for a in range(3))
    t = math.radians(angle_deg)
    u, v = x * math.cos(t) + y * math.sin(t), -x * math.sin(t) + y * math.cos(t)
    a, b, c = semi_axes_mm
    return ((u / a) ** 2 + (v / b) ** 2 + (z / c) ** 2 <= 1).astype(np.uint8)


SPACING = (0.7, 0.9, 2.5)
VOXEL = math.hypot(0.7, 0.9)


@pytest.mark.parametrize("angle", [0.0, 30.0, 90.0])
def test_ellipsoid_diameters_volume_on_an_anisotropic_grid(angle: float) -> None:
    # semi-axes 20 x 12 x 15 mm: longest axial diameter 40 mm, short axis 24 mm (middle slice)
    mask = _ellipsoid((81, 81, 21), SPACING, (20.0, 12.0, 15.0), angle)
    hu = np.where(mask > 0, 60, -50).astype(np.int16)
    m = measure_lesion(hu, mask, SPACING)
    assert 40.0 - VOXEL <= m.longest_axial_diameter_mm <= 40.0
    assert 24.0 - VOXEL <= m.short_axis_mm <= 24.0 + VOXEL
    # the middle slice (10), or a neighbour whose digitised outline happens to be as long
    assert m.slice_index in (9, 10, 11)
    analytic_ml = 4 / 3 * math.pi * 20 * 12 * 15 / 1000
    assert m.volume_ml == pytest.approx(analytic_ml, rel=0.05)
    assert m.mean_hu == 60 and m.solid_mean_hu == 60


def test_a_sphere_measures_its_diameter_both_ways() -> None:
    mask = _ellipsoid((61, 61, 15), SPACING, (15.0, 15.0, 15.0))
    m = measure_lesion(np.zeros(mask.shape, np.int16), mask, SPACING)
    assert 30.0 - VOXEL <= m.longest_axial_diameter_mm <= 30.0
    assert 30.0 - VOXEL <= m.short_axis_mm <= 30.0 + VOXEL
    assert m.solid_mean_hu is None  # 0 HU everywhere: all necrotic, no solid part


def test_mean_hu_of_the_lesion_and_of_its_solid_part() -> None:
    # a 10 x 10 x 4 block: a 4 x 4 x 2 necrotic core at 10 HU, the rest solid at 70 HU
    mask = np.zeros((20, 20, 8), np.uint8)
    mask[5:15, 5:15, 2:6] = 1
    hu = np.full(mask.shape, -100.0)
    hu[mask > 0] = 70
    hu[8:12, 8:12, 3:5] = 10
    m = measure_lesion(hu, mask, (1.0, 1.0, 1.0))
    assert m.mean_hu == pytest.approx((368 * 70 + 32 * 10) / 400)
    assert m.solid_mean_hu == pytest.approx(70)
    hu[8:12, 8:12, 3:5] = NECROSIS_HU  # at the threshold: still necrotic
    assert measure_lesion(hu, mask, (1.0, 1.0, 1.0)).solid_mean_hu == pytest.approx(70)
    # a block of 10 x 10 voxels of 1 mm: diagonal between centres 9 * sqrt(2)
    assert m.longest_axial_diameter_mm == pytest.approx(9 * math.sqrt(2))


def test_empty_or_mismatched_masks_are_refused() -> None:
    hu = np.zeros((4, 4, 4))
    with pytest.raises(ValidationError, match="empty"):
        measure_lesion(hu, np.zeros((4, 4, 4)), (1.0, 1.0, 1.0))
    with pytest.raises(ValidationError, match="differ in shape"):
        measure_lesion(hu, np.ones((4, 4, 3)), (1.0, 1.0, 1.0))
    image = Volume(hu, np.eye(4))
    with pytest.raises(GeometryMismatchError, match="lesion 2"):
        measure_volume(
            image, Volume(np.ones((4, 4, 4)), np.diag([2.0, 1, 1, 1])), source="lesion 2"
        )


def test_measure_volume_finds_the_axial_axis_whatever_the_array_order() -> None:
    mask = _ellipsoid((50, 40, 12), SPACING, (15.0, 9.0, 10.0), 20.0)
    hu = np.where(mask > 0, 55, -80).astype(np.int16)
    reference = measure_lesion(hu, mask, SPACING)
    # the same voxels stored slice-first: array axes (k, i, j), the affine says so
    permute = np.array(
        [[0, SPACING[0], 0, 0], [0, 0, SPACING[1], 0], [SPACING[2], 0, 0, 0], [0, 0, 0, 1]]
    )
    image = Volume(np.transpose(hu, (2, 0, 1)).copy(), permute)
    lesion = Volume(np.transpose(mask, (2, 0, 1)).copy(), permute)
    array, spacing = axial_last(image)
    assert array.shape == hu.shape and spacing == pytest.approx(SPACING)
    assert measure_volume(image, lesion) == reference
    # the diameter alone (the importer's and the generator's) is the same number
    assert mask_diameter_mm(lesion) == reference.longest_axial_diameter_mm
    assert longest_axial_diameter_mm(mask, SPACING[:2]) == reference.longest_axial_diameter_mm


def test_diameter_alone_between_voxel_centres() -> None:
    mask = np.zeros((6, 8, 3), np.uint8)
    assert longest_axial_diameter_mm(mask, (1.0, 1.0)) == 0.0  # empty
    mask[2, 3, 1] = 1
    assert longest_axial_diameter_mm(mask, (1.0, 1.0)) == 0.0  # one voxel
    mask[2, 3:8, 1] = 1  # a row of 5 voxels of 0.5 mm, collinear: 2 mm between end centres
    assert longest_axial_diameter_mm(mask, (1.0, 0.5)) == pytest.approx(2.0)
    mask[0:4, 0:4, 2] = 1  # a 4 x 4 square on another slice: the longest slice counts
    assert longest_axial_diameter_mm(mask, (1.0, 1.0)) == pytest.approx(max(3 * math.sqrt(2), 4))


def test_the_viewer_shows_the_numbers_of_the_one_measurement() -> None:
    # a volume stored like a DICOM axial series (LPS), shown by the viewer after reorientation
    mask = _ellipsoid((50, 40, 12), SPACING, (15.0, 9.0, 10.0))
    hu = np.where(mask > 0, 65, -80).astype(np.int16)
    affine = LPS_TO_RAS @ np.diag([*SPACING, 1.0])
    image, lesion = Volume(hu, affine), Volume(mask, affine)
    shown = measure(to_lps(image), to_lps(lesion))
    assert isinstance(shown, LesionMeasures)
    expected = measure_volume(image, lesion)
    for name, value in dataclasses.asdict(expected).items():
        assert getattr(shown, name) == pytest.approx(value), name

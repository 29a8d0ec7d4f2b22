"""The Volume type: validation, geometry in units, grid comparison."""

from __future__ import annotations

import numpy as np
import pytest

from gistcad.errors import ValidationError
from gistcad.imaging.errors import GeometryMismatchError
from gistcad.imaging.volume import (
    Volume,
    describe_geometry,
    geometry_mismatch,
    lps_to_ras,
    require_same_grid,
)


def _affine(spacing: tuple[float, float, float] = (0.7, 0.8, 2.5)) -> np.ndarray:
    affine = np.diag([*spacing, 1.0])
    affine[:3, 3] = [10.0, -20.0, 30.0]
    return affine


def test_geometry_in_units() -> None:
    volume = Volume(np.arange(24, dtype=np.int16).reshape(2, 3, 4), _affine())
    assert volume.shape == (2, 3, 4)
    np.testing.assert_allclose(volume.spacing_mm, [0.7, 0.8, 2.5])
    assert volume.voxel_volume_mm3 == pytest.approx(0.7 * 0.8 * 2.5)
    np.testing.assert_allclose(volume.orientation, np.eye(3))
    np.testing.assert_allclose(volume.origin_mm, [10.0, -20.0, 30.0])
    assert volume.axcodes == "RAS"
    np.testing.assert_allclose(volume.index_to_world([[1, 1, 1]]), [[10.7, -19.2, 32.5]])
    np.testing.assert_allclose(volume.world_to_index([[10.7, -19.2, 32.5]]), [[1, 1, 1]])


def test_lps_flip_names_axes_without_moving_voxels() -> None:
    volume = Volume(np.zeros((2, 2, 2)), lps_to_ras(np.eye(4)))
    assert volume.axcodes == "LPS"
    np.testing.assert_allclose(lps_to_ras(lps_to_ras(_affine())), _affine())


def test_frozen_and_read_only() -> None:
    source = np.zeros((2, 3, 4))
    volume = Volume(source, np.eye(4))
    with pytest.raises(ValueError, match="read-only"):
        volume.array[0, 0, 0] = 1
    source[0, 0, 0] = 5  # the caller's array stays writeable; no copy was made
    assert volume.array[0, 0, 0] == 5
    with pytest.raises(AttributeError):
        volume.array = source  # type: ignore[misc]


@pytest.mark.parametrize(
    ("array", "affine", "match"),
    [
        (np.zeros((2, 3)), np.eye(4), "must be 3-D"),
        (np.zeros((2, 3, 4)), np.eye(3), "must be 4×4"),
        (np.zeros((2, 3, 4)), np.diag([1.0, 0.0, 1.0, 1.0]), "not invertible"),
        (np.zeros((2, 3, 4)), np.diag([1.0, np.nan, 1.0, 1.0]), "non-finite"),
        (np.zeros((2, 3, 4), dtype=object), np.eye(4), "numbers"),
    ],
)
def test_invalid_volumes_are_refused(array: np.ndarray, affine: np.ndarray, match: str) -> None:
    with pytest.raises(ValidationError, match=match):
        Volume(array, affine)


def test_operations_return_new_volumes() -> None:
    volume = Volume(np.zeros((2, 3, 4), dtype=np.int16), _affine())
    other = volume.with_array(np.ones((2, 3, 4), dtype=np.uint8))
    assert other is not volume and other.same_grid(volume)
    assert volume.astype(np.float32).array.dtype == np.float32
    with pytest.raises(ValidationError, match="shape"):
        volume.with_array(np.zeros((4, 3, 2)))


def test_same_grid_and_mismatch_message() -> None:
    image = Volume(np.zeros((2, 3, 4)), _affine())
    nudged = _affine()
    nudged[:3] += 1e-5
    assert image.same_grid(Volume(np.zeros((2, 3, 4)), nudged))
    assert geometry_mismatch(image, image) is None
    shifted = _affine()
    shifted[2, 3] += 2.5
    mask = Volume(np.zeros((2, 3, 4)), shifted)
    message = geometry_mismatch(image, mask)
    assert message is not None
    assert "origin differ" in message
    assert f"image has {describe_geometry(image)}" in message
    assert f"mask has {describe_geometry(mask)}" in message
    with pytest.raises(GeometryMismatchError, match=r"seg\.nii: the mask is not on"):
        require_same_grid(image, mask, source="seg.nii")

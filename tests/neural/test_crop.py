from __future__ import annotations

import numpy as np
import pytest

from gistcad.errors import ValidationError
from gistcad.imaging.errors import GeometryMismatchError
from gistcad.imaging.volume import Volume
from gistcad.neural.crop import (
    Crop,
    CropSettings,
    SpacingPolicy,
    crop_spacing,
    mask_bounds,
    to_image_grid,
    tumour_crop,
    window,
)
from tests.neural.conftest import TUMOUR_HU, Scene, cube_scene

SETTINGS = CropSettings(size=32, margin_mm=10.0)


def mask_centroid_mm(crop: Crop) -> np.ndarray:
    weights = crop.array[1]
    index = np.array([np.sum(g * weights) for g in np.indices(crop.shape)]) / weights.sum()
    return crop.affine[:3, :3] @ index + crop.affine[:3, 3]


def test_crop_is_centred_isotropic_and_windowed(scene: Scene) -> None:
    crop = tumour_crop(scene.image, scene.mask, SETTINGS)
    assert crop.array.shape == (2, 32, 32, 32) and crop.array.dtype == np.float32
    # FIT: largest extent (25 × 0.8 = 20 mm) + 2 × 10 mm margin over 32 voxels
    assert crop.spacing_mm == pytest.approx(40.0 / 32)
    np.testing.assert_allclose(np.diag(crop.affine)[:3], crop.spacing_mm)
    np.testing.assert_allclose(crop.centre_mm, scene.centre_mm, atol=1e-6)
    np.testing.assert_allclose(mask_centroid_mm(crop), scene.centre_mm, atol=0.3)
    np.testing.assert_allclose(crop.tumour_extent_mm, scene.extent_mm)
    centre_value = crop.array[0, 14:18, 14:18, 14:18]
    np.testing.assert_allclose(centre_value, window(np.array(TUMOUR_HU), (-160, 240)), atol=1e-5)
    assert crop.array.min() >= 0.0 and crop.array.max() <= 1.0


def test_anisotropic_slices_keep_their_extent_in_mm(scene: Scene) -> None:
    crop = tumour_crop(scene.image, scene.mask, SETTINGS)
    # 8 slices × 2.5 mm = 20 mm along S: the mask's half-height profile spans 20 mm
    profile = crop.array[1, 16, 16, :]
    assert np.sum(profile > 0.5) * crop.spacing_mm == pytest.approx(20.0, abs=crop.spacing_mm)


def test_orientation_of_the_file_does_not_change_the_crop() -> None:
    ras, lps = cube_scene(), cube_scene(lps=True)
    assert lps.image.axcodes == "LPS"
    a = tumour_crop(ras.image, ras.mask, SETTINGS)
    b = tumour_crop(lps.image, lps.mask, SETTINGS)
    np.testing.assert_allclose(a.affine, b.affine, atol=1e-9)
    np.testing.assert_allclose(a.array, b.array, atol=1e-5)


def test_crop_near_the_edge_is_padded_with_air() -> None:
    edge = cube_scene(first=(0, 15, 0), size=(10, 10, 4))
    crop = tumour_crop(edge.image, edge.mask, CropSettings(size=32, margin_mm=10.0))
    np.testing.assert_allclose(crop.centre_mm, edge.centre_mm, atol=1e-6)
    assert crop.array[0, 0, 16, 16] == 0.0  # beyond the scan: −1024 HU, below the window
    assert crop.array[1].sum() > 0
    np.testing.assert_allclose(mask_centroid_mm(crop), edge.centre_mm, atol=0.5)


def test_fixed_policy_uses_the_spacing_and_clips_big_tumours(scene: Scene) -> None:
    fixed = CropSettings(size=16, policy=SpacingPolicy.FIXED, spacing_mm=1.0)
    crop = tumour_crop(scene.image, scene.mask, fixed)
    assert crop.spacing_mm == 1.0
    assert crop.array[1].min() > 0.99  # 16 mm field inside a 20 mm tumour: all mask
    assert crop_spacing([5.0, 5.0, 5.0], SETTINGS) == 1.0  # FIT never below the floor


def test_settings_key_changes_with_any_field() -> None:
    keys = {
        CropSettings().key(),
        CropSettings(size=48).key(),
        CropSettings(margin_mm=5).key(),
        CropSettings(hu_window=(-100, 200)).key(),
        CropSettings(policy="fixed").key(),
    }
    assert len(keys) == 5
    assert CropSettings().key() == CropSettings().key()


def test_empty_mask_and_foreign_grid_are_refused(scene: Scene) -> None:
    empty = scene.mask.with_array(np.zeros(scene.mask.shape, dtype=np.uint8))
    with pytest.raises(ValidationError, match="no tumour voxels"):
        tumour_crop(scene.image, empty, SETTINGS)
    with pytest.raises(ValidationError, match="label 2"):
        tumour_crop(scene.image, scene.mask, CropSettings(size=32, label=2))
    moved = Volume(scene.mask.array, scene.mask.affine + _shift(5.0))
    with pytest.raises(GeometryMismatchError):
        tumour_crop(scene.image, moved, SETTINGS)
    with pytest.raises(ValidationError, match="size"):
        CropSettings(size=8)


def _shift(mm: float) -> np.ndarray:
    out = np.zeros((4, 4))
    out[0, 3] = mm
    return out


def test_mask_bounds() -> None:
    m = np.zeros((4, 5, 6), dtype=np.uint8)
    m[1:3, 2, 3:6] = 2
    first, last = mask_bounds(m, 2)
    assert first.tolist() == [1, 2, 3] and last.tolist() == [2, 2, 5]


def test_map_on_the_crop_lands_on_the_tumour(scene: Scene) -> None:
    crop = tumour_crop(scene.image, scene.mask, SETTINGS)
    back = to_image_grid(crop.array[1], crop, scene.image)
    assert back.shape == scene.image.shape and back.dtype == np.float32
    truth = np.asarray(scene.mask.array) > 0
    found = back > 0.5
    dice = 2 * np.sum(found & truth) / (found.sum() + truth.sum())
    assert dice > 0.9
    assert back[0, 0, 0] == 0.0 and back[-1, -1, -1] == 0.0  # outside the field


def test_a_blob_at_the_crop_centre_maps_to_the_tumour_centre() -> None:
    lps = cube_scene(lps=True)
    crop = tumour_crop(lps.image, lps.mask, SETTINGS)
    grid = np.indices(crop.shape) - 15.5
    blob = np.exp(-(grid**2).sum(axis=0) / 8.0)
    back = to_image_grid(blob, crop, lps.image)
    peak = np.unravel_index(np.argmax(back), back.shape)
    np.testing.assert_allclose(lps.image.index_to_world(peak)[0], lps.centre_mm, atol=1.3)
    with pytest.raises(ValidationError, match="crop grid"):
        to_image_grid(blob[:-1], crop, lps.image)

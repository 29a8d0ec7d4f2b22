"""The browser viewer's volumes: HU kept, grid and affine kept, large series down-sampled."""

from __future__ import annotations

import gzip
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

from gistcad.errors import ValidationError
from gistcad.imaging import write_canonical
from gistcad.imaging.volume import LPS_TO_RAS, Volume
from gistcad.layout import DataLayout
from gistcad.neural.attention_maps import write_attention_map
from gistcad.neural.crop import Crop
from gistcad.viewer.browser import (
    attention_for_browser,
    ct_for_browser,
    mask_for_browser,
    series_for_browser,
    stride_for,
)


def _read(data: bytes) -> nib.Nifti1Image:
    return nib.Nifti1Image.from_bytes(gzip.decompress(data))


def _ct(shape: tuple[int, int, int], spacing: tuple[float, float, float]) -> Volume:
    rng = np.random.default_rng(3)
    array = rng.integers(-1200, 3500, size=shape).astype(np.int16)
    affine = LPS_TO_RAS @ np.diag([*spacing, 1.0])
    affine[:3, 3] = [10.0, -20.0, 30.0]
    return Volume(array, affine)


def test_strides_by_hand() -> None:
    # 512·512·300 = 78.6 M > 16.8 M; stride 2 gives 256·256·150 = 9.8 M
    assert stride_for((512, 512, 300)) == 2
    assert stride_for((256, 256, 256)) == 1
    assert stride_for((257, 256, 256)) == 2
    # 1000 voxels allowed: 20·20·20 = 8000 → stride 2 gives 10·10·10 = 1000
    assert stride_for((20, 20, 20), max_voxels=1000) == 2
    assert stride_for((21, 20, 20), max_voxels=1000) == 3  # 11·10·10 = 1100 is too many
    with pytest.raises(ValidationError, match="max_voxels"):
        stride_for((2, 2, 2), max_voxels=0)


def test_small_ct_keeps_every_voxel_in_hu_and_its_affine() -> None:
    ct = _ct((6, 5, 4), (0.8, 0.8, 2.5))
    sent = ct_for_browser(ct)
    image = _read(sent.nifti_gz)
    data = np.asarray(image.dataobj)
    assert not sent.downsampled and sent.shape == (6, 5, 4) == data.shape
    assert data.dtype == np.int16
    expected = np.clip(np.asarray(ct.array), -1024, 3071)
    np.testing.assert_array_equal(data, expected)
    assert data.min() == -1024 and data.max() == 3071  # the random CT went past both ends
    np.testing.assert_allclose(image.affine, ct.affine)
    assert nib.aff2axcodes(image.affine) == ("L", "P", "S")


def test_large_ct_is_strided_and_stays_in_place() -> None:
    ct = _ct((20, 20, 12), (1.0, 1.0, 2.0))
    sent = ct_for_browser(ct, max_voxels=1000)  # 4800 voxels: stride 2 → 10·10·6 = 600
    image = _read(sent.nifti_gz)
    data = np.asarray(image.dataobj)
    assert sent.stride == 2 and sent.downsampled and data.shape == (10, 10, 6)
    assert sent.source_shape == (20, 20, 12)
    assert data[3, 4, 5] == np.clip(ct.array[6, 8, 10], -1024, 3071)
    # voxel (3, 4, 5) of the copy lies where voxel (6, 8, 10) of the series lies
    np.testing.assert_allclose(image.affine @ [3, 4, 5, 1], ct.affine @ [6, 8, 10, 1])


def test_mask_follows_the_ct_and_a_wrong_grid_is_refused() -> None:
    ct = _ct((20, 20, 12), (1.0, 1.0, 2.0))
    inside = np.zeros((20, 20, 12), np.uint8)
    inside[6, 8, 10] = 3
    sent = mask_for_browser(Volume(inside, ct.affine), ct, max_voxels=1000)
    data = np.asarray(_read(sent.nifti_gz).dataobj)
    assert data.shape == (10, 10, 6) and data.sum() == 1 and data[3, 4, 5] == 1
    with pytest.raises(ValidationError, match="re-import"):
        mask_for_browser(Volume(np.zeros((4, 4, 4), np.uint8), np.eye(4)), ct)


def test_series_read_from_the_data_folder(tmp_path: Path) -> None:
    ct = _ct((8, 8, 4), (1.0, 1.0, 3.0))
    inside = np.zeros((8, 8, 4), np.uint8)
    inside[2:4, 2:4, 1] = 1
    (tmp_path / "volumes").mkdir()
    write_canonical(ct, tmp_path / "volumes" / "ct.nii")
    write_canonical(Volume(inside, ct.affine), tmp_path / "volumes" / "ct.mask1.nii")
    series = series_for_browser(DataLayout(tmp_path), "volumes/ct.nii", "volumes/ct.mask1.nii")
    assert series.attention == {}
    assert series.mask is not None
    assert np.asarray(_read(series.mask.nifti_gz).dataobj).sum() == 4
    with pytest.raises(ValidationError):
        series_for_browser(DataLayout(tmp_path), "volumes/missing.nii")


def test_attention_map_is_placed_on_the_ct_grid_in_0_to_1(tmp_path: Path) -> None:
    ct = _ct((8, 6, 4), (1.0, 1.0, 2.0))
    cam = np.linspace(0.0, 1.5, 8 * 6 * 4, dtype=np.float32).reshape(8, 6, 4)
    # a crop on the CT's own grid: the map lands voxel for voxel
    crop = Crop(np.zeros((2, 8, 6, 4), np.float32), ct.affine, 1.0, np.array([8.0, 6.0, 8.0]))
    write_attention_map(tmp_path / "cam.npz", cam, crop)
    sent = attention_for_browser(tmp_path / "cam.npz", ct)
    data = np.asarray(_read(sent.nifti_gz).dataobj)
    assert data.dtype == np.float32 and data.shape == (8, 6, 4)
    expected = np.clip(cam.astype(np.float16).astype(np.float32), 0, 1)  # stored as float16
    np.testing.assert_allclose(data, expected, atol=1e-3)
    assert data.max() == 1.0 and data.min() == 0.0

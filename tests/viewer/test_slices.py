"""Viewer slices: orientation conventions, windowing, overlays, RECIST and Choi numbers."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from gistcad.errors import ValidationError
from gistcad.imaging.nifti_io import write_canonical
from gistcad.imaging.volume import LPS_TO_RAS, Volume
from gistcad.layout import DataLayout
from gistcad.viewer.slices import (
    PRESETS,
    Plane,
    extract,
    largest_slice,
    measure,
    read_view_volume,
    render,
    slice_count,
    to_lps,
    window,
)


def _lps_volume(array: np.ndarray, spacing: tuple[float, float, float]) -> Volume:
    """A volume stored like a DICOM axial series: i → patient left, j → posterior, k → up."""
    return Volume(array, LPS_TO_RAS @ np.diag([*spacing, 1.0]))


def test_lps_storage_is_shown_radiologically() -> None:
    a = np.zeros((4, 3, 2), np.int16)
    a[0, 0, 1] = 7  # patient's right (i = 0), anterior (j = 0), superior slice (k = 1)
    view = to_lps(_lps_volume(a, (1, 1, 1)))
    axial, aspect = extract(view, Plane.AXIAL, 1)
    assert axial.shape == (3, 4) and axial[0, 0] == 7 and aspect == 1  # top-left
    coronal, _ = extract(view, Plane.CORONAL, 0)
    assert coronal[0, 0] == 7  # superior at the top, patient's right on the left
    sagittal, _ = extract(view, Plane.SAGITTAL, 0)
    assert sagittal[0, 0] == 7  # superior at the top, anterior on the left


def test_ras_storage_gives_the_same_picture() -> None:
    a = np.zeros((4, 3, 2), np.int16)
    a[0, 0, 1] = 7
    lps = to_lps(_lps_volume(a, (1, 1, 1)))
    ras_array = a[::-1, ::-1, :]  # the same patient stored R→L flipped to L→R, A→P to P→A
    ras = to_lps(Volume(ras_array.copy(), np.eye(4)))
    for plane in Plane:
        for k in range(slice_count(lps, plane)):
            assert np.array_equal(extract(lps, plane, k)[0], extract(ras, plane, k)[0])


def test_aspect_and_bounds() -> None:
    view = to_lps(_lps_volume(np.zeros((8, 8, 4), np.int16), (0.8, 0.8, 5.0)))
    assert extract(view, Plane.CORONAL, 3)[1] == pytest.approx(6.25)
    assert render(np.zeros((4, 8), np.uint8), 6.25).shape == (25, 8, 3)
    with pytest.raises(ValidationError, match=r"axial slice 4 is outside 0\.\.3"):
        extract(view, Plane.AXIAL, 4)


def test_window_presets() -> None:
    abdomen = next(p for p in PRESETS if p.name == "abdomen")
    grey = window(np.array([-150, 50, 250, 1000]), abdomen.level, abdomen.width)
    assert grey.tolist() == [0, 127, 255, 255]
    with pytest.raises(ValidationError):
        window(np.zeros(2), 0, 0)


def test_overlay_marks_the_tumour_edge() -> None:
    mask = np.zeros((5, 5), np.uint8)
    mask[1:4, 1:4] = 1
    rgb = render(np.full((5, 5), 100, np.uint8), 1.0, mask=mask, mask_opacity=0.5)
    assert rgb[1, 1].tolist() == [230, 60, 40]  # outline
    assert rgb[2, 2, 0] > 100 and rgb[2, 2, 2] < 100  # filled centre, tinted
    assert rgb[0, 0].tolist() == [100, 100, 100]


def test_measures_of_a_known_block() -> None:
    image = np.full((40, 40, 10), -100, np.int16)
    mask = np.zeros_like(image, np.uint8)
    mask[10:21, 10:31, 3:6] = 1  # 11 x 21 voxels of 0.5 mm on 3 slices of 2 mm
    image[mask > 0] = 60
    volume = _lps_volume(image, (0.5, 0.5, 2.0))
    m = measure(to_lps(volume), to_lps(_lps_volume(mask, (0.5, 0.5, 2.0))))
    assert m.longest_axial_diameter_mm == pytest.approx(np.hypot(10 * 0.5, 20 * 0.5))
    assert m.mean_hu == 60 and m.volume_ml == pytest.approx(11 * 21 * 3 * 0.5 * 0.5 * 2 / 1000)
    assert largest_slice(to_lps(_lps_volume(mask, (0.5, 0.5, 2))), Plane.AXIAL) == 3
    with pytest.raises(ValidationError, match="empty"):
        measure(to_lps(volume), to_lps(_lps_volume(np.zeros_like(mask), (0.5, 0.5, 2))))


def test_a_stored_volume_is_read_from_the_data_folder_as_shown(tmp_path: Path) -> None:
    # stored RAS+ (i -> patient's left to right is reversed), read back in LPS display order
    array = np.arange(24, dtype=np.int16).reshape(2, 3, 4)
    (tmp_path / "volumes").mkdir()
    write_canonical(Volume(array, np.diag([2.0, 1.0, 3.0, 1.0])), tmp_path / "volumes" / "ct.nii")
    view = read_view_volume(DataLayout(tmp_path), "volumes/ct.nii")
    assert view.spacing_mm == (2.0, 1.0, 3.0)
    # RAS -> LPS flips the first two axes and keeps the third
    np.testing.assert_array_equal(view.array, array[::-1, ::-1, :])

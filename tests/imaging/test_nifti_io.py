"""Canonical NIfTI: round trips, determinism, no header text, mask geometry checks."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

from gistcad.errors import ValidationError
from gistcad.imaging.dicom_series import load_series, scan_dicom
from gistcad.imaging.errors import GeometryMismatchError
from gistcad.imaging.nifti_io import (
    CANONICAL_VOX_OFFSET,
    read_mask,
    read_nifti,
    sha256_file,
    write_canonical,
)
from gistcad.imaging.volume import Volume
from tests.imaging.conftest import PHI, BuiltSeries


def test_dicom_to_canonical_round_trip(
    tmp_path: Path, ct_series: Callable[..., BuiltSeries]
) -> None:
    built = ct_series(tmp_path / "dicom")
    volume = load_series(scan_dicom(tmp_path / "dicom").series[0])
    first = write_canonical(volume, tmp_path / "a.nii")
    second = write_canonical(volume, tmp_path / "b.nii")
    assert first == second == sha256_file(tmp_path / "a.nii")
    assert (tmp_path / "a.nii").read_bytes() == (tmp_path / "b.nii").read_bytes()
    back = read_nifti(tmp_path / "a.nii")
    assert back.equals(volume, atol=1e-6)
    np.testing.assert_array_equal(back.array, built.hu)
    np.testing.assert_allclose(back.affine, built.affine, atol=1e-5)
    assert isinstance(back.array, np.memmap) or isinstance(back.array.base, np.memmap)


def test_canonical_file_is_plain_nifti_without_text(
    tmp_path: Path, ct_series: Callable[..., BuiltSeries]
) -> None:
    ct_series(tmp_path / "dicom")
    volume = load_series(scan_dicom(tmp_path / "dicom").series[0])
    write_canonical(volume, tmp_path / "ct.nii")
    image = nib.load(tmp_path / "ct.nii")
    header = image.header
    data = (tmp_path / "ct.nii").read_bytes()
    raw = nib.Nifti1Header(data[:348])  # nibabel's loaded header forgets the file's offset
    assert int(raw["vox_offset"]) == CANONICAL_VOX_OFFSET
    assert len(data) == CANONICAL_VOX_OFFSET + volume.array.nbytes
    assert header["descrip"].item() == b"" and header["aux_file"].item() == b""
    assert int(header["sform_code"]) == int(header["qform_code"]) == 1
    np.testing.assert_allclose(image.affine, volume.affine, atol=1e-5)
    np.testing.assert_allclose(header.get_qform(), volume.affine, atol=1e-4)
    for value in PHI.values():
        assert value.encode() not in data


def test_canonical_must_be_uncompressed(tmp_path: Path) -> None:
    volume = Volume(np.zeros((2, 3, 4), dtype=np.int16), np.eye(4))
    with pytest.raises(ValidationError, match=r"uncompressed '\.nii'"):
        write_canonical(volume, tmp_path / "x.nii.gz")


def test_read_gzipped_nifti_as_worc_ships_it(tmp_path: Path) -> None:
    affine = np.diag([0.7, 0.7, 5.0, 1.0])
    data = np.arange(24, dtype=np.int16).reshape(2, 3, 4)
    nib.save(nib.Nifti1Image(data, affine), tmp_path / "image.nii.gz")
    volume = read_nifti(tmp_path / "image.nii.gz")
    np.testing.assert_array_equal(volume.array, data)
    np.testing.assert_allclose(volume.affine, affine)


def test_mask_geometry_mismatch_is_refused_with_both_geometries(tmp_path: Path) -> None:
    affine = np.diag([0.7, 0.7, 5.0, 1.0])
    image = Volume(np.zeros((4, 4, 3), dtype=np.int16), affine)
    nib.save(nib.Nifti1Image(np.ones((4, 4, 2), dtype=np.uint8), affine), tmp_path / "seg.nii.gz")
    with pytest.raises(GeometryMismatchError) as caught:
        read_mask(tmp_path / "seg.nii.gz", image)
    message = str(caught.value)
    assert "seg.nii.gz" in message
    assert "image has shape 4×4×3" in message and "mask has shape 4×4×2" in message


def test_mask_labels_read_as_uint8(tmp_path: Path) -> None:
    affine = np.diag([0.7, 0.7, 5.0, 1.0])
    image = Volume(np.zeros((4, 4, 3), dtype=np.int16), affine)
    labels = np.zeros((4, 4, 3), dtype=np.float32)
    labels[1:3, 1:3, 1] = 1.0
    nib.save(nib.Nifti1Image(labels, affine), tmp_path / "seg.nii.gz")
    mask = read_mask(tmp_path / "seg.nii.gz", image)
    assert mask.array.dtype == np.uint8 and int(mask.array.sum()) == 4
    nib.save(nib.Nifti1Image(labels * 0.5, affine), tmp_path / "prob.nii.gz")
    with pytest.raises(ValidationError, match="whole labels"):
        read_mask(tmp_path / "prob.nii.gz", image)

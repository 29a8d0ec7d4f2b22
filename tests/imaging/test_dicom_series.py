"""Scanning and loading DICOM series: the awkward cases real exports contain."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom.data import get_testdata_file
from pydicom.uid import JPEG2000Lossless, JPEGLSLossless, RLELossless, generate_uid

from gistcad.imaging.dicom_series import DicomScan, load_series, scan_dicom
from tests.imaging.conftest import BuiltSeries

Builder = Callable[..., BuiltSeries]


def _only_series(scan: DicomScan) -> object:
    assert not scan.problems, [str(p) for p in scan.problems]
    assert len(scan.series) == 1, [str(p) for p in scan.skipped]
    return scan.series[0]


def test_shuffled_files_sorted_by_position_not_instance_number(
    tmp_path: Path, ct_series: Builder
) -> None:
    built = ct_series(tmp_path / "ct")
    # InstanceNumber decreases with position; hashed names are in no particular order.
    instances = [
        int(pydicom.dcmread(p, stop_before_pixels=True).InstanceNumber) for p in built.paths
    ]
    assert instances == sorted(instances, reverse=True)
    series = _only_series(scan_dicom(tmp_path))
    assert [s.path for s in series.slices] == built.paths
    volume = load_series(series)
    assert volume.shape == (8, 8, 6)
    assert volume.array.dtype == np.int16  # slope 1, integer intercept, values fit
    np.testing.assert_array_equal(volume.array, built.hu)
    np.testing.assert_allclose(volume.affine, built.affine, atol=1e-6)


def test_affine_by_hand_for_an_identity_orientation(tmp_path: Path, ct_series: Builder) -> None:
    ct_series(tmp_path, pixel_spacing=(0.8, 0.7), step=2.5, origin=(-10.0, -20.0, 30.0))
    series = _only_series(scan_dicom(tmp_path))
    # LPS → RAS flips x and y: i runs to the patient's left, j posterior, k superior.
    expected = np.array([[-0.7, 0, 0, 10.0], [0, -0.8, 0, 20.0], [0, 0, 2.5, 30.0], [0, 0, 0, 1]])
    np.testing.assert_allclose(series.affine, expected, atol=1e-9)
    np.testing.assert_allclose(series.spacing_mm, [0.7, 0.8, 2.5])


def test_two_series_and_a_localizer_in_one_folder(tmp_path: Path, ct_series: Builder) -> None:
    a = ct_series(tmp_path, seed=1)
    b = ct_series(tmp_path, seed=2, description="ABD ARTERIAL")
    ct_series(tmp_path, seed=3, image_type=("ORIGINAL", "PRIMARY", "LOCALIZER"), slices=1)
    scan = scan_dicom(tmp_path)
    assert not scan.problems
    assert {s.series_instance_uid for s in scan.series} == {a.series_uid, b.series_uid}
    assert any("localizer" in p.message for p in scan.skipped)


def test_lone_slice_with_another_orientation_is_a_localizer(
    tmp_path: Path, ct_series: Builder
) -> None:
    built = ct_series(tmp_path)
    scout = pydicom.dcmread(built.paths[0])
    scout.ImageOrientationPatient = [0, 1, 0, 0, 0, -1]  # sagittal, same series, no LOCALIZER
    scout.SOPInstanceUID = scout.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    scout.save_as(tmp_path / "scout.dcm")
    scan = scan_dicom(tmp_path)
    assert len(scan.series) == 1 and len(scan.series[0].slices) == 6
    assert any("localizer" in p.message and p.source.endswith("scout.dcm") for p in scan.skipped)


def test_missing_slice_is_refused(tmp_path: Path, ct_series: Builder) -> None:
    built = ct_series(tmp_path)
    built.paths[3].unlink()
    scan = scan_dicom(tmp_path)
    assert not scan.series
    (problem,) = scan.problems
    assert "1 slice(s) missing" in problem.message
    assert problem.tag == "ImagePositionPatient (0020,0032)"


def test_non_uniform_spacing_is_refused(tmp_path: Path, ct_series: Builder) -> None:
    z = [0.0, 2.5, 5.0, 7.5, 10.0, 13.0]
    ct_series(tmp_path, positions=[(0.0, 0.0, v) for v in z])
    (problem,) = scan_dicom(tmp_path).problems
    assert "not uniform" in problem.message and "2.500 to 3.000 mm" in problem.message


def test_duplicated_position_is_refused(tmp_path: Path, ct_series: Builder) -> None:
    z = [0.0, 2.5, 5.0, 5.0, 7.5, 10.0]
    ct_series(tmp_path, positions=[(0.0, 0.0, v) for v in z])
    (problem,) = scan_dicom(tmp_path).problems
    assert "same position" in problem.message


def test_gantry_tilt_is_refused(tmp_path: Path, ct_series: Builder) -> None:
    ct_series(tmp_path, tilt_deg=15.0)
    scan = scan_dicom(tmp_path)
    assert not scan.series
    (problem,) = scan.problems
    assert "gantry tilt" in problem.message and "15.00°" in problem.message


def test_junk_and_truncated_files_beside_a_good_series(tmp_path: Path, ct_series: Builder) -> None:
    built = ct_series(tmp_path / "good")
    other = ct_series(tmp_path / "other", seed=9)
    (tmp_path / "notes.txt").write_text("not an image")
    (tmp_path / "empty.dcm").write_bytes(b"")
    (tmp_path / "cut.dcm").write_bytes(other.paths[0].read_bytes()[:200])
    shutil.rmtree(tmp_path / "other")
    scan = scan_dicom(tmp_path)
    assert [s.series_instance_uid for s in scan.series] == [built.series_uid]
    skipped = {Path(p.source).name: p.message for p in scan.skipped}
    assert set(skipped) == {"notes.txt", "empty.dcm", "cut.dcm"}
    assert "not a DICOM file" in skipped["notes.txt"]
    np.testing.assert_array_equal(load_series(scan.series[0]).array, built.hu)


def test_slice_with_truncated_pixel_data_refuses_the_series(
    tmp_path: Path, ct_series: Builder
) -> None:
    built = ct_series(tmp_path)
    data = built.paths[2].read_bytes()
    built.paths[2].write_bytes(data[:-40])
    (problem,) = scan_dicom(tmp_path).problems
    assert problem.source == str(built.paths[2])
    assert problem.tag == "PixelData (7FE0,0010)" and "truncated" in problem.message


def test_rescale_slope_with_unsigned_storage_gives_float32(
    tmp_path: Path, ct_series: Builder
) -> None:
    built = ct_series(tmp_path, slope=0.5, intercept=-1000.0, signed=False)
    volume = load_series(_only_series(scan_dicom(tmp_path)))
    assert volume.array.dtype == np.float32
    np.testing.assert_allclose(volume.array, built.hu)
    assert volume.array.min() >= -1000.0


def test_signed_storage_without_intercept_stays_int16(tmp_path: Path, ct_series: Builder) -> None:
    built = ct_series(tmp_path, signed=True, intercept=0.0)
    volume = load_series(_only_series(scan_dicom(tmp_path)))
    assert volume.array.dtype == np.int16
    np.testing.assert_array_equal(volume.array, built.hu)


@pytest.mark.parametrize("syntax", [RLELossless, JPEG2000Lossless, JPEGLSLossless])
def test_compressed_series_decode_to_the_same_values(
    tmp_path: Path, ct_series: Builder, syntax: str
) -> None:
    # 32×32: OpenJPEG's default of 6 resolution levels needs tiles of at least 32 pixels.
    built = ct_series(tmp_path, transfer_syntax=syntax, columns=32, rows=32)
    assert pydicom.dcmread(built.paths[0]).file_meta.TransferSyntaxUID == syntax
    series = _only_series(scan_dicom(tmp_path))
    assert all(s.value_offset is None for s in series.slices)  # decoded by pydicom
    np.testing.assert_array_equal(load_series(series).array, built.hu)


def test_no_image_position_is_refused_naming_the_tag(tmp_path: Path, ct_series: Builder) -> None:
    built = ct_series(tmp_path)
    for path in built.paths:
        ds = pydicom.dcmread(path)
        del ds.ImagePositionPatient
        ds.save_as(path)
    (problem,) = scan_dicom(tmp_path).problems
    assert problem.tag == "ImagePositionPatient (0020,0032)"
    assert "6 of 6 slices" in problem.message


def test_mr_series_is_skipped_with_reason(tmp_path: Path, ct_series: Builder) -> None:
    ct_series(tmp_path, modality="MR")
    scan = scan_dicom(tmp_path)
    assert not scan.series and not scan.problems
    assert len(scan.skipped) == 6
    assert all("modality MR is not CT" in p.message for p in scan.skipped)


def test_header_claiming_a_gigantic_image_is_refused_before_allocating(
    tmp_path: Path, ct_series: Builder
) -> None:
    built = ct_series(tmp_path)
    for path in built.paths:
        ds = pydicom.dcmread(path)
        ds.Rows = ds.Columns = 65535
        ds.save_as(path)
    scan = scan_dicom(tmp_path)
    assert not scan.series and len(scan.problems) == 6
    assert all(p.tag == "PixelData (7FE0,0010)" for p in scan.problems)
    assert "8,589,672,450 bytes" in scan.problems[0].message


def test_volume_over_the_size_cap_is_refused(tmp_path: Path, ct_series: Builder) -> None:
    ct_series(tmp_path)
    (problem,) = scan_dicom(tmp_path, max_volume_bytes=1000).problems
    assert "over the cap" in problem.message


def test_pydicom_ct_small_as_a_series(tmp_path: Path) -> None:
    """CT_small.dcm (shipped inside pydicom) copied to five positions."""
    source = pydicom.dcmread(get_testdata_file("CT_small.dcm", download=False))
    expected = source.pixel_array * float(source.RescaleSlope) + float(source.RescaleIntercept)
    z0 = float(source.ImagePositionPatient[2])
    for k in range(5):
        ds = pydicom.dcmread(get_testdata_file("CT_small.dcm", download=False))
        ds.ImagePositionPatient = [*ds.ImagePositionPatient[:2], z0 + 5.0 * k]
        ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
        ds.save_as(tmp_path / f"{4 - k}.dcm")
    volume = load_series(_only_series(scan_dicom(tmp_path)))
    assert volume.shape == (128, 128, 5)
    for k in range(5):
        np.testing.assert_array_equal(volume.array[:, :, k], expected.T)
    np.testing.assert_allclose(volume.spacing_mm[2], 5.0)


def test_pydicom_data_jpeg2000_ct_matches_its_uncompressed_twin(tmp_path: Path) -> None:
    """693_J2KR.dcm / 693_UNCR.dcm from pydicom-data (installed offline, never downloaded)."""
    for name in ("693_J2KR.dcm", "693_UNCR.dcm"):
        folder = tmp_path / name
        folder.mkdir()
        for k in range(3):
            ds = pydicom.dcmread(get_testdata_file(name, download=False))
            ds.ImagePositionPatient = [0.0, 0.0, 2.0 * k]
            ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
            ds.save_as(folder / f"{k}.dcm")
    j2k = load_series(_only_series(scan_dicom(tmp_path / "693_J2KR.dcm")))
    raw = load_series(_only_series(scan_dicom(tmp_path / "693_UNCR.dcm")))
    assert j2k.shape == (512, 512, 3)
    np.testing.assert_array_equal(j2k.array, raw.array)


def test_pydicom_data_enhanced_multiframe_ct() -> None:
    """eCT_Supplemental.dcm: one file, 2 frames, per-frame PlanePositionSequence."""
    path = get_testdata_file("eCT_Supplemental.dcm", download=False)
    series = _only_series(scan_dicom([path]))
    volume = load_series(series)
    ds = pydicom.dcmread(path)
    stored = ds.pixel_array.astype(np.int32) - 1024  # shared RescaleIntercept −1024
    # Frame 1 lies at z −159, frame 2 at z −149; the normal of [-1,0,0, 0,1,0] points to −z,
    # so along the normal frame 2 comes first.
    assert [s.frame for s in series.slices] == [1, 0]
    np.testing.assert_array_equal(volume.array, stored[[1, 0]].transpose(2, 1, 0))
    np.testing.assert_allclose(volume.spacing_mm, [0.388672, 0.388672, 10.0])
    np.testing.assert_allclose(volume.affine[:3, 2], [0.0, 0.0, -10.0])


def test_a_series_whose_files_name_two_patients_is_refused(
    tmp_path: Path, ct_series: Builder
) -> None:
    built = ct_series(tmp_path, slices=5)
    for path in built.paths[3:]:
        ds = pydicom.dcmread(path)
        ds.PatientID = "PID-OTHER"
        ds.save_as(path)
    scan = scan_dicom(tmp_path)
    assert not scan.series
    (problem,) = scan.problems
    assert problem.tag == "PatientID (0010,0020)"
    assert problem.source in {str(p) for p in built.paths[:3]}
    assert "3 file(s) like this one; 2 like" in problem.message
    assert "PID-OTHER" not in str(problem) and "PID-98765" not in str(problem)

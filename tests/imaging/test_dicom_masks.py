"""SEG (written with highdicom) and RTSTRUCT (built with pydicom) read onto the image grid."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pydicom
import pytest

from gistcad.domain import SegmentationSource
from gistcad.imaging.dicom_masks import read_masks
from gistcad.imaging.dicom_series import MaskKind, scan_dicom
from tests.imaging.conftest import BuiltSeries, circle, disk_mask, write_rtstruct, write_seg

Builder = Callable[..., BuiltSeries]


def test_seg_written_with_highdicom_reads_back_onto_the_grid(
    tmp_path: Path, ct_series: Builder
) -> None:
    built = ct_series(tmp_path / "ct", columns=16, rows=12)
    mask = disk_mask(6, 12, 16, radius=4)
    write_seg(built, mask, tmp_path / "seg.dcm")
    scan = scan_dicom(tmp_path)
    (found,) = scan.masks
    assert found.kind is MaskKind.SEG and found.referenced_series_uids == (built.series_uid,)
    reading = read_masks(scan)
    assert not reading.problems
    (label,) = reading.masks
    assert (label.name, label.number, label.series_instance_uid) == ("tumour", 1, built.series_uid)
    assert label.volume.array.dtype == np.uint8
    assert label.volume.shape == scan.series[0].shape
    np.testing.assert_allclose(label.volume.affine, scan.series[0].affine)
    np.testing.assert_array_equal(label.volume.array, mask.transpose(2, 1, 0))


def test_seg_without_its_series_is_refused(tmp_path: Path, ct_series: Builder) -> None:
    built = ct_series(tmp_path / "ct")
    write_seg(built, disk_mask(6, 8, 8, 2), tmp_path / "seg.dcm")
    for path in built.paths:
        path.unlink()
    reading = read_masks(scan_dicom(tmp_path))
    (problem,) = reading.problems
    assert problem.source.endswith("seg.dcm") and "not among the CT series read" in problem.message


def _dice(a: np.ndarray, b: np.ndarray) -> float:
    return 2.0 * np.logical_and(a, b).sum() / (a.sum() + b.sum())


def test_rtstruct_contours_rasterised_with_dice_over_0_9(
    tmp_path: Path, ct_series: Builder
) -> None:
    built = ct_series(tmp_path / "ct", columns=40, rows=32)
    radius, centre = 9.0, (19.5, 13.5)
    source = disk_mask(6, 32, 40, radius)  # centred at (19.5, 13.5) in (i, j)
    contours = {k: [circle(centre, radius)] for k in range(1, 5)}
    write_rtstruct(built, contours, tmp_path / "rs.dcm")
    scan = scan_dicom(tmp_path)
    (found,) = scan.masks
    assert found.kind is MaskKind.RTSTRUCT and built.series_uid in found.referenced_series_uids
    reading = read_masks(scan)
    assert not reading.problems
    (label,) = reading.masks
    assert (label.name, label.number) == ("GIST", 7)
    result = np.asarray(label.volume.array).transpose(2, 1, 0).astype(bool)
    assert _dice(result, source) > 0.9
    assert not result[0].any() and not result[5].any()


def test_rtstruct_inner_contour_is_a_hole(tmp_path: Path, ct_series: Builder) -> None:
    built = ct_series(tmp_path / "ct", columns=40, rows=32)
    contours = {2: [circle((19.5, 15.5), 10.0), circle((19.5, 15.5), 4.0)]}
    write_rtstruct(built, contours, tmp_path / "rs.dcm")
    (label,) = read_masks(scan_dicom(tmp_path)).masks
    plane = np.asarray(label.volume.array[:, :, 2])
    assert plane[19, 15] == 0 and plane[19, 8] == 1


def test_rtstruct_off_the_slices_is_refused(tmp_path: Path, ct_series: Builder) -> None:
    built = ct_series(tmp_path / "ct", columns=40, rows=32)
    write_rtstruct(built, {2: [circle((19.5, 15.5), 5.0)]}, tmp_path / "rs.dcm", z_shift=1.0)
    reading = read_masks(scan_dicom(tmp_path))
    assert not reading.masks
    (problem,) = reading.problems
    assert problem.tag == "ContourData (3006,0050)" and "not on a slice" in problem.message


def test_rtstruct_without_its_series_is_refused(tmp_path: Path, ct_series: Builder) -> None:
    built = ct_series(tmp_path / "ct")
    write_rtstruct(built, {2: [circle((3.5, 3.5), 2.0)]}, tmp_path / "rs.dcm")
    other = ct_series(tmp_path / "other", seed=5)
    assert other.series_uid != built.series_uid
    for path in built.paths:
        path.unlink()
    (problem,) = read_masks(scan_dicom(tmp_path)).problems
    assert "RTSTRUCT refers to" in problem.message and built.series_uid in problem.message


def test_names_holding_identifying_text_are_replaced(tmp_path: Path, ct_series: Builder) -> None:
    """The ROI name holds the patient's name, the segment label the operator's (of the CT)."""
    built = ct_series(tmp_path / "ct", columns=16, rows=12, phi={"PatientName": "Jansen^Piet"})
    write_rtstruct(built, {2: [circle((7.5, 5.5), 3.0)]}, tmp_path / "rs.dcm", roi_name="Jansen")
    write_seg(built, disk_mask(6, 12, 16, radius=3), tmp_path / "seg.dcm", label="OLGA tumour")
    reading = read_masks(scan_dicom(tmp_path))
    assert not reading.problems
    assert sorted((m.name, m.scrubbed) for m in reading.masks) == [
        ("ROI 7", True),
        ("segment 1", True),
    ]
    assert len(reading.notes) == 2 and "Jansen" not in " ".join(reading.notes)


def test_contour_data_not_in_triples_is_refused(tmp_path: Path, ct_series: Builder) -> None:
    built = ct_series(tmp_path / "ct", columns=16, rows=12)
    path = tmp_path / "rs.dcm"
    write_rtstruct(built, {2: [circle((7.5, 5.5), 3.0)]}, path)
    ds = pydicom.dcmread(path)
    contour = ds.ROIContourSequence[0].ContourSequence[0]
    contour.ContourData = list(contour.ContourData)[:-2]
    ds.save_as(path)
    reading = read_masks(scan_dicom(tmp_path))
    assert not reading.masks
    (problem,) = reading.problems
    assert (problem.source, problem.tag) == (str(path), "ContourData (3006,0050)")
    assert "holds 286 numbers, not a multiple of 3" in problem.message


@pytest.mark.parametrize(
    ("algorithm", "made_by"),
    [
        ("MANUAL", SegmentationSource.MANUAL),
        ("SEMIAUTOMATIC", SegmentationSource.IMPORTED_SEMI_AUTOMATIC),
        ("AUTOMATIC", SegmentationSource.IMPORTED_AUTOMATIC),
    ],
)
def test_a_seg_says_who_made_each_segment(
    tmp_path: Path, ct_series: Builder, algorithm: str, made_by: SegmentationSource
) -> None:
    built = ct_series(tmp_path / "ct", columns=16, rows=12)
    write_seg(built, disk_mask(6, 12, 16, radius=4), tmp_path / "seg.dcm", algorithm=algorithm)
    assert pydicom.dcmread(tmp_path / "seg.dcm").SegmentSequence[0].SegmentAlgorithmType == (
        algorithm
    )
    (mask,) = read_masks(scan_dicom(tmp_path)).masks
    assert mask.made_by is made_by


@pytest.mark.parametrize(
    ("generation", "made_by"),
    [
        (None, SegmentationSource.MANUAL),  # absent: as RTSTRUCTs were always read
        ("", SegmentationSource.MANUAL),  # type 2: present but empty
        ("MANUAL", SegmentationSource.MANUAL),
        ("SEMIAUTOMATIC", SegmentationSource.IMPORTED_SEMI_AUTOMATIC),
        ("AUTOMATIC", SegmentationSource.IMPORTED_AUTOMATIC),
    ],
)
def test_an_rtstruct_says_who_made_each_roi(
    tmp_path: Path, ct_series: Builder, generation: str | None, made_by: SegmentationSource
) -> None:
    built = ct_series(tmp_path / "ct", columns=16, rows=12)
    write_rtstruct(
        built, {2: [circle((7.5, 5.5), 3.0)]}, tmp_path / "rs.dcm", generation=generation
    )
    (mask,) = read_masks(scan_dicom(tmp_path)).masks
    assert mask.made_by is made_by

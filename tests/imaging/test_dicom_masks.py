"""SEG (written with highdicom) and RTSTRUCT (built with pydicom) read onto the image grid."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import highdicom as hd
import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence as DicomSequence
from pydicom.uid import ExplicitVRLittleEndian, RTStructureSetStorage, generate_uid

from gistcad.imaging.dicom_masks import read_masks
from gistcad.imaging.dicom_series import MaskKind, scan_dicom
from tests.imaging.conftest import BuiltSeries

Builder = Callable[..., BuiltSeries]


def _disk_mask(slices: int, rows: int, columns: int, radius: float) -> np.ndarray:
    """(k, row, column) bool: a disk of ``radius`` pixels on slices 1 … slices−2."""
    jj, ii = np.mgrid[:rows, :columns]
    disk = (ii - (columns - 1) / 2) ** 2 + (jj - (rows - 1) / 2 + 2) ** 2 <= radius**2
    mask = np.zeros((slices, rows, columns), dtype=bool)
    mask[1:-1] = disk
    return mask


def _write_seg(built: BuiltSeries, mask: np.ndarray, path: Path) -> None:
    description = hd.seg.SegmentDescription(
        segment_number=1,
        segment_label="tumour",
        segmented_property_category=hd.sr.CodedConcept(
            "49755003", "SCT", "Morphologically Altered Structure"
        ),
        segmented_property_type=hd.sr.CodedConcept("108369006", "SCT", "Neoplasm"),
        algorithm_type=hd.seg.SegmentAlgorithmTypeValues.MANUAL,
    )
    seg = hd.seg.Segmentation(
        source_images=built.datasets,
        pixel_array=mask.astype(np.uint8),
        segmentation_type=hd.seg.SegmentationTypeValues.BINARY,
        segment_descriptions=[description],
        series_instance_uid=generate_uid(),
        series_number=100,
        sop_instance_uid=generate_uid(),
        instance_number=1,
        manufacturer="gistcad tests",
        manufacturer_model_name="tests",
        software_versions="1",
        device_serial_number="1",
    )
    seg.save_as(path)


def test_seg_written_with_highdicom_reads_back_onto_the_grid(
    tmp_path: Path, ct_series: Builder
) -> None:
    built = ct_series(tmp_path / "ct", columns=16, rows=12)
    mask = _disk_mask(6, 12, 16, radius=4)
    _write_seg(built, mask, tmp_path / "seg.dcm")
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
    _write_seg(built, _disk_mask(6, 8, 8, 2), tmp_path / "seg.dcm")
    for path in built.paths:
        path.unlink()
    reading = read_masks(scan_dicom(tmp_path))
    (problem,) = reading.problems
    assert problem.source.endswith("seg.dcm") and "not among the CT series read" in problem.message


def _circle(centre_ij: Sequence[float], radius: float, n: int = 96) -> np.ndarray:
    angles = np.linspace(0, 2 * np.pi, n, endpoint=False)
    return np.column_stack(
        [centre_ij[0] + radius * np.cos(angles), centre_ij[1] + radius * np.sin(angles)]
    )


def _write_rtstruct(
    built: BuiltSeries, contours: dict[int, list[np.ndarray]], path: Path, *, z_shift: float = 0.0
) -> None:
    """contours: slice k → polygons in (i, j) pixel indices; stored as LPS world mm."""
    lps_affine = np.diag([-1.0, -1.0, 1.0, 1.0]) @ built.affine
    ds = Dataset()
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = RTStructureSetStorage
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta = meta
    ds.SOPClassUID, ds.SOPInstanceUID = RTStructureSetStorage, meta.MediaStorageSOPInstanceUID
    ds.Modality = "RTSTRUCT"
    ds.StudyInstanceUID, ds.SeriesInstanceUID = built.study_uid, generate_uid()
    ds.PatientID = "PID-98765"
    contour_images = [built.datasets[k] for k in sorted(contours)]
    series_ref = Dataset()
    series_ref.SeriesInstanceUID = built.series_uid
    series_ref.ContourImageSequence = DicomSequence([_image_ref(d) for d in contour_images])
    study_ref = Dataset()
    study_ref.ReferencedSOPInstanceUID = built.study_uid
    study_ref.RTReferencedSeriesSequence = DicomSequence([series_ref])
    for_ref = Dataset()
    for_ref.FrameOfReferenceUID = built.frame_of_reference_uid
    for_ref.RTReferencedStudySequence = DicomSequence([study_ref])
    ds.ReferencedFrameOfReferenceSequence = DicomSequence([for_ref])
    roi = Dataset()
    roi.ROINumber, roi.ROIName = 7, "GIST"
    roi.ReferencedFrameOfReferenceUID = built.frame_of_reference_uid
    ds.StructureSetROISequence = DicomSequence([roi])
    items = []
    for k, polygons in sorted(contours.items()):
        for polygon in polygons:
            ijk = np.column_stack([polygon, np.full(len(polygon), float(k)), np.ones(len(polygon))])
            world = (ijk @ lps_affine.T)[:, :3] + [0.0, 0.0, z_shift]
            item = Dataset()
            item.ContourGeometricType = "CLOSED_PLANAR"
            item.NumberOfContourPoints = len(polygon)
            item.ContourData = [f"{v:.4f}" for v in world.ravel()]
            item.ContourImageSequence = DicomSequence([_image_ref(built.datasets[k])])
            items.append(item)
    roi_contour = Dataset()
    roi_contour.ReferencedROINumber = 7
    roi_contour.ContourSequence = DicomSequence(items)
    ds.ROIContourSequence = DicomSequence([roi_contour])
    ds.save_as(path, enforce_file_format=True)


def _image_ref(image: Dataset) -> Dataset:
    ref = Dataset()
    ref.ReferencedSOPClassUID = image.SOPClassUID
    ref.ReferencedSOPInstanceUID = image.SOPInstanceUID
    return ref


def _dice(a: np.ndarray, b: np.ndarray) -> float:
    return 2.0 * np.logical_and(a, b).sum() / (a.sum() + b.sum())


def test_rtstruct_contours_rasterised_with_dice_over_0_9(
    tmp_path: Path, ct_series: Builder
) -> None:
    built = ct_series(tmp_path / "ct", columns=40, rows=32)
    radius, centre = 9.0, (19.5, 13.5)
    source = _disk_mask(6, 32, 40, radius)  # centred at (19.5, 13.5) in (i, j)
    contours = {k: [_circle(centre, radius)] for k in range(1, 5)}
    _write_rtstruct(built, contours, tmp_path / "rs.dcm")
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
    contours = {2: [_circle((19.5, 15.5), 10.0), _circle((19.5, 15.5), 4.0)]}
    _write_rtstruct(built, contours, tmp_path / "rs.dcm")
    (label,) = read_masks(scan_dicom(tmp_path)).masks
    plane = np.asarray(label.volume.array[:, :, 2])
    assert plane[19, 15] == 0 and plane[19, 8] == 1


def test_rtstruct_off_the_slices_is_refused(tmp_path: Path, ct_series: Builder) -> None:
    built = ct_series(tmp_path / "ct", columns=40, rows=32)
    _write_rtstruct(built, {2: [_circle((19.5, 15.5), 5.0)]}, tmp_path / "rs.dcm", z_shift=1.0)
    reading = read_masks(scan_dicom(tmp_path))
    assert not reading.masks
    (problem,) = reading.problems
    assert problem.tag == "ContourData (3006,0050)" and "not on a slice" in problem.message


def test_rtstruct_without_its_series_is_refused(tmp_path: Path, ct_series: Builder) -> None:
    built = ct_series(tmp_path / "ct")
    _write_rtstruct(built, {2: [_circle((3.5, 3.5), 2.0)]}, tmp_path / "rs.dcm")
    other = ct_series(tmp_path / "other", seed=5)
    assert other.series_uid != built.series_uid
    for path in built.paths:
        path.unlink()
    (problem,) = read_masks(scan_dicom(tmp_path)).problems
    assert "RTSTRUCT refers to" in problem.message and built.series_uid in problem.message

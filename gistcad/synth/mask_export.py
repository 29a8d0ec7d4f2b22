"""Writing the tumour mask of a rendered CT as a center sends it: SEG, RTSTRUCT or NIfTI.

The DICOM objects reference the CT series that :func:`~gistcad.synth.ct_export.write_ct_series`
wrote. Every writer is deterministic: the same inputs give byte-identical files. No clock is
read: dates and times come from the caller's study date, UIDs are passed in or derived with
:func:`~gistcad.synth.ct_export.derive_uid`.
"""

from __future__ import annotations

import gzip
from collections.abc import Sequence
from datetime import date
from pathlib import Path

import numpy as np
import pydicom
from pydicom.dataset import Dataset

from gistcad.errors import ValidationError
from gistcad.synth.ct_export import STUDY_TIME, derive_uid, file_meta, format_ds
from gistcad.synth.phantom import RenderedCT

SOFTWARE_VERSION = "gistcad-synth 1"


def read_sources(sources: Sequence[Dataset | Path]) -> list[Dataset]:
    """CT datasets (headers only for paths) sorted by position along the slice normal."""
    datasets = [
        s if isinstance(s, Dataset) else pydicom.dcmread(s, stop_before_pixels=True)
        for s in sources
    ]
    if not datasets:
        raise ValidationError("no CT source images given: pass the paths write_ct_series made")

    def along_normal(ds: Dataset) -> float:
        row, col = (
            np.asarray(ds.ImageOrientationPatient[:3]),
            np.asarray(ds.ImageOrientationPatient[3:]),
        )
        return float(np.dot(np.cross(row, col), np.asarray(ds.ImagePositionPatient, float)))

    return sorted(datasets, key=along_normal)


def write_nifti_mask(mask: np.ndarray, ct: RenderedCT, out_path: Path) -> Path:
    """Write ``mask`` (slices, rows, cols) as a gzipped NIfTI-1 uint8 image.

    The data array is (i = column, j = row, k = slice); the affine is the CT's LPS affine
    with x and y negated (RAS+ = diag(−1, −1, 1) · LPS), as nibabel and ITK expect; qform
    and sform codes are 1 (scanner). The gzip stream has mtime 0 and no file name, so two
    writes are byte-identical (``nibabel.save`` would stamp the current time).
    """
    import nibabel as nib

    if mask.shape != ct.hu.shape:
        raise ValidationError(f"{out_path}: mask shape {mask.shape} != CT shape {ct.hu.shape}")
    affine = np.diag([-1.0, -1.0, 1.0, 1.0]) @ ct.affine_lps
    image = nib.Nifti1Image(np.ascontiguousarray(mask.transpose(2, 1, 0), dtype=np.uint8), affine)
    image.header.set_xyzt_units("mm")
    image.set_qform(affine, code=1)
    image.set_sform(affine, code=1)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    out_path.write_bytes(gzip.compress(image.to_bytes(), compresslevel=1, mtime=0))
    return out_path


def write_seg(
    mask: np.ndarray,
    sources: Sequence[Dataset | Path],
    out_path: Path,
    *,
    series_uid: str,
    sop_uid: str,
    study_date: date,
    series_number: int = 300,
    manufacturer: str = "gistcad",
    omit_empty_frames: bool = True,
    label: str = "GIST tumour",
) -> Path:
    """Write ``mask`` as a BINARY DICOM SEG (highdicom) with one segment "GIST tumour".

    ``mask`` is (slices, rows, cols) in the order of the sources sorted along the slice
    normal (the order of :class:`RenderedCT`). Frames are written only for slices holding
    tumour (``omit_empty_frames``). Category/type are SNOMED CT 49755003 "Morphologically
    abnormal structure" / 108369006 "Neoplasm". Clock-derived attributes that highdicom
    sets (InstanceCreation/Content date and time, DimensionOrganizationUID) are replaced
    by ``study_date`` and a UID derived from ``sop_uid``, so writes are byte-identical.
    """
    import highdicom as hd
    from pydicom.sr.codedict import codes

    datasets = read_sources(sources)
    if mask.shape != (len(datasets), datasets[0].Rows, datasets[0].Columns):
        raise ValidationError(
            f"{out_path}: mask shape {mask.shape} does not match {len(datasets)} source "
            f"slices of {datasets[0].Rows}×{datasets[0].Columns}"
        )
    description = hd.seg.SegmentDescription(
        segment_number=1,
        segment_label=label,
        segmented_property_category=codes.SCT.MorphologicallyAbnormalStructure,
        segmented_property_type=codes.SCT.Neoplasm,
        algorithm_type=hd.seg.SegmentAlgorithmTypeValues.MANUAL,
    )
    seg = hd.seg.Segmentation(
        source_images=datasets,
        pixel_array=mask.astype(bool),
        segmentation_type=hd.seg.SegmentationTypeValues.BINARY,
        segment_descriptions=[description],
        series_instance_uid=series_uid,
        series_number=series_number,
        sop_instance_uid=sop_uid,
        instance_number=1,
        manufacturer=manufacturer,
        manufacturer_model_name="synthetic phantom",
        software_versions=SOFTWARE_VERSION,
        device_serial_number="0",
        content_label="GIST",
        content_creator_name="RADIOLOGIST^SYNTHETIC",
        omit_empty_frames=omit_empty_frames,
    )
    day = study_date.strftime("%Y%m%d")
    for keyword in ("InstanceCreationDate", "ContentDate", "SeriesDate"):
        setattr(seg, keyword, day)
    for keyword in ("InstanceCreationTime", "ContentTime", "SeriesTime"):
        setattr(seg, keyword, STUDY_TIME)
    dimension_uid = derive_uid(sop_uid, "dimension-organization")
    for item in seg.DimensionOrganizationSequence:
        item.DimensionOrganizationUID = dimension_uid
    for item in seg.DimensionIndexSequence:
        item.DimensionOrganizationUID = dimension_uid
    for item in seg.get("ContributingEquipmentSequence", []):
        item.ContributionDateTime = day + STUDY_TIME
    out_path.parent.mkdir(parents=True, exist_ok=True)
    seg.save_as(out_path, enforce_file_format=True)
    return out_path


def _contours(mask2d: np.ndarray) -> list[np.ndarray]:
    """Closed marching-squares polygons (n, 2) as (column, row) indices at level 0.5."""
    from contourpy import LineType, contour_generator

    padded = np.pad(mask2d.astype(np.float64), 1)
    lines = contour_generator(z=padded, line_type=LineType.Separate).lines(0.5)
    return [np.asarray(line)[:-1] - 1.0 for line in lines if len(line) >= 4]


def _rt_header(first: Dataset, sop_uid: str, series_uid: str, day: str) -> Dataset:
    ds = Dataset()
    ds.file_meta = file_meta(pydicom.uid.RTStructureSetStorage, sop_uid)
    ds.SpecificCharacterSet = first.get("SpecificCharacterSet", "ISO_IR 192")
    ds.SOPClassUID = pydicom.uid.RTStructureSetStorage
    ds.SOPInstanceUID = sop_uid
    for keyword in (
        "StudyDate",
        "StudyTime",
        "AccessionNumber",
        "ReferringPhysicianName",
        "PatientName",
        "PatientID",
        "PatientBirthDate",
        "PatientSex",
        "StudyInstanceUID",
        "StudyID",
        "StudyDescription",
    ):
        if keyword in first:
            setattr(ds, keyword, first[keyword].value)
    ds.InstanceCreationDate = ds.StructureSetDate = ds.SeriesDate = day
    ds.InstanceCreationTime = ds.StructureSetTime = ds.SeriesTime = STUDY_TIME
    ds.Modality = "RTSTRUCT"
    ds.Manufacturer = first.get("Manufacturer", "")
    ds.SeriesInstanceUID = series_uid
    ds.SeriesNumber = 301
    ds.SeriesDescription = "GIST contours"
    ds.InstanceNumber = 1
    ds.OperatorsName = ""
    ds.StructureSetLabel = "GIST"
    ds.FrameOfReferenceUID = first.FrameOfReferenceUID
    return ds


def _image_ref(ds: Dataset) -> Dataset:
    ref = Dataset()
    ref.ReferencedSOPClassUID = ds.SOPClassUID
    ref.ReferencedSOPInstanceUID = ds.SOPInstanceUID
    return ref


def write_rtstruct(
    mask: np.ndarray,
    sources: Sequence[Dataset | Path],
    out_path: Path,
    *,
    series_uid: str,
    sop_uid: str,
    study_date: date,
    label: str = "GIST",
) -> Path:
    """Write an RT Structure Set with one ROI ``label`` of CLOSED_PLANAR contours.

    Each slice of ``mask`` (ordered like the sources sorted along the slice normal) that
    holds tumour gets the marching-squares polygons (level 0.5, contourpy) of its mask, in
    LPS patient coordinates (mm): position + column · Δcol · row direction + row · Δrow ·
    column direction. Holes, if any, are separate contours (even-odd rule).
    """
    datasets = read_sources(sources)
    if mask.shape[0] != len(datasets):
        raise ValidationError(
            f"{out_path}: mask has {mask.shape[0]} slices, CT has {len(datasets)}"
        )
    first = datasets[0]
    ds = _rt_header(first, sop_uid, series_uid, study_date.strftime("%Y%m%d"))
    series_ref = Dataset()
    series_ref.SeriesInstanceUID = first.SeriesInstanceUID
    series_ref.ContourImageSequence = [_image_ref(d) for d in datasets]
    study_ref = Dataset()
    study_ref.ReferencedSOPClassUID = "1.2.840.10008.3.1.2.3.1"  # Study Component Management
    study_ref.ReferencedSOPInstanceUID = first.StudyInstanceUID
    study_ref.RTReferencedSeriesSequence = [series_ref]
    frame_ref = Dataset()
    frame_ref.FrameOfReferenceUID = first.FrameOfReferenceUID
    frame_ref.RTReferencedStudySequence = [study_ref]
    ds.ReferencedFrameOfReferenceSequence = [frame_ref]
    roi = Dataset()
    roi.ROINumber = 1
    roi.ReferencedFrameOfReferenceUID = first.FrameOfReferenceUID
    roi.ROIName = label
    roi.ROIGenerationAlgorithm = "MANUAL"
    ds.StructureSetROISequence = [roi]
    contours = []
    for k in np.flatnonzero(mask.reshape(mask.shape[0], -1).any(axis=1)):
        src = datasets[k]
        origin = np.asarray(src.ImagePositionPatient, float)
        row_dir = np.asarray(src.ImageOrientationPatient[:3], float)
        col_dir = np.asarray(src.ImageOrientationPatient[3:], float)
        d_row, d_col = (float(v) for v in src.PixelSpacing)
        for polygon in _contours(mask[k]):
            points = origin + polygon[:, :1] * d_col * row_dir + polygon[:, 1:] * d_row * col_dir
            contour = Dataset()
            contour.ContourImageSequence = [_image_ref(src)]
            contour.ContourGeometricType = "CLOSED_PLANAR"
            contour.NumberOfContourPoints = len(points)
            contour.ContourData = [format_ds(v) for v in points.ravel()]
            contours.append(contour)
    roi_contour = Dataset()
    roi_contour.ROIDisplayColor = [255, 64, 64]
    roi_contour.ReferencedROINumber = 1
    roi_contour.ContourSequence = contours
    ds.ROIContourSequence = [roi_contour]
    observation = Dataset()
    observation.ObservationNumber = 1
    observation.ReferencedROINumber = 1
    observation.RTROIInterpretedType = "GTV"
    observation.ROIInterpreter = ""
    ds.RTROIObservationsSequence = [observation]
    out_path.parent.mkdir(parents=True, exist_ok=True)
    ds.save_as(out_path, enforce_file_format=True)
    return out_path

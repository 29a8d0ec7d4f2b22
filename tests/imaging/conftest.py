"""Tiny DICOM series built with pydicom in tmp folders, with FAKE identifying data.

:func:`build_ct_series` writes an axial CT series the awkward way real exports do (hashed file
names, InstanceNumber opposite to position, unsigned storage with RescaleIntercept −1024) and
returns what a correct reader must find: the Hounsfield values indexed (i, j, k) and the RAS+
affine, computed here by hand from the construction, not with the code under test.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import highdicom as hd
import numpy as np
import pytest
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence as DicomSequence
from pydicom.sr.codedict import codes
from pydicom.uid import (
    CTImageStorage,
    ExplicitVRLittleEndian,
    MRImageStorage,
    RTStructureSetStorage,
    generate_uid,
)

#: Fake identifying values; none may reach a SeriesInfo or a canonical NIfTI.
PHI: dict[str, str] = {
    "PatientName": "DOE^JANE",
    "PatientID": "PID-98765",
    "PatientBirthDate": "19610203",
    "PatientAddress": "12 Secret Lane, Springfield",
    "InstitutionName": "St Example Hospital",
    "InstitutionAddress": "1 Hospital Road, Springfield",
    "ReferringPhysicianName": "HOUSE^GREGORY",
    "OperatorsName": "OPERATOR^OLGA",
    "PerformingPhysicianName": "CUDDY^LISA",
    "AccessionNumber": "ACC7731",
    "OtherPatientIDs": "OTHER-4242",
    "StudyID": "STUDY-5151",
}


@dataclass
class BuiltSeries:
    """A series written to disk and what a reader must recover from it."""

    paths: list[Path]  # in slice order k (increasing along the normal)
    hu: np.ndarray  # (i, j, k) = (column, row, slice), Hounsfield units
    affine: np.ndarray  # (4, 4) voxel → RAS+ mm
    series_uid: str
    study_uid: str
    frame_of_reference_uid: str
    datasets: list[Dataset] = field(default_factory=list)  # in slice order k


def _uid(*parts: Any) -> str:
    return str(generate_uid(entropy_srcs=[repr(p) for p in parts]))


def _slice_dataset(
    stored: np.ndarray,
    position: Sequence[float],
    instance: int,
    common: dict[str, Any],
    phi: dict[str, str],
) -> Dataset:
    ds = Dataset()
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = common["sop_class"]
    meta.MediaStorageSOPInstanceUID = _uid(common["SeriesInstanceUID"], instance, position)
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta = meta
    ds.SOPClassUID = meta.MediaStorageSOPClassUID
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    for key, value in phi.items():
        setattr(ds, key, value)
    for key in (
        "StudyInstanceUID",
        "SeriesInstanceUID",
        "FrameOfReferenceUID",
        "Modality",
        "SeriesDescription",
        "ImageType",
        "PixelSpacing",
        "ImageOrientationPatient",
        "RescaleSlope",
        "RescaleIntercept",
        "BitsStored",
        "PixelRepresentation",
    ):
        setattr(ds, key, common[key])
    ds.PatientSex = "F"
    ds.StudyDate = ds.AcquisitionDate = "20210315"
    ds.StudyTime = "101500"
    ds.Manufacturer = "SIEMENS"
    ds.ManufacturerModelName = "SOMATOM Test"
    ds.KVP = "120"
    ds.SliceThickness = str(common["step"])
    ds.ConvolutionKernel = "Br40f"
    ds.ContrastBolusAgent = "Omnipaque"
    ds.SeriesNumber = 3
    ds.InstanceNumber = instance
    ds.ImagePositionPatient = [f"{v:.4f}" for v in position]
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.Rows, ds.Columns = stored.shape
    ds.BitsAllocated = 16
    ds.HighBit = common["BitsStored"] - 1
    ds.RescaleType = "HU"
    ds.PixelData = stored.tobytes()
    return ds


def build_ct_series(
    folder: Path,
    *,
    columns: int = 8,
    rows: int = 8,
    slices: int = 6,
    pixel_spacing: tuple[float, float] = (0.8, 0.7),  # (row spacing, column spacing)
    step: float = 2.5,
    origin: Sequence[float] = (-10.0, -20.0, 30.0),
    slope: float = 1.0,
    intercept: float = -1024.0,
    signed: bool = False,
    modality: str = "CT",
    tilt_deg: float = 0.0,
    positions: Sequence[Sequence[float]] | None = None,
    image_type: Sequence[str] = ("ORIGINAL", "PRIMARY", "AXIAL"),
    description: str = "ABD PORTAL VENOUS 2.5mm",
    transfer_syntax: str | None = None,
    seed: int = 0,
    study_uid: str | None = None,
    values: np.ndarray | None = None,
    phi: dict[str, str] | None = None,
) -> BuiltSeries:
    """Write an axial series; files named by hash, InstanceNumber decreasing with position.

    ``phi`` replaces some of the fake identifying values of :data:`PHI` (e.g. another
    PatientID for a second patient).
    """
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    tilt = math.radians(tilt_deg)
    row_cos = np.array([1.0, 0.0, 0.0])
    col_cos = np.array([0.0, math.cos(tilt), math.sin(tilt)])
    normal = np.cross(row_cos, col_cos)
    if positions is None:
        # A tilted gantry moves the table along z, not along the slice normal.
        direction = np.array([0.0, 0.0, 1.0]) if tilt_deg else normal
        positions = [np.asarray(origin) + k * step * direction for k in range(slices)]
    slices = len(positions)
    low, high = (-1024, 2000) if signed else (0, 3000)
    stored = (
        values if values is not None else rng.integers(low, high, size=(slices, rows, columns))
    ).astype(np.int16 if signed else np.uint16)
    series_uid = _uid("series", folder, seed, modality)
    study = study_uid or _uid("study", folder, seed)
    common: dict[str, Any] = {
        "sop_class": CTImageStorage if modality == "CT" else MRImageStorage,
        "StudyInstanceUID": study,
        "SeriesInstanceUID": series_uid,
        "FrameOfReferenceUID": _uid("for", study),
        "Modality": modality,
        "SeriesDescription": description,
        "ImageType": list(image_type),
        "PixelSpacing": [str(pixel_spacing[0]), str(pixel_spacing[1])],
        "ImageOrientationPatient": [f"{v:.6f}" for v in (*row_cos, *col_cos)],
        "RescaleSlope": str(slope),
        "RescaleIntercept": str(intercept),
        "BitsStored": 16 if signed else 12,
        "PixelRepresentation": 1 if signed else 0,
        "step": step,
    }
    paths, datasets = [], []
    for k, position in enumerate(positions):
        ds = _slice_dataset(
            stored[k], position, instance=slices - k, common=common, phi={**PHI, **(phi or {})}
        )
        if transfer_syntax is not None:
            ds.compress(transfer_syntax)
        name = hashlib.sha1(f"{series_uid}-{k}".encode()).hexdigest()[:12]
        path = folder / name
        ds.save_as(path, enforce_file_format=True)
        paths.append(path)
        datasets.append(ds)
    lps = np.eye(4)
    lps[:3, 0] = row_cos * pixel_spacing[1]
    lps[:3, 1] = col_cos * pixel_spacing[0]
    lps[:3, 2] = (np.asarray(positions[-1]) - np.asarray(positions[0])) / max(slices - 1, 1)
    lps[:3, 3] = positions[0]
    affine = np.diag([-1.0, -1.0, 1.0, 1.0]) @ lps
    hu = (stored.astype(np.float64) * slope + intercept).transpose(2, 1, 0)
    return BuiltSeries(
        paths, hu, affine, series_uid, study, common["FrameOfReferenceUID"], datasets
    )


# --- masks on a built series: DICOM SEG (highdicom) and RTSTRUCT (pydicom) ----------------


def disk_mask(slices: int, rows: int, columns: int, radius: float) -> np.ndarray:
    """(k, row, column) bool: a disk of ``radius`` pixels on slices 1 … slices−2."""
    jj, ii = np.mgrid[:rows, :columns]
    disk = (ii - (columns - 1) / 2) ** 2 + (jj - (rows - 1) / 2 + 2) ** 2 <= radius**2
    mask = np.zeros((slices, rows, columns), dtype=bool)
    mask[1:-1] = disk
    return mask


def write_seg(
    built: BuiltSeries,
    mask: np.ndarray,
    path: Path,
    *,
    label: str = "tumour",
    algorithm: str | tuple[str, ...] = "MANUAL",
) -> None:
    """A binary DICOM SEG of ``mask`` (k, row, column) on ``built``: one segment ``label``
    whose SegmentAlgorithmType is ``algorithm`` (MANUAL, SEMIAUTOMATIC or AUTOMATIC; the two
    last name their program, "Other segmenter", as the standard requires), or, for a tuple
    of them, one segment of the same name and voxels per entry."""
    kinds = [
        hd.seg.SegmentAlgorithmTypeValues[name]
        for name in ((algorithm,) if isinstance(algorithm, str) else algorithm)
    ]
    program = hd.AlgorithmIdentificationSequence(
        name="Other segmenter", family=codes.DCM.ArtificialIntelligence, version="2"
    )
    descriptions = [
        hd.seg.SegmentDescription(
            segment_number=number,
            segment_label=label,
            segmented_property_category=hd.sr.CodedConcept(
                "49755003", "SCT", "Morphologically Altered Structure"
            ),
            segmented_property_type=hd.sr.CodedConcept("108369006", "SCT", "Neoplasm"),
            algorithm_type=kind,
            algorithm_identification=(
                None if kind is hd.seg.SegmentAlgorithmTypeValues.MANUAL else program
            ),
        )
        for number, kind in enumerate(kinds, start=1)
    ]
    pixels = mask.astype(np.uint8)
    seg = hd.seg.Segmentation(
        source_images=built.datasets,
        pixel_array=pixels if len(kinds) == 1 else np.stack([pixels] * len(kinds), axis=-1),
        segmentation_type=hd.seg.SegmentationTypeValues.BINARY,
        segment_descriptions=descriptions,
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


def circle(centre_ij: Sequence[float], radius: float, n: int = 96) -> np.ndarray:
    """A polygon of ``n`` points on a circle, in (i, j) pixel indices."""
    angles = np.linspace(0, 2 * np.pi, n, endpoint=False)
    return np.column_stack(
        [centre_ij[0] + radius * np.cos(angles), centre_ij[1] + radius * np.sin(angles)]
    )


def _image_ref(image: Dataset) -> Dataset:
    ref = Dataset()
    ref.ReferencedSOPClassUID = image.SOPClassUID
    ref.ReferencedSOPInstanceUID = image.SOPInstanceUID
    return ref


def write_rtstruct(
    built: BuiltSeries,
    contours: dict[int, list[np.ndarray]],
    path: Path,
    *,
    z_shift: float = 0.0,
    roi_name: str = "GIST",
    header: dict[str, str] | None = None,
    generation: str | None = None,
) -> None:
    """An RTSTRUCT with one ROI (number 7) on ``built``.

    ``contours`` maps slice k → polygons in (i, j) pixel indices, stored as LPS world mm;
    ``header`` adds attributes to the RTSTRUCT's own header (e.g. a PatientName);
    ``generation``, the ROI's ROIGenerationAlgorithm (absent when None).
    """
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
    for key, value in (header or {}).items():
        setattr(ds, key, value)
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
    roi.ROINumber, roi.ROIName = 7, roi_name
    if generation is not None:
        roi.ROIGenerationAlgorithm = generation
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


@pytest.fixture
def ct_series() -> Callable[..., BuiltSeries]:
    """The :func:`build_ct_series` builder."""
    return build_ct_series

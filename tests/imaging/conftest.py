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

import numpy as np
import pytest
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import (
    CTImageStorage,
    ExplicitVRLittleEndian,
    MRImageStorage,
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
) -> Dataset:
    ds = Dataset()
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = common["sop_class"]
    meta.MediaStorageSOPInstanceUID = _uid(common["SeriesInstanceUID"], instance, position)
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta = meta
    ds.SOPClassUID = meta.MediaStorageSOPClassUID
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    for key, value in PHI.items():
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
) -> BuiltSeries:
    """Write an axial series; files named by hash, InstanceNumber decreasing with position."""
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
        ds = _slice_dataset(stored[k], position, instance=slices - k, common=common)
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


@pytest.fixture
def ct_series() -> Callable[..., BuiltSeries]:
    """The :func:`build_ct_series` builder."""
    return build_ct_series

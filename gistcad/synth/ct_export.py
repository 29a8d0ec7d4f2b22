"""Writing a rendered CT series the way a center of the consortium sends it.

The writer is deterministic: the same inputs give byte-identical files. No clock is read:
dates and times come from the caller's study date, UIDs are passed in or derived with
:func:`derive_uid` (``2.25.`` + a name-based UUID of the entropy strings).

Vendor habits (:data:`VENDOR_HABITS`) make the series differ as real exports do: unsigned
storage with RescaleIntercept −1024 or signed storage, InstanceNumber increasing with z or
reversed (cranio-caudal acquisition), file names by instance number or by a hash, so that
readers must sort slices by ImagePositionPatient along the slice normal.

The CT files carry FAKE identifying data (PatientName, PatientID = ``hospital_id``,
PatientBirthDate, PatientSex, PatientAddress, InstitutionName, ReferringPhysicianName,
OperatorsName, AccessionNumber, OtherPatientIDs) that a de-identification step must remove.
"""

from __future__ import annotations

import hashlib
import itertools
import logging
import struct
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset, FileMetaDataset, validate_file_meta
from pydicom.filebase import DicomBytesIO
from pydicom.filewriter import write_dataset
from pydicom.tag import Tag
from pydicom.uid import UID, CTImageStorage, ExplicitVRLittleEndian

from gistcad.errors import ValidationError
from gistcad.synth.centers import CenterProfile
from gistcad.synth.phantom import RenderedCT

logger = logging.getLogger(__name__)

STUDY_TIME = "101500"
META_GROUP_LENGTH = Tag("FileMetaInformationGroupLength")
META_SOP_UID = Tag("MediaStorageSOPInstanceUID")
_STREETS = (
    "Church Street",
    "Station Road",
    "Park Lane",
    "Mill Road",
    "High Street",
    "Garden Way",
    "River Walk",
    "Oak Avenue",
)
_STAFF = (
    "MARTIN^ANNE",
    "NOWAK^PIOTR",
    "KIM^MINJI",
    "ROSSI^MARCO",
    "DUPONT^CLAIRE",
    "SMITH^JOHN",
    "DE VRIES^SANNE",
    "BROWN^EMILY",
)


@dataclass(frozen=True)
class VendorHabits:
    """How one vendor's export stores a CT series."""

    signed: bool  # PixelRepresentation 1 (int16) or 0 (uint16)
    intercept: float  # RescaleIntercept; stored = HU − intercept
    instances_reversed: bool  # InstanceNumber 1 = most superior slice
    hashed_file_names: bool  # file names from a hash instead of the instance number
    kernel: str  # ConvolutionKernel


VENDOR_HABITS: dict[str, VendorHabits] = {
    "SIEMENS": VendorHabits(False, -1024.0, False, False, "Br40f"),
    "GE MEDICAL SYSTEMS": VendorHabits(True, -1024.0, True, True, "STANDARD"),
    "Philips": VendorHabits(False, -1024.0, True, False, "B"),
    "TOSHIBA": VendorHabits(True, 0.0, False, True, "FC08"),
}


_UID_NAMESPACE = uuid.UUID("6f1c2a4e-9b1d-5c3e-8f4a-2d7b9e0c1a35")  # fixed for gistcad [D]


def derive_uid(*entropy: str) -> str:
    """A deterministic UID ``2.25.<int>``: the integer of the name-based UUID (version 5)
    of the entropy strings, as DICOM PS3.5 §B.2 allows.

    (pydicom's ``generate_uid(prefix=None, ...)`` ignores its entropy and returns a random
    UUID, so it cannot be used here.)

    >>> derive_uid("a", "b") == derive_uid("a", "b") != derive_uid("a", "c")
    True
    """
    return f"2.25.{uuid.uuid5(_UID_NAMESPACE, chr(31).join(entropy)).int}"


def _digits(text: str, n: int) -> str:
    return str(int(hashlib.sha256(text.encode()).hexdigest(), 16))[:n]


def format_ds(value: float) -> str:
    """A DICOM decimal string: 10 significant digits (≤ 16 characters), never '-0'."""
    text = f"{float(value):.10g}"
    return "0" if text == "-0" else text


def file_meta(sop_class_uid: str, sop_uid: str) -> FileMetaDataset:
    """The file meta information of one instance, explicit VR little endian."""
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = UID(sop_class_uid)
    meta.MediaStorageSOPInstanceUID = UID(sop_uid)
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    return meta


def _ct_template(
    ct: RenderedCT,
    record: Mapping[str, Any],
    center: CenterProfile,
    habits: VendorHabits,
    uids: dict[str, str],
    study_date: date,
) -> Dataset:
    """The attributes shared by every slice of the series (PHI is fake, from the record)."""
    hospital_id = str(record["hospital_id"])
    ds = Dataset()
    ds.SpecificCharacterSet = "ISO_IR 192"
    ds.ImageType = ["ORIGINAL", "PRIMARY", "AXIAL"]
    ds.SOPClassUID = CTImageStorage
    ds.StudyDate = ds.SeriesDate = ds.ContentDate = study_date.strftime("%Y%m%d")
    ds.StudyTime = ds.SeriesTime = ds.ContentTime = STUDY_TIME
    ds.AccessionNumber = "A" + _digits(hospital_id + "acc", 9)
    ds.Modality = "CT"
    ds.Manufacturer = center.vendor
    ds.InstitutionName = f"{center.name} University Hospital"
    ds.ReferringPhysicianName = _STAFF[int(_digits(hospital_id + "ref", 3)) % len(_STAFF)]
    ds.StationName = f"CT{_digits(center.name, 2)}"
    ds.StudyDescription = "CT ABDOMEN WITH CONTRAST"
    ds.SeriesDescription = f"Abdomen portal venous {ct.slice_thickness_mm:g} mm"
    ds.OperatorsName = _STAFF[int(_digits(hospital_id + "op", 3)) % len(_STAFF)]
    ds.ManufacturerModelName = center.model_name
    ds.PatientName = str(record["patient_name"])
    ds.PatientID = hospital_id
    ds.PatientBirthDate = record["birth_date"].strftime("%Y%m%d")
    ds.PatientSex = "F" if str(record.get("sex", "")).lower() == "female" else "M"
    ds.OtherPatientIDs = f"{center.country}{_digits(hospital_id + 'other', 8)}"
    ds.PatientAge = f"{int(record.get('age_years', 0)):03d}Y"
    street = _STREETS[int(_digits(hospital_id + "street", 3)) % len(_STREETS)]
    ds.PatientAddress = f"{int(_digits(hospital_id, 2)) + 1} {street}, {center.name}"
    ds.ContrastBolusAgent = "Iohexol 350 mgI/mL"
    ds.ContrastBolusRoute = "IV"
    ds.ContrastBolusVolume = "100"
    ds.BodyPartExamined = "ABDOMEN"
    ds.SliceThickness = format_ds(ct.slice_thickness_mm)
    ds.KVP = format_ds(center.kvp)
    ds.SpacingBetweenSlices = format_ds(ct.slice_thickness_mm)
    ds.DeviceSerialNumber = _digits(center.name + "sn", 6)
    ds.SoftwareVersions = "VA40"
    ds.ReconstructionDiameter = format_ds(ct.field_of_view_mm)
    ds.ConvolutionKernel = habits.kernel
    ds.PatientPosition = "HFS"
    ds.StudyInstanceUID = uids["study"]
    ds.SeriesInstanceUID = uids["series"]
    ds.StudyID = _digits(hospital_id + "study", 6)
    ds.SeriesNumber = 3
    ds.AcquisitionNumber = 1
    ds.ImageOrientationPatient = [format_ds(v) for v in ct.orientation]
    ds.FrameOfReferenceUID = uids["frame"]
    ds.PositionReferenceIndicator = ""
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.Rows, ds.Columns = ct.hu.shape[1], ct.hu.shape[2]
    ds.PixelSpacing = [format_ds(v) for v in ct.pixel_spacing_mm]
    ds.BitsAllocated = 16
    ds.BitsStored = 16 if habits.signed else 12
    ds.HighBit = ds.BitsStored - 1
    ds.PixelRepresentation = 1 if habits.signed else 0
    ds.WindowCenter, ds.WindowWidth = "40", "400"
    ds.RescaleIntercept = format_ds(habits.intercept)
    ds.RescaleSlope = "1"
    ds.RescaleType = "HU"
    return ds


def encode_element(tag: int, vr: str, value: bytes) -> bytes:
    """One data element in explicit VR little endian (PS3.5 §7.1.2): its value padded to an
    even length, UI and OB with a NUL byte, text with a space (PS3.5 §6.2); OB and OW with
    two reserved bytes and a 32-bit length, the others with a 16-bit length.

    >>> encode_element(0x00200013, "IS", b"7")
    b' \\x00\\x13\\x00IS\\x02\\x007 '
    """
    if len(value) % 2:
        value += b"\0" if vr in ("UI", "OB") else b" "
    group, element = tag >> 16, tag & 0xFFFF
    if vr in ("OB", "OW"):
        return struct.pack("<HH2s2xI", group, element, vr.encode(), len(value)) + value
    return struct.pack("<HH2sH", group, element, vr.encode(), len(value)) + value


class _SliceEncoder:
    """Encodes the slices of one series: the shared attributes and the file meta information
    are encoded once by pydicom, in chunks between the per-slice tags, and spliced with each
    slice's elements (:func:`encode_element`) in tag order.

    The bytes equal ``Dataset.save_as(..., enforce_file_format=True)`` of the whole slice
    (explicit VR little endian; ``tests/synth/test_ct_export.py`` checks it) at a fraction
    of the time.
    """

    VARYING = tuple(
        Tag(k)
        for k in (
            "SOPInstanceUID",
            "InstanceNumber",
            "ImagePositionPatient",
            "SliceLocation",
            "PixelData",
        )
    )
    VRS = ("UI", "IS", "DS", "DS", "OW")  # of VARYING

    def __init__(self, template: Dataset) -> None:
        self.charset = str(template.get("SpecificCharacterSet", "ISO_IR 100"))
        bounds = (-1, *self.VARYING)
        self.chunks = []
        for lo, hi in itertools.pairwise(bounds):
            part = Dataset()
            for elem in template:
                if lo < elem.tag < hi:
                    part.add(elem)
            self.chunks.append(self._encode(part))
        if any(elem.tag > self.VARYING[-1] for elem in template):
            raise ValidationError("CT template holds elements after PixelData")
        # the file meta of every slice but its SOP instance UID, completed as pydicom's
        # writer completes it (version, implementation UID and name)
        meta = file_meta(template.SOPClassUID, "1.2")
        validate_file_meta(meta, enforce_standard=True)
        self.meta = {e.tag: e for e in meta if e.tag not in (META_GROUP_LENGTH, META_SOP_UID)}
        before = FileMetaDataset({t: e for t, e in self.meta.items() if t < META_SOP_UID})
        after = FileMetaDataset({t: e for t, e in self.meta.items() if t > META_SOP_UID})
        self.meta_chunks = (self._encode(before), self._encode(after))

    def _encode(self, ds: Dataset) -> bytes:
        buffer = DicomBytesIO()
        buffer.is_little_endian, buffer.is_implicit_VR = True, False
        write_dataset(buffer, ds, parent_encoding=self.charset)
        return buffer.getvalue()

    def file_bytes(self, sop_uid: str, varying: Sequence[bytes]) -> tuple[bytes, int]:
        """The file of one slice and the length of its file meta group: ``varying`` are the
        values of :attr:`VARYING`, encoded as text (UI, IS, DS) or the pixels (OW)."""
        meta = b"".join(
            (
                self.meta_chunks[0],
                encode_element(META_SOP_UID, "UI", sop_uid.encode()),
                self.meta_chunks[1],
            )
        )
        parts = [b"\0" * 128, b"DICM", struct.pack("<HH2sHI", 2, 0, b"UL", 4, len(meta)), meta]
        for chunk, tag, vr, value in zip(self.chunks, self.VARYING, self.VRS, varying, strict=True):
            parts += [chunk, encode_element(tag, vr, value)]
        return b"".join(parts), len(meta)

    def file_meta(self, sop_uid: str, group_length: int) -> FileMetaDataset:
        """The file meta information :meth:`file_bytes` wrote for ``sop_uid``."""
        return FileMetaDataset(
            {
                **self.meta,
                META_GROUP_LENGTH: DataElement(META_GROUP_LENGTH, "UL", group_length),
                META_SOP_UID: DataElement(META_SOP_UID, "UI", sop_uid),
            }
        )


@dataclass(frozen=True)
class WrittenSlice:
    """One CT file :func:`write_ct_slices` wrote and its attributes without the pixels (what
    ``dcmread(path, stop_before_pixels=True)`` reads back), so that the writers of masks
    referencing the series need not read it again."""

    path: Path
    header: Dataset


def write_ct_series(
    ct: RenderedCT,
    record: Mapping[str, Any],
    center: CenterProfile,
    out_dir: Path,
    *,
    study_uid: str,
    series_uid: str,
    frame_of_reference_uid: str,
    uid_root_entropy: str,
    study_date: date,
) -> list[Path]:
    """Write one CT Image Storage file per slice (explicit VR little endian).

    SOPInstanceUIDs are :func:`derive_uid` (``uid_root_entropy``, ``series_uid``, slice).
    Returns the paths in the order of ``ct`` slices (increasing z), which is neither the
    InstanceNumber order nor the file-name order for every vendor.
    """
    slices = write_ct_slices(
        ct,
        record,
        center,
        out_dir,
        study_uid=study_uid,
        series_uid=series_uid,
        frame_of_reference_uid=frame_of_reference_uid,
        uid_root_entropy=uid_root_entropy,
        study_date=study_date,
    )
    return [s.path for s in slices]


def write_ct_slices(
    ct: RenderedCT,
    record: Mapping[str, Any],
    center: CenterProfile,
    out_dir: Path,
    *,
    study_uid: str,
    series_uid: str,
    frame_of_reference_uid: str,
    uid_root_entropy: str,
    study_date: date,
) -> list[WrittenSlice]:
    """:func:`write_ct_series`, returning each slice's header with its path (same order)."""
    habits = VENDOR_HABITS.get(center.vendor, VENDOR_HABITS["SIEMENS"])
    low, high = (-32768, 32767) if habits.signed else (0, 4095)
    stored_range = int(ct.hu.min()) - habits.intercept, int(ct.hu.max()) - habits.intercept
    if stored_range[0] < low or stored_range[1] > high:
        raise ValidationError(
            f"{out_dir}: HU {int(ct.hu.min())}..{int(ct.hu.max())} do not fit {center.vendor}"
            f" storage (stored {low}..{high}); clip the volume to −1024..3071 HU"
        )
    out_dir.mkdir(parents=True, exist_ok=True)
    uids = {"study": study_uid, "series": series_uid, "frame": frame_of_reference_uid}
    ds = _ct_template(ct, record, center, habits, uids, study_date)
    dtype = np.int16 if habits.signed else np.uint16
    n_slices = ct.hu.shape[0]
    encoder = _SliceEncoder(ds)
    shared = {elem.tag: elem for elem in ds}  # shared by every slice's header
    written = []
    for k in range(n_slices):
        sop_uid = derive_uid(uid_root_entropy, series_uid, "ct", str(k))
        instance = n_slices - k if habits.instances_reversed else k + 1
        position = ct.slice_position_mm(k)
        varying = (sop_uid, instance, [format_ds(v) for v in position], format_ds(position[2]))
        stored = ct.hu[k].astype(np.int32) - int(habits.intercept)
        # hashed names are out of spatial order, as some exports are; the instance number
        # appended keeps them unique (eight hashed digits alone collide now and then)
        name = (
            f"{_digits(sop_uid, 8)}{instance:04d}"
            if habits.hashed_file_names
            else f"IM{instance:05d}"
        )
        path = out_dir / f"{name}.dcm"
        if path.exists():
            raise ValidationError(f"{path} exists already: two slices would share one file")
        data, group_length = encoder.file_bytes(
            sop_uid,
            (
                sop_uid.encode(),
                str(instance).encode(),
                "\\".join(varying[2]).encode(),
                varying[3].encode(),
                stored.astype(dtype).tobytes(),
            ),
        )
        path.write_bytes(data)
        header = Dataset(
            {
                **shared,
                **{
                    tag: DataElement(tag, vr, value)
                    for tag, vr, value in zip(
                        encoder.VARYING[:4], encoder.VRS[:4], varying, strict=True
                    )
                },
            }
        )
        header.file_meta = encoder.file_meta(sop_uid, group_length)
        written.append(WrittenSlice(path, header))
    logger.debug("wrote %d CT slices to %s", n_slices, out_dir)
    return written

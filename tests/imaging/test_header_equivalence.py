"""The fast DICOM header reader gives what pydicom's ``dcmread`` gives, on the same files.

:func:`gistcad.imaging.dicom_header.read_header` reads Explicit VR Little Endian files with
its own walker and leaves every other file to pydicom. Here each file is read both ways and
every field of the :class:`FileHeader` is compared with pydicom's reading: each attribute of
:data:`FAST_KEYWORDS` (value and Python type, present or absent), where the pixel data lie
(whose bytes must be pydicom's ``PixelData``), the file size and the whole dataset. The files:
a CT series written by the synthetic export (as a center would send it), and edge files built
with pydicom: implicit VR, big endian, deflated, private tags, missing optional attributes,
single- and multi-valued attributes, padded values, sequences of defined and undefined
length, a header longer than the first read, legacy multi-frame, and damaged files.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pydicom
import pytest
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.multival import MultiValue
from pydicom.sequence import Sequence
from pydicom.uid import (
    UID,
    CTImageStorage,
    DeflatedExplicitVRLittleEndian,
    ExplicitVRBigEndian,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
)
from pydicom.valuerep import IS, DSdecimal, DSfloat

from gistcad.imaging.dicom_header import (
    _FAST_HEAD_BYTES,
    FAST_KEYWORDS,
    FileHeader,
    _read_with_pydicom,
    read_header,
)
from gistcad.problems import Problem
from tests.synth.conftest import CENTERS, small_ct, write_series

META_KEYWORDS = {"MediaStorageSOPClassUID", "TransferSyntaxUID"}


def plain(value: Any) -> Any:
    """pydicom's value as the fast reader gives it: ``int``, ``float``, ``str`` or a list."""
    if isinstance(value, MultiValue | list):
        return [plain(v) for v in value]
    if isinstance(value, DSfloat | DSdecimal):
        return float(value)
    if isinstance(value, IS):
        return int(value)
    if isinstance(value, UID | str):
        return str(value)
    return value


def assert_equivalent(path: Path, *, fast: bool) -> FileHeader:
    """Read ``path`` both ways and compare every field; ``fast``: the fast reader must run."""
    header = read_header(path)
    assert isinstance(header, FileHeader), header
    assert (header.values is not None) is fast, "the expected reader did not run"
    assert (header.parsed is None) is fast
    reference = pydicom.dcmread(path, stop_before_pixels=True)
    for keyword in sorted(FAST_KEYWORDS):
        source = reference.file_meta if keyword in META_KEYWORDS else reference
        missing = object()
        got = header.get(keyword, missing)
        if keyword not in source:
            assert got is missing, f"{keyword}: absent from the file, read as {got!r}"
            continue
        expected = plain(source[keyword].value)
        assert got == expected, f"{keyword}: {got!r} != pydicom's {expected!r}"
        assert type(plain(got)) is type(expected), f"{keyword}: {type(got)} vs {type(expected)}"
    assert header.path == path
    assert header.file_size == os.path.getsize(path)
    assert header.dataset == reference
    slow = _read_with_pydicom(path)
    assert isinstance(slow, FileHeader)
    assert header.pixels == slow.pixels
    pixels = header.pixels
    assert pixels is not None
    if pixels.value_offset is not None:
        assert pixels.length is not None
        with open(path, "rb") as fp:
            fp.seek(pixels.value_offset)
            in_place = fp.read(pixels.length)
        assert in_place == pydicom.dcmread(path).PixelData
    return header


# -- the synthetic export ---------------------------------------------------------------------


@pytest.mark.parametrize("vendor", ["SIEMENS", "GE MEDICAL SYSTEMS"])  # uint16 and int16
def test_the_synthetic_ct_series(vendor: str, tmp_path: Path) -> None:
    center = CENTERS[vendor]
    paths = write_series(small_ct(center), center, tmp_path)
    for path in paths[:: max(1, len(paths) // 4)]:
        header = assert_equivalent(path, fast=True)
        assert header.get("Modality") == "CT"
        assert header.get("ImageType") == ["ORIGINAL", "PRIMARY", "AXIAL"]


# -- edge files built with pydicom ----------------------------------------------------------------


def base_dataset(transfer_syntax: str = ExplicitVRLittleEndian, frames: int = 1) -> Dataset:
    """A small CT slice with every :data:`FAST_KEYWORDS` attribute (FAKE identifiers)."""
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = CTImageStorage
    meta.MediaStorageSOPInstanceUID = "1.2.826.0.1.3680043.8.498.1001"
    meta.TransferSyntaxUID = transfer_syntax
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID = CTImageStorage
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.ImageType = ["ORIGINAL", "PRIMARY", "AXIAL"]
    ds.Modality = "CT"
    ds.PatientName = "TEST^FAKE"
    ds.PatientID = "FAKE-0001"
    ds.SeriesInstanceUID = "1.2.826.0.1.3680043.8.498.2002"
    ds.ImagePositionPatient = ["-125.5", "-98.25", "12.5"]
    ds.ImageOrientationPatient = ["1", "0", "0", "0", "1", "0"]
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    if frames > 1:
        ds.NumberOfFrames = frames
    ds.Rows, ds.Columns = 4, 6
    ds.PixelSpacing = ["0.703125", "0.703125"]
    ds.BitsAllocated = 16
    ds.BitsStored = 12
    ds.HighBit = 11
    ds.PixelRepresentation = 0
    ds.RescaleIntercept = "-1024"
    ds.RescaleSlope = "1"
    pixels = np.arange(frames * 24, dtype=np.uint16).reshape(frames, 4, 6) * 37
    ds.PixelData = pixels.tobytes()
    return ds


def _save(ds: Dataset, path: Path) -> Path:
    ds.save_as(path, enforce_file_format=True)
    return path


def _private_tags(ds: Dataset) -> Dataset:
    block = ds.private_block(0x0009, "FAKE VENDOR 1.0", create=True)
    block.add_new(0x01, "LO", "private text")
    block.add_new(0x02, "UN", b"\x01\x02\x03\x04")
    block.add_new(0x03, "OB", b"\x00" * 10)
    block.add_new(0x04, "DS", "3.5")
    ds.add_new(0x00291010, "OB", b"\x05" * 6)  # private without a creator: pydicom's UN
    return ds


def _missing_optional(ds: Dataset) -> Dataset:
    for keyword in ("RescaleIntercept", "RescaleSlope", "ImageType", "PixelSpacing", "Modality"):
        delattr(ds, keyword)
    return ds


def _single_values(ds: Dataset) -> Dataset:
    ds.ImageType = "DERIVED"
    ds.PixelSpacing = "0.5"  # one value where two belong: read as pydicom reads it
    return ds


def _padded_values(ds: Dataset) -> Dataset:
    ds.ImagePositionPatient = [" -125.5", "-98.25 ", "1.25e+01"]
    ds.RescaleIntercept = "-1024.0 "
    ds.RescaleSlope = "1.000000"
    ds.SeriesInstanceUID = "1.2.3"  # odd length: padded with a NUL on disk
    ds.Modality = "CT"  # even: no padding
    ds.PhotometricInterpretation = "MONOCHROME1"  # odd: padded with a space
    return ds


def _sequences(ds: Dataset) -> Dataset:
    item = Dataset()
    item.ReferencedSOPClassUID = CTImageStorage
    item.ReferencedSOPInstanceUID = "1.2.826.0.1.3680043.8.498.3003"
    nested = Dataset()
    nested.CodeValue = "A"
    nested.CodingSchemeDesignator = "DCM"
    item.PurposeOfReferenceCodeSequence = Sequence([nested])
    ds.ReferencedImageSequence = Sequence([item, Dataset()])
    ds["ReferencedImageSequence"].is_undefined_length = True
    ds.SourceImageSequence = Sequence([item])  # defined length
    ds["SourceImageSequence"].is_undefined_length = False
    return ds


def _long_header(ds: Dataset) -> Dataset:
    ds.add_new(0x00291020, "OB", b"\x07" * (3 * _FAST_HEAD_BYTES))  # before the pixels
    ds.add_new(0x00291030, "UT", "x" * (2 * _FAST_HEAD_BYTES))
    return ds


#: name → (how to change the base file, transfer syntax, frames, whether the fast reader reads it)
EDGE_FILES: dict[str, tuple[Callable[[Dataset], Dataset], str, int, bool]] = {
    "explicit VR little endian": (lambda ds: ds, ExplicitVRLittleEndian, 1, True),
    "implicit VR little endian": (lambda ds: ds, ImplicitVRLittleEndian, 1, False),
    "explicit VR big endian": (lambda ds: ds, ExplicitVRBigEndian, 1, False),
    "deflated explicit VR": (lambda ds: ds, DeflatedExplicitVRLittleEndian, 1, False),
    "private tags": (_private_tags, ExplicitVRLittleEndian, 1, True),
    "private tags, implicit VR": (_private_tags, ImplicitVRLittleEndian, 1, False),
    "missing optional attributes": (_missing_optional, ExplicitVRLittleEndian, 1, True),
    "single-valued attributes": (_single_values, ExplicitVRLittleEndian, 1, True),
    "padded values": (_padded_values, ExplicitVRLittleEndian, 1, True),
    "sequences": (_sequences, ExplicitVRLittleEndian, 1, True),
    "header past the first read": (_long_header, ExplicitVRLittleEndian, 1, True),
    "legacy multi-frame": (lambda ds: ds, ExplicitVRLittleEndian, 3, True),
}


@pytest.mark.parametrize("name", sorted(EDGE_FILES))
def test_an_edge_file(name: str, tmp_path: Path) -> None:
    change, transfer_syntax, frames, fast = EDGE_FILES[name]
    path = _save(change(base_dataset(transfer_syntax, frames)), tmp_path / "edge.dcm")
    header = assert_equivalent(path, fast=fast)
    assert header.get("TransferSyntaxUID") == transfer_syntax


def test_an_empty_value_is_left_to_pydicom(tmp_path: Path) -> None:
    ds = base_dataset()
    ds.RescaleIntercept = ""
    path = _save(ds, tmp_path / "empty.dcm")
    header = assert_equivalent(path, fast=False)
    assert header.get("RescaleIntercept") is None  # pydicom's value of an empty DS


def test_enhanced_ct_is_left_to_pydicom(tmp_path: Path) -> None:
    ds = base_dataset(frames=2)
    frame = Dataset()
    position = Dataset()
    position.ImagePositionPatient = ["0", "0", "0"]
    frame.PlanePositionSequence = Sequence([position])
    ds.PerFrameFunctionalGroupsSequence = Sequence([frame, frame])
    path = _save(ds, tmp_path / "enhanced.dcm")
    header = assert_equivalent(path, fast=False)
    assert header.is_enhanced


@pytest.mark.parametrize("cut", ["in the header", "in the pixels"])
def test_a_truncated_file_reads_the_same_both_ways(cut: str, tmp_path: Path) -> None:
    whole = _save(base_dataset(), tmp_path / "whole.dcm").read_bytes()
    header = read_header(tmp_path / "whole.dcm")
    assert isinstance(header, FileHeader) and header.pixels is not None
    assert header.pixels.value_offset is not None
    end = header.pixels.value_offset - 20 if cut == "in the header" else len(whole) - 10
    path = tmp_path / "cut.dcm"
    path.write_bytes(whole[:end])
    fast, slow = read_header(path), _read_with_pydicom(path)
    if isinstance(slow, Problem):
        assert fast == slow
    else:  # pydicom reads a header whose pixels are short: the same location both ways
        assert isinstance(fast, FileHeader)
        assert fast.pixels == slow.pixels and fast.file_size == slow.file_size == end


def test_a_file_without_the_dicm_marker_is_refused_alike(tmp_path: Path) -> None:
    path = tmp_path / "raw.dcm"
    path.write_bytes(b"\x00" * 200)
    assert read_header(path) == _read_with_pydicom(path)
    assert isinstance(read_header(path), Problem)

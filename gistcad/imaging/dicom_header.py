"""Reading one DICOM file's header once, without its pixels, and what its frames say.

:func:`read_header` parses a file with ``stop_before_pixels`` and also locates the Pixel
Data element (offset and length), so that a header whose Rows × Columns × NumberOfFrames ×
BitsAllocated disagrees with the pixel data is refused before any memory is allocated, and so
that uncompressed pixels can later be read straight from that offset into a preallocated
array. :func:`frames_of` turns a header into per-frame geometry, for classic single-frame CT
and for enhanced multi-frame CT (per-frame or shared functional groups) alike.

Positions and orientations here are DICOM's, in LPS+ millimetres.
"""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydicom import dcmread
from pydicom.dataset import Dataset
from pydicom.errors import InvalidDicomError
from pydicom.uid import UID, DeflatedExplicitVRLittleEndian

from gistcad.ingest.report import Problem

#: Tags as the reports name them.
TAG_POSITION = "ImagePositionPatient (0020,0032)"
TAG_ORIENTATION = "ImageOrientationPatient (0020,0037)"
TAG_SPACING = "PixelSpacing (0028,0030)"
TAG_PIXEL_DATA = "PixelData (7FE0,0010)"
TAG_ROWS = "Rows (0028,0010)"

_PIXEL_DATA_TAG = (0x7FE0, 0x0010)
_LONG_VRS = {b"OB", b"OW", b"OD", b"OF", b"OL", b"OV", b"SQ", b"UC", b"UN", b"UR", b"UT"}
_UNDEFINED = 0xFFFFFFFF


@dataclass(frozen=True)
class PixelElement:
    """Where a file's Pixel Data element lies.

    Attributes
    ----------
    length
        Value length in bytes, or ``None`` for encapsulated (compressed) data.
    value_offset
        Byte offset of the value in the file when the pixels are native little-endian and can
        be read in place, else ``None`` (compressed, deflated or big-endian: pydicom decodes).
    """

    length: int | None
    value_offset: int | None


@dataclass(frozen=True)
class FileHeader:
    """One DICOM file's header (no pixels) and the location of its pixel data."""

    path: Path
    dataset: Dataset
    pixels: PixelElement | None
    file_size: int


@dataclass(frozen=True)
class FrameGeometry:
    """Where one frame of a file lies in the patient (LPS+ mm) and how to rescale it."""

    frame: int
    position: tuple[float, ...] | None  # ImagePositionPatient, (3,) mm
    orientation: tuple[float, ...] | None  # ImageOrientationPatient, (6,) direction cosines
    pixel_spacing: tuple[float, ...] | None  # PixelSpacing (row spacing, column spacing) mm
    rescale_slope: float
    rescale_intercept: float
    frame_type: tuple[str, ...]


def _pixel_element(fp: Any, dataset: Dataset, offset: int) -> PixelElement | None:
    implicit, little = dataset.original_encoding
    endian = "<" if little else ">"
    fp.seek(offset)
    head = fp.read(12)
    if len(head) < 8 or struct.unpack(endian + "HH", head[:4]) != _PIXEL_DATA_TAG:
        return None
    if implicit:
        (length,) = struct.unpack(endian + "I", head[4:8])
        value_offset = offset + 8
    elif head[4:6] in _LONG_VRS:
        if len(head) < 12:
            return None
        (length,) = struct.unpack(endian + "I", head[8:12])
        value_offset = offset + 12
    else:
        (length,) = struct.unpack(endian + "H", head[6:8])
        value_offset = offset + 8
    if length == _UNDEFINED:
        return PixelElement(length=None, value_offset=None)
    return PixelElement(length=length, value_offset=value_offset if little else None)


def _is_image(dataset: Dataset) -> bool:
    """Whether the header belongs to an image object (which must have pixel data)."""
    sop = dataset.get("SOPClassUID") or dataset.file_meta.get("MediaStorageSOPClassUID")
    return "Rows" in dataset or "Image Storage" in str(getattr(sop, "name", ""))


def read_header(path: Path) -> FileHeader | Problem:
    """Read one file's header, or say in a :class:`Problem` why it is not a usable DICOM file."""
    try:
        size = os.path.getsize(path)
        with open(path, "rb") as fp:
            dataset = dcmread(fp, stop_before_pixels=True)
            pixels = None
            ts = dataset.file_meta.get("TransferSyntaxUID")
            if ts != DeflatedExplicitVRLittleEndian:
                pixels = _pixel_element(fp, dataset, fp.tell())
            else:
                pixels = PixelElement(length=None, value_offset=None)
    except InvalidDicomError:
        return Problem(
            str(path),
            "not a DICOM file (no 'DICM' marker after the 128-byte preamble); skipped. If it "
            "is a DICOM file without file meta information, re-export it as DICOM Part 10.",
        )
    except (OSError, EOFError, ValueError, struct.error, KeyError, TypeError) as exc:
        return Problem(
            str(path),
            f"unreadable DICOM header ({type(exc).__name__}: {exc}); the file is truncated or "
            "corrupt; skipped. Copy it again from the source.",
        )
    if pixels is None and _is_image(dataset):
        return Problem(
            str(path),
            "the file ends before its pixel data (truncated or damaged: the header describes an "
            "image but there is no Pixel Data element); skipped. Copy it again from the source.",
            tag=TAG_PIXEL_DATA,
        )
    return FileHeader(path=Path(path), dataset=dataset, pixels=pixels, file_size=size)


def transfer_syntax(header: FileHeader) -> UID:
    """The file's transfer syntax UID (Explicit VR Little Endian if the meta lacks one)."""
    return UID(str(header.dataset.file_meta.get("TransferSyntaxUID", "1.2.840.10008.1.2.1")))


def number_of_frames(dataset: Dataset) -> int:
    """NumberOfFrames (0028,0008), 1 when absent or empty."""
    value = dataset.get("NumberOfFrames")
    try:
        return max(int(value), 1) if value not in (None, "") else 1
    except (TypeError, ValueError):
        return 1


def _vector(value: Any, length: int) -> tuple[float, ...] | None:
    """``length`` floats from a multi-valued DS, or ``None`` if absent or malformed."""
    if value is None or value == "":
        return None
    try:
        numbers = tuple(float(v) for v in value)
    except (TypeError, ValueError):
        return None
    return numbers if len(numbers) == length else None


def _group_value(dataset: Dataset, index: int, sequence: str, keyword: str) -> Any:
    """An attribute of a functional group: per-frame item first, then the shared item."""
    per_frame = dataset.get("PerFrameFunctionalGroupsSequence")
    shared = dataset.get("SharedFunctionalGroupsSequence")
    candidates = []
    if per_frame is not None and index < len(per_frame):
        candidates.append(per_frame[index])
    if shared:
        candidates.append(shared[0])
    for groups in candidates:
        items = groups.get(sequence)
        if items and keyword in items[0]:
            return items[0][keyword].value
    return None


def _float_or(value: Any, default: float) -> float:
    try:
        return float(value) if value not in (None, "") else default
    except (TypeError, ValueError):
        return default


def frames_of(dataset: Dataset) -> list[FrameGeometry]:
    """Per-frame geometry of a classic or an enhanced (multi-frame) CT header."""
    if "PerFrameFunctionalGroupsSequence" not in dataset:
        return [
            FrameGeometry(
                frame=0,
                position=_vector(dataset.get("ImagePositionPatient"), 3),
                orientation=_vector(dataset.get("ImageOrientationPatient"), 6),
                pixel_spacing=_vector(dataset.get("PixelSpacing"), 2),
                rescale_slope=_float_or(dataset.get("RescaleSlope"), 1.0),
                rescale_intercept=_float_or(dataset.get("RescaleIntercept"), 0.0),
                frame_type=tuple(str(v) for v in (dataset.get("ImageType") or ())),
            )
        ]
    frames = []
    for index in range(number_of_frames(dataset)):
        frame_type = _group_value(dataset, index, "CTImageFrameTypeSequence", "FrameType")
        frames.append(
            FrameGeometry(
                frame=index,
                position=_vector(
                    _group_value(dataset, index, "PlanePositionSequence", "ImagePositionPatient"),
                    3,
                ),
                orientation=_vector(
                    _group_value(
                        dataset, index, "PlaneOrientationSequence", "ImageOrientationPatient"
                    ),
                    6,
                ),
                pixel_spacing=_vector(
                    _group_value(dataset, index, "PixelMeasuresSequence", "PixelSpacing"), 2
                ),
                rescale_slope=_float_or(
                    _group_value(
                        dataset, index, "PixelValueTransformationSequence", "RescaleSlope"
                    ),
                    1.0,
                ),
                rescale_intercept=_float_or(
                    _group_value(
                        dataset, index, "PixelValueTransformationSequence", "RescaleIntercept"
                    ),
                    0.0,
                ),
                frame_type=tuple(str(v) for v in (frame_type or dataset.get("ImageType") or ())),
            )
        )
    return frames


def expected_pixel_bytes(dataset: Dataset) -> int:
    """Rows × Columns × NumberOfFrames × SamplesPerPixel × BitsAllocated / 8, in bytes."""
    rows = int(dataset.get("Rows") or 0)
    columns = int(dataset.get("Columns") or 0)
    samples = int(dataset.get("SamplesPerPixel") or 1)
    bits = int(dataset.get("BitsAllocated") or 0)
    total_bits = rows * columns * number_of_frames(dataset) * samples * bits
    return (total_bits + 7) // 8


def pixel_length_problem(header: FileHeader) -> Problem | None:
    """A Problem if the header's image size disagrees with its pixel data, else ``None``.

    Checked before any pixel memory is allocated: a header that claims a gigantic image over a
    small Pixel Data element, or a file cut short, is refused here.
    """
    source = str(header.path)
    if header.pixels is None:
        return Problem(
            source,
            "the file has no Pixel Data element (the header ends before it or the file is "
            "truncated); copy the file again from the source.",
            tag=TAG_PIXEL_DATA,
        )
    expected = expected_pixel_bytes(header.dataset)
    if expected == 0:
        return Problem(
            source,
            "Rows, Columns or BitsAllocated is missing or zero, so the image size is unknown; "
            "the header is damaged. Re-export the series.",
            tag=TAG_ROWS,
        )
    length = header.pixels.length
    if length is None:
        return None
    if length not in (expected, expected + 1):
        return Problem(
            source,
            f"the header describes {expected:,} bytes of pixels (Rows × Columns × "
            f"NumberOfFrames × BitsAllocated / 8) but the Pixel Data element holds {length:,}; "
            "the header and the pixels disagree. Re-export the series.",
            tag=TAG_PIXEL_DATA,
            value=str(length),
        )
    offset = header.pixels.value_offset
    if offset is not None and header.file_size < offset + expected:
        return Problem(
            source,
            f"the file is truncated: the pixel data needs {expected:,} bytes from offset "
            f"{offset:,} but the file is {header.file_size:,} bytes long. Copy it again.",
            tag=TAG_PIXEL_DATA,
        )
    return None

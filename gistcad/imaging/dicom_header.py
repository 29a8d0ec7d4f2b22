"""Reading one DICOM file's header once, without its pixels, and where its pixels lie.

:func:`read_header` finds where the Pixel Data element lies (offset and length), so that a
header whose Rows × Columns × NumberOfFrames × BitsAllocated disagrees with the pixel data is
refused before any memory is allocated, and so that uncompressed pixels can later be read
straight from that offset into a preallocated array. (What the header says about each frame's
geometry is :func:`gistcad.imaging.series_checks.frames_of`.)

Two readers, one result. A file in Explicit VR Little Endian (what CT exports almost always
are) is read by a fast reader: one ``pread`` of its first 16 KiB, a walk over the top-level
elements up to Pixel Data, and a decoding of only the attributes that every file is checked on
(:data:`FAST_KEYWORDS`); the full pydicom ``Dataset`` is parsed later, only for the few
headers that need it (one per series, for :func:`~gistcad.imaging.deid.series_info`). Anything
the fast reader does not handle the way pydicom would, it leaves to pydicom: another transfer
syntax, enhanced multi-frame CT, an attribute that is empty, malformed or of an unexpected VR,
an unknown VR, a truncated or non-Part-10 file. Those are read by ``dcmread(...,
stop_before_pixels=True)`` exactly as before, so refusals and their messages do not depend on
which reader ran.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

from pydicom import dcmread
from pydicom.dataset import Dataset
from pydicom.errors import InvalidDicomError
from pydicom.uid import UID, DeflatedExplicitVRLittleEndian, ExplicitVRLittleEndian

from gistcad.problems import Problem

#: Tags as the reports name them.
TAG_POSITION = "ImagePositionPatient (0020,0032)"
TAG_ORIENTATION = "ImageOrientationPatient (0020,0037)"
TAG_SPACING = "PixelSpacing (0028,0030)"
TAG_PIXEL_DATA = "PixelData (7FE0,0010)"
TAG_ROWS = "Rows (0028,0010)"
TAG_PATIENT_ID = "PatientID (0010,0020)"

_PIXEL_DATA_TAG = (0x7FE0, 0x0010)
#: VRs with a 4-byte length (after 2 reserved bytes) in explicit VR.
_LONG_VRS = frozenset(b"OB OD OF OL OV OW SQ SV UC UN UR UT UV".split())
_UNDEFINED = 0xFFFFFFFF

#: The attributes the fast reader decodes from every file: tag → (keyword, expected VR).
_FAST_TAGS: dict[int, tuple[str, bytes]] = {
    0x00020002: ("MediaStorageSOPClassUID", b"UI"),
    0x00020010: ("TransferSyntaxUID", b"UI"),
    0x00080008: ("ImageType", b"CS"),
    0x00080016: ("SOPClassUID", b"UI"),
    0x00080018: ("SOPInstanceUID", b"UI"),
    0x00080060: ("Modality", b"CS"),
    0x00100020: ("PatientID", b"LO"),  # to refuse a series of several patients
    0x0020000E: ("SeriesInstanceUID", b"UI"),
    0x00200032: ("ImagePositionPatient", b"DS"),
    0x00200037: ("ImageOrientationPatient", b"DS"),
    0x00280002: ("SamplesPerPixel", b"US"),
    0x00280004: ("PhotometricInterpretation", b"CS"),
    0x00280008: ("NumberOfFrames", b"IS"),
    0x00280010: ("Rows", b"US"),
    0x00280011: ("Columns", b"US"),
    0x00280030: ("PixelSpacing", b"DS"),
    0x00280100: ("BitsAllocated", b"US"),
    0x00280101: ("BitsStored", b"US"),
    0x00280103: ("PixelRepresentation", b"US"),
    0x00281052: ("RescaleIntercept", b"DS"),
    0x00281053: ("RescaleSlope", b"DS"),
}
#: Keywords answered from the fast reader's values (absent there: absent from the file).
FAST_KEYWORDS = frozenset(keyword for keyword, _ in _FAST_TAGS.values())
_META_KEYWORDS = frozenset({"MediaStorageSOPClassUID", "TransferSyntaxUID"})
_FAST_HEAD_BYTES = 16 * 1024
_ELEMENT_HEAD = struct.Struct("<HH2sH")
_UINT32 = struct.Struct("<I")
_SHORT_VRS = frozenset(b"AE AS AT CS DA DS DT FD FL IS LO LT PN SH SL SS ST TM UI UL US".split())
_ITEM, _ITEM_END, _SEQUENCE_END = 0xFFFEE000, 0xFFFEE00D, 0xFFFEE0DD
_PIXEL_DATA = 0x7FE00010
#: Tags at which the fast reader stops and leaves the file to pydicom.
_FUNCTIONAL_GROUPS = frozenset({0x52009229, 0x52009230})  # Shared / PerFrame (enhanced CT)


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


@dataclass(frozen=True, eq=False)
class FileHeader:
    """One DICOM file's header (no pixels) and the location of its pixel data.

    Attributes
    ----------
    values
        The :data:`FAST_KEYWORDS` attributes as the fast reader decoded them (``int``,
        ``float`` or ``str``, a list when multi-valued: equal to pydicom's values, not of its
        types: no ``UID`` or ``DSfloat``), or ``None`` when pydicom read the file.
    parsed
        pydicom's dataset when pydicom read the file, else ``None``.

    Read attributes with :meth:`get`; :attr:`dataset` parses the whole header with pydicom if
    the fast reader read the file (use it only for what :meth:`get` cannot answer cheaply).
    """

    path: Path
    pixels: PixelElement | None
    file_size: int
    values: Mapping[str, Any] | None = None
    parsed: Dataset | None = None

    @cached_property
    def dataset(self) -> Dataset:
        """The whole header (no pixels) as a pydicom ``Dataset``, parsed on first use."""
        if self.parsed is not None:
            return self.parsed
        return dcmread(self.path, stop_before_pixels=True)

    def get(self, keyword: str, default: Any = None) -> Any:
        """An attribute's value by keyword (file meta included), or ``default`` if absent."""
        if self.values is not None and keyword in FAST_KEYWORDS:
            return self.values.get(keyword, default)
        if keyword in _META_KEYWORDS:
            return self.dataset.file_meta.get(keyword, default)
        return self.dataset.get(keyword, default)

    @property
    def is_enhanced(self) -> bool:
        """Whether the header has per-frame functional groups (enhanced multi-frame)."""
        return self.values is None and "PerFrameFunctionalGroupsSequence" in self.dataset


# --- the fast reader: Explicit VR Little Endian, top-level elements up to Pixel Data -------


class _NotFast(Exception):
    """The fast reader meets something it leaves to pydicom."""


class _ShortBuffer(_NotFast):
    """The header goes on past the bytes read so far."""


def _element(buf: bytes, pos: int) -> tuple[int, bytes, int, int]:
    """(tag, VR, value offset, value length) of the element at ``pos`` (explicit VR LE)."""
    if pos + 8 > len(buf):
        raise _ShortBuffer
    group, number, vr, length = _ELEMENT_HEAD.unpack_from(buf, pos)
    tag = group << 16 | number
    if group == 0xFFFE:  # item and delimiters carry no VR
        return tag, b"", pos + 8, _UINT32.unpack_from(buf, pos + 4)[0]
    if vr in _LONG_VRS:
        if pos + 12 > len(buf):
            raise _ShortBuffer
        return tag, vr, pos + 12, _UINT32.unpack_from(buf, pos + 8)[0]
    if vr not in _SHORT_VRS:
        raise _NotFast
    return tag, vr, pos + 8, length


def _skip_sequence(buf: bytes, pos: int) -> int:
    """The offset after an undefined-length sequence whose first item starts at ``pos``."""
    while True:
        tag, _, start, length = _element(buf, pos)
        if tag == _SEQUENCE_END:
            return start
        if tag != _ITEM:
            raise _NotFast
        pos = _skip_item(buf, start) if length == _UNDEFINED else start + length


def _skip_item(buf: bytes, pos: int) -> int:
    """The offset after an undefined-length item whose first element starts at ``pos``."""
    while True:
        tag, vr, start, length = _element(buf, pos)
        if tag == _ITEM_END:
            return start
        if length != _UNDEFINED:
            pos = start + length
        elif vr == b"SQ":
            pos = _skip_sequence(buf, start)
        else:
            raise _NotFast


def _split(text: str, kind: Any) -> Any:
    """One value, or a list for a multi-valued one (pydicom's ``multi_string`` rule)."""
    items = text.rstrip(" \x00").split("\\")
    return kind(items[0]) if len(items) == 1 else [kind(item) for item in items]


def _decode(vr: bytes, raw: bytes) -> Any:
    """An attribute's value as pydicom gives it (``float`` for DS); empty values not handled."""
    if not raw:
        raise _NotFast
    try:
        if vr == b"US":
            numbers = struct.unpack(f"<{len(raw) // 2}H", raw)
            return numbers[0] if len(numbers) == 1 else list(numbers)
        text = raw.decode("ascii")
        if vr == b"LO" and not text.isprintable():
            raise _NotFast  # ISO 2022 escapes: pydicom decodes with the character set
        if vr == b"UI":
            return _split(text.rstrip("\0 "), str)
        return _split(text, {b"DS": float, b"IS": int}.get(vr, str))
    except (ValueError, struct.error) as exc:  # UnicodeDecodeError is a ValueError
        raise _NotFast from exc


def _read_meta(buf: bytes, values: dict[str, Any]) -> int:
    """Decode the file meta group; return where the dataset starts."""
    if buf[128:132] != b"DICM":
        raise _NotFast
    pos = 132
    while True:
        tag, vr, start, length = _element(buf, pos)
        if tag >> 16 != 0x0002:
            return pos
        if length == _UNDEFINED:
            raise _NotFast
        _keep(tag, vr, buf[start : start + length], values)
        pos = start + length


def _keep(tag: int, vr: bytes, raw: bytes, values: dict[str, Any]) -> None:
    wanted = _FAST_TAGS.get(tag)
    if wanted is not None:
        if vr != wanted[1]:
            raise _NotFast
        values[wanted[0]] = _decode(vr, raw)


def _walk(buf: bytes, pos: int, values: dict[str, Any]) -> PixelElement:
    """Decode the wanted top-level elements from ``pos`` up to Pixel Data, and locate it."""
    while True:
        tag, vr, start, length = _element(buf, pos)
        if tag == _PIXEL_DATA:
            if vr not in (b"OW", b"OB") or length == _UNDEFINED:
                raise _NotFast
            return PixelElement(length=length, value_offset=start)
        if tag >= 0x7FE00000 or tag >> 16 == 0xFFFE or tag in _FUNCTIONAL_GROUPS:
            raise _NotFast
        if length == _UNDEFINED:
            if vr != b"SQ":
                raise _NotFast
            pos = _skip_sequence(buf, start)
            continue
        if start + length > len(buf):
            raise _ShortBuffer
        _keep(tag, vr, buf[start : start + length], values)
        pos = start + length


def _read_fast(path: Path, size: int) -> FileHeader | None:
    """The header by the fast reader, or ``None`` where pydicom must read the file."""
    want = _FAST_HEAD_BYTES
    fd = os.open(path, os.O_RDONLY)
    try:
        while True:
            buf = os.pread(fd, min(want, size), 0)
            values: dict[str, Any] = {}
            try:
                pos = _read_meta(buf, values)
                if values.get("TransferSyntaxUID") != ExplicitVRLittleEndian:
                    return None
                pixels = _walk(buf, pos, values)
            except _ShortBuffer:
                if len(buf) >= size:
                    return None
                want *= 8
                continue
            except _NotFast:
                return None
            return FileHeader(path=path, pixels=pixels, file_size=size, values=values)
    finally:
        os.close(fd)


# --- pydicom's reader, for everything else ------------------------------------------------


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
    """Read one file's header, or say in a :class:`Problem` why it is not a usable DICOM file.

    The fast reader tries first; pydicom reads what it leaves (see the module docstring).
    """
    try:
        header = _read_fast(Path(path), os.path.getsize(path))
    except OSError:
        header = None
    return header if header is not None else _read_with_pydicom(path)


def _read_with_pydicom(path: Path) -> FileHeader | Problem:
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
    return FileHeader(path=Path(path), pixels=pixels, file_size=size, parsed=dataset)


def transfer_syntax(header: FileHeader) -> UID:
    """The file's transfer syntax UID (Explicit VR Little Endian if the meta lacks one)."""
    return UID(str(header.get("TransferSyntaxUID", "1.2.840.10008.1.2.1")))

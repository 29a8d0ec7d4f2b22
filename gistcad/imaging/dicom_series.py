"""Finding the CT series in a pile of DICOM files, checking their geometry, and loading them.

:func:`scan_dicom` reads every header once (without pixels), groups the files by
SeriesInstanceUID, sets aside what is not an axial CT image series (with the reason) and
collects SEG and RTSTRUCT objects for :mod:`gistcad.imaging.dicom_masks`. Each CT series is
checked before a byte of pixel memory is allocated: slices are sorted by their position along
the slice normal (never by file name or InstanceNumber), and a series with a missing slice,
a duplicated position, non-uniform spacing, gantry tilt, no ImagePositionPatient, a header
that disagrees with its pixel data, or a volume over the size cap is refused with the file,
the tag and what to do. :func:`load_series` then decodes the pixels straight into one
preallocated array and returns a :class:`~gistcad.imaging.volume.Volume` in Hounsfield units.

Geometry (see :mod:`gistcad.imaging.volume`): the slice normal is the cross product of the
ImageOrientationPatient row and column cosines; slice ``k`` of the volume is the slice with the
``k``-th smallest ImagePositionPatient · normal. The affine is built in DICOM's LPS+ and flipped
to RAS+ (:func:`~gistcad.imaging.volume.lps_to_ras`).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

import numpy as np
import numpy.typing as npt
from pydicom.uid import (
    UID,
    CTImageStorage,
    EnhancedCTImageStorage,
    LegacyConvertedEnhancedCTImageStorage,
    MediaStorageDirectoryStorage,
    RTStructureSetStorage,
    SegmentationStorage,
)

from gistcad.errors import ValidationError
from gistcad.imaging import series_checks, stacking
from gistcad.imaging.deid import SeriesInfo, identifying_values, patient_key, series_info
from gistcad.imaging.dicom_header import (
    TAG_ORIENTATION,
    FileHeader,
    read_header,
    transfer_syntax,
)
from gistcad.imaging.dicom_pixels import load_series
from gistcad.problems import Problem

logger = logging.getLogger(__name__)

#: Refuse a series whose float32 volume would exceed this many bytes (2 GiB).
DEFAULT_MAX_VOLUME_BYTES = 2 * 1024**3

CT_IMAGE_SOP_CLASSES = frozenset(
    {CTImageStorage, EnhancedCTImageStorage, LegacyConvertedEnhancedCTImageStorage}
)


class MaskKind(StrEnum):
    SEG = "SEG"
    RTSTRUCT = "RTSTRUCT"


@dataclass(frozen=True)
class MaskObject:
    """A DICOM SEG or RTSTRUCT found by :func:`scan_dicom`, with what it references."""

    path: Path
    kind: MaskKind
    sop_instance_uid: str
    series_instance_uid: str
    frame_of_reference_uid: str | None
    referenced_series_uids: tuple[str, ...]
    referenced_sop_instance_uids: tuple[str, ...]


@dataclass(frozen=True)
class SliceRef:
    """One slice of a series: which file and frame holds it, where it lies, how to rescale it.

    ``position_mm`` is ImagePositionPatient in LPS+ mm; ``value_offset`` is the byte offset of
    uncompressed little-endian pixel data in the file (``None``: pydicom decodes the file).
    """

    path: Path
    frame: int
    sop_instance_uid: str
    position_mm: tuple[float, ...]
    rescale_slope: float
    rescale_intercept: float
    transfer_syntax_uid: str
    value_offset: int | None


@dataclass(frozen=True, eq=False)
class DicomSeries:
    """An axial CT series that passed every check, ready for :func:`load_series`.

    Attributes
    ----------
    info
        Non-identifying facts for the store (:class:`~gistcad.imaging.deid.SeriesInfo`).
    patient_id
        The PatientID as written, or ``None``. IDENTIFYING: pseudonymise before storing.
    slices
        Sorted by position along the slice normal; ``slices[k]`` is volume slice ``k``.
    rows, columns
        Pixels per slice: the volume's shape is ``(columns, rows, len(slices))``.
    affine
        Voxel (i, j, k) → RAS+ mm, (4, 4).
    identifying_values
        The identifying values of the series' header
        (:func:`~gistcad.imaging.deid.identifying_values`), to scrub the names of the masks
        drawn on it. IDENTIFYING: never stored, logged or shown.
    """

    info: SeriesInfo
    patient_id: str | None
    slices: tuple[SliceRef, ...]
    rows: int
    columns: int
    bits_allocated: int
    bits_stored: int
    pixel_representation: int
    affine: npt.NDArray[np.float64]
    identifying_values: frozenset[str] = field(default=frozenset(), repr=False)

    @property
    def series_instance_uid(self) -> str:
        return self.info.series_instance_uid

    @property
    def shape(self) -> tuple[int, int, int]:
        """Shape (I, J, K) = (columns, rows, slices) of the volume :func:`load_series` returns."""
        return self.columns, self.rows, len(self.slices)

    @property
    def spacing_mm(self) -> npt.NDArray[np.float64]:
        """Voxel spacing along i, j, k in mm, shape (3,)."""
        return np.asarray(np.linalg.norm(self.affine[:3, :3], axis=0), dtype=np.float64)

    @property
    def files(self) -> tuple[Path, ...]:
        """The files of the series, once each, in slice order."""
        return tuple(dict.fromkeys(s.path for s in self.slices))

    @property
    def sop_instance_uids(self) -> tuple[str, ...]:
        """SOPInstanceUIDs in slice order (repeated for the frames of a multi-frame file)."""
        return tuple(s.sop_instance_uid for s in self.slices)


@dataclass(frozen=True)
class DicomScan:
    """What :func:`scan_dicom` found.

    Attributes
    ----------
    series
        Axial CT series that passed every check, by SeriesInstanceUID.
    masks
        SEG and RTSTRUCT objects, to pair with ``series`` (:mod:`gistcad.imaging.dicom_masks`).
    skipped
        Files or series deliberately left out, with the reason: not DICOM, truncated header,
        localizers, other modalities, non-image objects, non-axial reformats.
    problems
        CT series refused because something is wrong with them; importing them needs a fix.
    """

    series: tuple[DicomSeries, ...]
    masks: tuple[MaskObject, ...]
    skipped: tuple[Problem, ...]
    problems: tuple[Problem, ...]


# --- listing and classifying files --------------------------------------------------------


def list_files(paths: str | os.PathLike[str] | Iterable[str | os.PathLike[str]]) -> list[Path]:
    """Files to scan: a folder searched recursively, one file, or an iterable of either."""
    items = [paths] if isinstance(paths, (str, os.PathLike)) else list(paths)
    found: list[Path] = []
    for item in items:
        path = Path(item)
        if path.is_dir():
            for root, dirs, names in os.walk(path):
                dirs.sort()
                found.extend(Path(root) / name for name in sorted(names))
        elif path.exists():
            found.append(path)
        else:
            raise ValidationError(f"{path}: no such file or folder; check the path")
    return found


def _mask_object(header: FileHeader, kind: MaskKind) -> MaskObject:
    ds = header.dataset  # the references are in sequences: the full header is needed
    series_uids: list[str] = []
    sop_uids: list[str] = []
    frame_of_reference = ds.get("FrameOfReferenceUID")
    for item in ds.get("ReferencedSeriesSequence") or ():
        series_uids.append(str(item.get("SeriesInstanceUID", "")))
        sop_uids += [
            str(r.get("ReferencedSOPInstanceUID", ""))
            for r in item.get("ReferencedInstanceSequence") or ()
        ]
    for ref_for in ds.get("ReferencedFrameOfReferenceSequence") or ():
        frame_of_reference = frame_of_reference or ref_for.get("FrameOfReferenceUID")
        for study in ref_for.get("RTReferencedStudySequence") or ():
            for series in study.get("RTReferencedSeriesSequence") or ():
                series_uids.append(str(series.get("SeriesInstanceUID", "")))
                sop_uids += [
                    str(c.get("ReferencedSOPInstanceUID", ""))
                    for c in series.get("ContourImageSequence") or ()
                ]
    return MaskObject(
        path=header.path,
        kind=kind,
        sop_instance_uid=str(ds.get("SOPInstanceUID", "")),
        series_instance_uid=str(ds.get("SeriesInstanceUID", "")),
        frame_of_reference_uid=str(frame_of_reference) if frame_of_reference else None,
        referenced_series_uids=tuple(dict.fromkeys(u for u in series_uids if u)),
        referenced_sop_instance_uids=tuple(dict.fromkeys(u for u in sop_uids if u)),
    )


def _classify(header: FileHeader) -> MaskObject | Problem | None:
    """A mask object, a skip reason, or ``None`` for a CT image to group into a series."""
    source = str(header.path)
    sop = str(header.get("SOPClassUID") or header.get("MediaStorageSOPClassUID") or "")
    modality = str(header.get("Modality") or "").strip().upper()
    if sop == MediaStorageDirectoryStorage:
        return Problem(source, "a DICOMDIR index; the files it lists are scanned directly")
    if sop == SegmentationStorage or modality == "SEG":
        return _mask_object(header, MaskKind.SEG)
    if sop == RTStructureSetStorage or modality == "RTSTRUCT":
        return _mask_object(header, MaskKind.RTSTRUCT)
    if modality and modality != "CT":
        return Problem(
            source,
            f"modality {modality} is not CT; gistcad imports CT series (and SEG/RTSTRUCT) only",
            tag="Modality (0008,0060)",
            value=modality,
        )
    if sop not in CT_IMAGE_SOP_CLASSES:
        name = UID(sop).name if sop else ""
        return Problem(
            source,
            f"{name or 'an object without SOPClassUID'} is not a CT image; skipped",
            tag="SOPClassUID (0008,0016)",
            value=sop,
        )
    image_type = [str(v).upper() for v in (header.get("ImageType") or ())]
    if "LOCALIZER" in image_type:
        return Problem(
            source,
            "a localizer (scout) image, not part of a volume; skipped",
            tag="ImageType (0008,0008)",
            value="\\".join(image_type),
        )
    return None


# --- building one series ------------------------------------------------------------------


def _slice_refs(
    frames: Sequence[series_checks.Frame], order: Sequence[int] | npt.NDArray[np.intp]
) -> tuple[SliceRef, ...]:
    refs = []
    for index in order:
        frame = frames[index]
        header, geometry = frame.header, frame.geometry
        refs.append(
            SliceRef(
                path=header.path,
                frame=geometry.frame,
                sop_instance_uid=str(header.get("SOPInstanceUID", "")),
                position_mm=tuple(geometry.position or ()),
                rescale_slope=geometry.rescale_slope,
                rescale_intercept=geometry.rescale_intercept,
                transfer_syntax_uid=str(transfer_syntax(header)),
                value_offset=header.pixels.value_offset if header.pixels else None,
            )
        )
    return tuple(refs)


def _build_series(
    uid: str, headers: Sequence[FileHeader], max_bytes: int
) -> tuple[DicomSeries | None, list[Problem], list[Problem]]:
    """One series from its files: (series or None, skipped, problems)."""
    problems = series_checks.format_problems(headers)
    mixed = series_checks.patient_problem(headers, uid)
    problems += [mixed] if mixed else []
    frames = series_checks.series_frames(headers)
    if not frames:
        return (
            None,
            [Problem(str(headers[0].path), f"series {uid} holds only localizer frames")],
            [],
        )
    problems += series_checks.required_problems(frames, uid)
    if problems:
        return None, [], problems
    frames, skipped, problems = series_checks.split_orientations(frames, uid)
    if problems:
        return None, skipped, problems
    source = str(frames[0].header.path)
    orientation = np.asarray(frames[0].geometry.orientation, dtype=np.float64)
    if not stacking.is_axial(orientation):
        return (
            None,
            [
                *skipped,
                Problem(
                    source,
                    f"series {uid} is not axial (a sagittal or "
                    "coronal reformat); gistcad imports axial CT; skipped",
                    tag=TAG_ORIENTATION,
                    value=str(tuple(orientation)),
                ),
            ],
            [],
        )
    if len(frames) < 2:
        return (
            None,
            [*skipped, Problem(source, f"series {uid} has a single slice, not a volume; skipped")],
            [],
        )
    problems = series_checks.consistency_problems(frames, uid)
    size = series_checks.size_problem(frames, max_bytes, uid)
    problems += [size] if size else []
    positions = np.asarray([f.geometry.position for f in frames], dtype=np.float64)
    result = stacking.check_stack(positions, orientation)
    stack = series_checks.stack_problem(frames, result, uid)
    problems += [stack] if stack else []
    if problems:
        return None, skipped, problems
    try:
        info = series_info(frames[0].header.dataset)
    except ValidationError as exc:
        return None, skipped, [Problem(source, str(exc))]
    try:
        patient_id: str | None = patient_key(frames[0].header.dataset)
    except ValidationError:
        patient_id = None
    first = frames[0].header
    affine = stacking.affine_ras(
        orientation, frames[0].geometry.pixel_spacing or (1.0, 1.0), positions[result.order]
    )
    series = DicomSeries(
        info=info,
        patient_id=patient_id,
        slices=_slice_refs(frames, result.order),
        rows=int(first.get("Rows")),
        columns=int(first.get("Columns")),
        bits_allocated=int(first.get("BitsAllocated")),
        bits_stored=int(first.get("BitsStored") or first.get("BitsAllocated")),
        pixel_representation=int(first.get("PixelRepresentation") or 0),
        affine=affine,
        identifying_values=identifying_values(frames[0].header.dataset),
    )
    return series, skipped, []


def scan_dicom(
    paths: str | os.PathLike[str] | Iterable[str | os.PathLike[str]],
    *,
    max_volume_bytes: int = DEFAULT_MAX_VOLUME_BYTES,
) -> DicomScan:
    """Find and check the axial CT series (and SEG/RTSTRUCT objects) among files.

    Parameters
    ----------
    paths
        A folder (searched recursively), a file, or an iterable of folders and files.
    max_volume_bytes
        Refuse a series whose float32 volume would be larger than this (default 2 GiB).

    Returns
    -------
    DicomScan
        Kept series, mask objects, skipped files (with reasons) and refused series (problems).
        Headers are read once, without pixels; no pixel memory is allocated.
    """
    skipped: list[Problem] = []
    problems: list[Problem] = []
    masks: list[MaskObject] = []
    groups: dict[str, list[FileHeader]] = {}
    for path in list_files(paths):
        header = read_header(path)
        if isinstance(header, Problem):
            skipped.append(header)
            continue
        outcome = _classify(header)
        if isinstance(outcome, MaskObject):
            masks.append(outcome)
        elif isinstance(outcome, Problem):
            skipped.append(outcome)
        else:
            uid = str(header.get("SeriesInstanceUID") or "").strip()
            if not uid:
                problems.append(
                    Problem(
                        str(path),
                        "SeriesInstanceUID is missing, so the slice "
                        "cannot be grouped; re-export the series",
                        tag="SeriesInstanceUID (0020,000E)",
                    )
                )
                continue
            groups.setdefault(uid, []).append(header)
    kept: list[DicomSeries] = []
    for uid, headers in groups.items():
        series, series_skipped, series_problems = _build_series(uid, headers, max_volume_bytes)
        skipped += series_skipped
        problems += series_problems
        if series is not None:
            kept.append(series)
    logger.info(
        "scanned DICOM: %d series kept, %d masks, %d skipped, %d problems",
        len(kept),
        len(masks),
        len(skipped),
        len(problems),
    )
    return DicomScan(tuple(kept), tuple(masks), tuple(skipped), tuple(problems))


__all__ = [
    "DEFAULT_MAX_VOLUME_BYTES",
    "DicomScan",
    "DicomSeries",
    "MaskKind",
    "MaskObject",
    "SliceRef",
    "list_files",
    "load_series",
    "scan_dicom",
]

"""The frames of one series, and the checks on them before it is accepted, one function each.

:func:`frames_of` turns a file header into per-frame geometry, for classic single-frame CT and
for enhanced multi-frame CT (per-frame or shared functional groups) alike; positions and
orientations are DICOM's, in LPS+ millimetres. Each check takes the frames (file header +
per-frame geometry) of one SeriesInstanceUID and returns :class:`~gistcad.problems.Problem`s
naming the file and tag; none allocates pixel memory. :mod:`gistcad.imaging.dicom_series` runs
them in order.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from pydicom.dataset import Dataset

from gistcad.imaging.dicom_header import (
    TAG_ORIENTATION,
    TAG_PATIENT_ID,
    TAG_PIXEL_DATA,
    TAG_POSITION,
    TAG_ROWS,
    TAG_SPACING,
    FileHeader,
)
from gistcad.imaging.stacking import StackCheck
from gistcad.problems import Problem

# --- the frames of a header ---------------------------------------------------------------


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


def number_of_frames(header: FileHeader) -> int:
    """NumberOfFrames (0028,0008), 1 when absent or empty."""
    value = header.get("NumberOfFrames")
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


def frames_of(header: FileHeader) -> list[FrameGeometry]:
    """Per-frame geometry of a classic or an enhanced (multi-frame) CT header."""
    if not header.is_enhanced:
        return [
            FrameGeometry(
                frame=0,
                position=_vector(header.get("ImagePositionPatient"), 3),
                orientation=_vector(header.get("ImageOrientationPatient"), 6),
                pixel_spacing=_vector(header.get("PixelSpacing"), 2),
                rescale_slope=_float_or(header.get("RescaleSlope"), 1.0),
                rescale_intercept=_float_or(header.get("RescaleIntercept"), 0.0),
                frame_type=tuple(str(v) for v in (header.get("ImageType") or ())),
            )
        ]
    dataset = header.dataset
    frames = []
    for index in range(number_of_frames(header)):
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


# --- the checks -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Frame:
    header: FileHeader
    geometry: FrameGeometry


def series_frames(headers: Sequence[FileHeader]) -> list[Frame]:
    frames = []
    for header in headers:
        for geometry in frames_of(header):
            if "LOCALIZER" in (t.upper() for t in geometry.frame_type):
                continue
            frames.append(Frame(header, geometry))
    return frames


def required_problems(frames: Sequence[Frame], uid: str) -> list[Problem]:
    problems = []
    for attribute, tag, what in (
        ("position", TAG_POSITION, "where each slice lies"),
        ("orientation", TAG_ORIENTATION, "how the slices are oriented"),
        ("pixel_spacing", TAG_SPACING, "the pixel size"),
    ):
        missing = [f for f in frames if getattr(f.geometry, attribute) is None]
        if missing:
            problems.append(
                Problem(
                    str(missing[0].header.path),
                    f"{len(missing)} of {len(frames)} slices of series {uid} lack {tag.split()[0]}"
                    f" (or it is malformed), so {what} is unknown; the series is refused. "
                    "Re-export it from the scanner or PACS with full geometry.",
                    tag=tag,
                )
            )
    return problems


def expected_pixel_bytes(header: FileHeader) -> int:
    """Rows × Columns × NumberOfFrames × SamplesPerPixel × BitsAllocated / 8, in bytes."""
    rows = int(header.get("Rows") or 0)
    columns = int(header.get("Columns") or 0)
    samples = int(header.get("SamplesPerPixel") or 1)
    bits = int(header.get("BitsAllocated") or 0)
    total_bits = rows * columns * number_of_frames(header) * samples * bits
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
    expected = expected_pixel_bytes(header)
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


def format_problems(headers: Sequence[FileHeader]) -> list[Problem]:
    problems = []
    for header in headers:
        problem = pixel_length_problem(header)
        if problem is not None:
            problems.append(problem)
            continue
        photometric = str(header.get("PhotometricInterpretation", "MONOCHROME2")).strip()
        if int(header.get("SamplesPerPixel") or 1) != 1 or photometric != "MONOCHROME2":
            problems.append(
                Problem(
                    str(header.path),
                    "a CT slice must be greyscale MONOCHROME2 with one "
                    "sample per pixel; re-export the original (not a screenshot or colour "
                    "rendering)",
                    tag="PhotometricInterpretation (0028,0004)",
                    value=photometric,
                )
            )
        elif int(header.get("BitsAllocated") or 0) not in (8, 16, 32):
            problems.append(
                Problem(
                    str(header.path),
                    "BitsAllocated must be 8, 16 or 32",
                    tag="BitsAllocated (0028,0100)",
                    value=str(header.get("BitsAllocated")),
                )
            )
    return problems


def patient_problem(headers: Sequence[FileHeader], uid: str) -> Problem | None:
    """A Problem if the files of one series carry different PatientIDs, else ``None``.

    The series would otherwise be filed under one of them. The message names a file of each
    PatientID, never the ids themselves (they identify the patients).
    """
    groups: dict[str, list[FileHeader]] = {}
    for header in headers:
        groups.setdefault(str(header.get("PatientID") or "").strip(), []).append(header)
    if len(groups) < 2:
        return None
    largest, *others = sorted(groups.values(), key=len, reverse=True)
    elsewhere = "; ".join(f"{len(group)} like {group[0].path}" for group in others)
    return Problem(
        str(largest[0].path),
        f"the files of series {uid} carry {len(groups)} different PatientIDs (a missing one "
        f"counts as one): {len(largest)} file(s) like this one; {elsewhere}. A series is one "
        "patient's scan, and gistcad will not guess whose it is. Separate the files by "
        "patient, or re-export the series from the PACS, and import again.",
        tag=TAG_PATIENT_ID,
    )


def consistency_problems(frames: Sequence[Frame], uid: str) -> list[Problem]:
    first = frames[0].header
    problems = []
    for keyword, tag in (
        ("Rows", "Rows (0028,0010)"),
        ("Columns", "Columns (0028,0011)"),
        ("BitsAllocated", "BitsAllocated (0028,0100)"),
        ("PixelRepresentation", "PixelRepresentation (0028,0103)"),
    ):
        for frame in frames:
            if frame.header.get(keyword) != first.get(keyword):
                problems.append(
                    Problem(
                        str(frame.header.path),
                        f"{keyword} differs within series {uid} "
                        f"({frame.header.get(keyword)} here, {first.get(keyword)} in "
                        f"{frames[0].header.path.name}); a volume "
                        "needs identical slices. Split or re-export the series.",
                        tag=tag,
                    )
                )
                break
    spacing0 = np.asarray(frames[0].geometry.pixel_spacing, dtype=np.float64)
    for frame in frames:
        if frame.geometry.pixel_spacing == frames[0].geometry.pixel_spacing:
            continue
        spacing = np.asarray(frame.geometry.pixel_spacing, dtype=np.float64)
        if not np.allclose(spacing, spacing0, rtol=0, atol=1e-4):
            problems.append(
                Problem(
                    str(frame.header.path),
                    f"PixelSpacing differs within series {uid} "
                    f"({frame.geometry.pixel_spacing} here, {tuple(spacing0)} in "
                    f"{frames[0].header.path.name}); re-export the series.",
                    tag=TAG_SPACING,
                )
            )
            break
    return problems


def split_orientations(
    frames: list[Frame], uid: str
) -> tuple[list[Frame], list[Problem], list[Problem]]:
    """The main-orientation frames; lone slices of another orientation (localizers) skipped."""
    groups: dict[tuple[float, ...], list[Frame]] = {}
    for frame in frames:
        key = tuple(round(v, 3) + 0.0 for v in frame.geometry.orientation or ())
        groups.setdefault(key, []).append(frame)
    if len(groups) == 1:
        return frames, [], []
    ordered = sorted(groups.values(), key=len, reverse=True)
    main, others = ordered[0], ordered[1:]
    skipped, problems = [], []
    for group in others:
        if len(group) == 1:
            skipped.append(
                Problem(
                    str(group[0].header.path),
                    f"a single slice of series {uid} with a different orientation: taken as a "
                    "localizer and skipped",
                    tag=TAG_ORIENTATION,
                    value=str(group[0].geometry.orientation),
                )
            )
        else:
            problems.append(
                Problem(
                    str(group[0].header.path),
                    f"series {uid} mixes slice orientations ({len(main)} slices one way, "
                    f"{len(group)} another); export each orientation as its own series.",
                    tag=TAG_ORIENTATION,
                )
            )
    return main, skipped, problems


def size_problem(frames: Sequence[Frame], max_bytes: int, uid: str) -> Problem | None:
    rows, columns = int(frames[0].header.get("Rows")), int(frames[0].header.get("Columns"))
    nbytes = rows * columns * len(frames) * 4
    if nbytes <= max_bytes:
        return None
    return Problem(
        str(frames[0].header.path),
        f"series {uid} would need {nbytes / 1024**3:.2f} GiB as float32 ({columns}×{rows}"
        f"×{len(frames)} voxels), over the cap of {max_bytes / 1024**3:.2f} GiB; raise the cap "
        "if the machine has the memory, or export a smaller series.",
        tag="Rows (0028,0010)",
    )


def stack_problem(frames: Sequence[Frame], result: StackCheck, uid: str) -> Problem | None:
    """The stack check's problem at its culprit slice (with GantryDetectorTilt, if written)."""
    if result.problem is None:
        return None
    culprit = frames[result.culprit] if result.culprit is not None else frames[0]
    tilt = culprit.header.get("GantryDetectorTilt")
    extra = f" (GantryDetectorTilt (0018,1120) = {tilt})" if tilt not in (None, "") else ""
    return Problem(
        str(culprit.header.path), f"series {uid}: {result.problem}{extra}", tag=TAG_POSITION
    )

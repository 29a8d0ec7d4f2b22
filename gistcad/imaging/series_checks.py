"""Checks on the frames of one series before it is accepted: the rules, one function each.

Each function takes the frames (file header + per-frame geometry) of one SeriesInstanceUID and
returns :class:`~gistcad.ingest.report.Problem`s naming the file and tag; none allocates pixel
memory. :mod:`gistcad.imaging.dicom_series` runs them in order.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from gistcad.imaging.dicom_header import (
    TAG_ORIENTATION,
    TAG_POSITION,
    TAG_SPACING,
    FileHeader,
    FrameGeometry,
    frames_of,
    pixel_length_problem,
)
from gistcad.ingest.report import Problem


@dataclass(frozen=True)
class Frame:
    header: FileHeader
    geometry: FrameGeometry


def series_frames(headers: Sequence[FileHeader]) -> list[Frame]:
    frames = []
    for header in headers:
        for geometry in frames_of(header.dataset):
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


def format_problems(headers: Sequence[FileHeader]) -> list[Problem]:
    problems = []
    for header in headers:
        problem = pixel_length_problem(header)
        if problem is not None:
            problems.append(problem)
            continue
        ds = header.dataset
        photometric = str(ds.get("PhotometricInterpretation", "MONOCHROME2")).strip()
        if int(ds.get("SamplesPerPixel") or 1) != 1 or photometric != "MONOCHROME2":
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
        elif int(ds.get("BitsAllocated") or 0) not in (8, 16, 32):
            problems.append(
                Problem(
                    str(header.path),
                    "BitsAllocated must be 8, 16 or 32",
                    tag="BitsAllocated (0028,0100)",
                    value=str(ds.get("BitsAllocated")),
                )
            )
    return problems


def consistency_problems(frames: Sequence[Frame], uid: str) -> list[Problem]:
    first = frames[0].header.dataset
    problems = []
    for keyword, tag in (
        ("Rows", "Rows (0028,0010)"),
        ("Columns", "Columns (0028,0011)"),
        ("BitsAllocated", "BitsAllocated (0028,0100)"),
        ("PixelRepresentation", "PixelRepresentation (0028,0103)"),
    ):
        for frame in frames:
            if frame.header.dataset.get(keyword) != first.get(keyword):
                problems.append(
                    Problem(
                        str(frame.header.path),
                        f"{keyword} differs within series {uid} "
                        f"({frame.header.dataset.get(keyword)} here, {first.get(keyword)} in "
                        f"{frames[0].header.path.name}); a volume "
                        "needs identical slices. Split or re-export the series.",
                        tag=tag,
                    )
                )
                break
    spacing0 = np.asarray(frames[0].geometry.pixel_spacing, dtype=np.float64)
    for frame in frames:
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
    ds = frames[0].header.dataset
    nbytes = int(ds.Rows) * int(ds.Columns) * len(frames) * 4
    if nbytes <= max_bytes:
        return None
    return Problem(
        str(frames[0].header.path),
        f"series {uid} would need {nbytes / 1024**3:.2f} GiB as float32 ({ds.Columns}×{ds.Rows}"
        f"×{len(frames)} voxels), over the cap of {max_bytes / 1024**3:.2f} GiB; raise the cap "
        "if the machine has the memory, or export a smaller series.",
        tag="Rows (0028,0010)",
    )

"""Pure geometry of a stack of DICOM slices: order, spacing, tilt, and the affine.

All inputs are DICOM's: ImageOrientationPatient (6,) = row cosine then column cosine, and
ImagePositionPatient (N, 3), in LPS+ millimetres. Tolerances are module constants so that a
reader can see exactly what "uniform" means.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from gistcad.imaging.volume import lps_to_ras

#: Two slice gaps are "equal" within SPACING_ATOL_MM + SPACING_RTOL × median gap.
SPACING_ATOL_MM = 0.02
SPACING_RTOL = 0.01
#: Slices closer than this along the normal are at the same position (a duplicate).
DUPLICATE_ATOL_MM = 0.01
#: The stack may deviate sideways from the normal by this (rounding of positions)...
SIDEWAYS_ATOL_MM = 0.1
#: ... plus this angle (degrees) times the distance along the normal.
TILT_TOLERANCE_DEG = 0.1
#: A series is axial if its slice normal is within 45° of the body axis (z).
AXIAL_MIN_COSINE = math.cos(math.radians(45.0))


@dataclass(frozen=True)
class StackCheck:
    """The outcome of :func:`check_stack`.

    Attributes
    ----------
    order
        Indices that sort the slices by position along the normal (ascending), shape (N,).
    problem
        ``None`` if the stack is a regular grid, else what is wrong, in words.
    culprit
        Index (into the unsorted input) of a slice at the problem, if any.
    """

    order: npt.NDArray[np.intp]
    problem: str | None = None
    culprit: int | None = None


def slice_normal(orientation: npt.ArrayLike) -> npt.NDArray[np.float64]:
    """Unit normal of the slice plane: row cosine × column cosine, shape (3,).

    >>> slice_normal([1, 0, 0, 0, 1, 0]).tolist()
    [0.0, 0.0, 1.0]
    """
    cosines = np.asarray(orientation, dtype=np.float64)
    normal = np.cross(cosines[:3], cosines[3:])
    return np.asarray(normal / np.linalg.norm(normal), dtype=np.float64)


def is_axial(orientation: npt.ArrayLike) -> bool:
    """Whether the slice normal lies within 45° of the patient's z (foot-head) axis."""
    return bool(abs(slice_normal(orientation)[2]) >= AXIAL_MIN_COSINE)


def _gap_problem(
    distances: npt.NDArray[np.float64], order: npt.NDArray[np.intp]
) -> StackCheck | None:
    gaps = np.diff(distances[order])
    for n, gap in enumerate(gaps):
        if gap < DUPLICATE_ATOL_MM:
            return StackCheck(
                order,
                f"two slices lie at the same position ({distances[order[n]]:.3f} mm along the "
                "normal): a duplicated slice, or two acquisitions in one series. Remove the "
                "duplicate or export each acquisition as its own series.",
                int(order[n + 1]),
            )
    median = float(np.median(gaps))
    tolerance = SPACING_ATOL_MM + SPACING_RTOL * median
    irregular = [n for n, gap in enumerate(gaps) if abs(gap - median) > tolerance]
    if not irregular:
        return None
    n = irregular[0]
    where = (
        f"between {distances[order[n]]:.3f} mm and {distances[order[n + 1]]:.3f} mm along "
        "the slice normal"
    )
    # Missing slices leave a few gaps of whole multiples of an otherwise constant spacing;
    # anything else (other gaps, or many of them: the spacing changes) is non-uniform.
    if _are_few_whole_multiples(gaps[irregular], median, tolerance, len(gaps)):
        gap = float(gaps[n])
        return StackCheck(
            order,
            f"{round(gap / median) - 1} slice(s) missing {where} (gap {gap:.3f} mm, usual "
            f"spacing {median:.3f} mm). Export the complete series; gistcad never interpolates.",
            int(order[n + 1]),
        )
    return StackCheck(
        order,
        f"slice spacing is not uniform: {gaps.min():.3f} to {gaps.max():.3f} mm (first "
        f"irregular gap {gaps[n]:.3f} mm {where}). Reconstruct the series with a constant "
        "spacing; gistcad does not stretch slices.",
        int(order[n + 1]),
    )


def _are_few_whole_multiples(
    gaps: npt.NDArray[np.float64], median: float, tolerance: float, n_gaps: int
) -> bool:
    """Whether ``gaps`` look like missing slices: each a whole multiple (>= 2) of ``median``,
    and at most a tenth of all gaps (at least one allowed)."""
    multiples = np.round(gaps / median)
    whole = (multiples >= 2) & (np.abs(gaps - multiples * median) <= tolerance * multiples)
    return bool(np.all(whole)) and len(gaps) <= max(1, n_gaps // 10)


def check_stack(positions: npt.ArrayLike, orientation: npt.ArrayLike) -> StackCheck:
    """Sort slices along the normal and check that they form a regular, untilted grid.

    Parameters
    ----------
    positions
        ImagePositionPatient of each slice, (N, 3), LPS+ mm, in any order.
    orientation
        The series' ImageOrientationPatient, (6,).

    Refused: two slices at one position, missing slices (a gap that is a multiple of the usual
    spacing), non-uniform spacing, and a stack that drifts sideways from the normal (gantry
    tilt: the slices are not orthogonal to the stacking direction, so the voxel grid would be
    sheared).
    """
    points = np.asarray(positions, dtype=np.float64)
    normal = slice_normal(orientation)
    distances = points @ normal
    order = np.argsort(distances, kind="stable")
    offsets = points - points[order[0]]
    along = offsets @ normal
    sideways = np.linalg.norm(offsets - np.outer(along, normal), axis=1)
    allowed = SIDEWAYS_ATOL_MM + math.tan(math.radians(TILT_TOLERANCE_DEG)) * np.abs(along)
    if np.any(sideways > allowed):
        worst = int(np.argmax(sideways - allowed))
        step = offsets[order[-1]]
        cosine = abs(float(step @ normal)) / max(float(np.linalg.norm(step)), 1e-12)
        angle = math.degrees(math.acos(min(cosine, 1.0)))
        return StackCheck(
            order,
            f"the slices are not stacked along their normal: the stack leans {angle:.2f}° from "
            "it (gantry tilt, or slices from different stacks). The voxel grid would be "
            "sheared; reconstruct without tilt, or correct the tilt (e.g. dcm2niix) and import "
            "the NIfTI.",
            worst,
        )
    gap = _gap_problem(distances, order)
    return gap if gap is not None else StackCheck(order)


def affine_ras(
    orientation: npt.ArrayLike,
    pixel_spacing: Sequence[float],
    sorted_positions: npt.ArrayLike,
) -> npt.NDArray[np.float64]:
    """The voxel → RAS+ affine of a checked stack, (4, 4).

    Column ``i`` moves along the row cosine by PixelSpacing[1] (column spacing), ``j`` along
    the column cosine by PixelSpacing[0] (row spacing), ``k`` by the mean step between the
    sorted slice positions; the origin is the first slice's position. Built in LPS+ and
    flipped (PS3.3 C.7.6.2.1.1; NIfTI-1 qform/sform).

    >>> affine_ras([1, 0, 0, 0, 1, 0], [0.5, 0.7], [[0, 0, 0], [0, 0, 2]]).diagonal().tolist()
    [-0.7, -0.5, 2.0, 1.0]
    """
    cosines = np.asarray(orientation, dtype=np.float64)
    points = np.asarray(sorted_positions, dtype=np.float64)
    affine = np.eye(4)
    affine[:3, 0] = cosines[:3] * float(pixel_spacing[1])
    affine[:3, 1] = cosines[3:] * float(pixel_spacing[0])
    if len(points) > 1:
        affine[:3, 2] = (points[-1] - points[0]) / (len(points) - 1)
    else:
        affine[:3, 2] = slice_normal(cosines)
    affine[:3, 3] = points[0]
    return lps_to_ras(affine)

"""Outlining the tumour from a click in the browser's CT viewer.

The viewer (NiiVue, see :mod:`gistcad.viewer.browser`) reports a click as a point in RAS+
millimetres, the world coordinates of the NIfTI file it was sent. The browser's copy may be
down-sampled (one voxel in ``stride``), but its affine was scaled to match, so the point is the
same place in the patient whatever the stride: :func:`clicked_voxel` turns it into the voxel of
the stored, full-resolution CT, and :func:`outline_for_viewer` grows the outline from there
(:func:`gistcad.segmentation.outline.outline_patient`, saved when asked) and returns it as an
overlay the viewer can show on its own copy of the CT.

The viewer numbers slices from 1 in the order of the server's viewer and report (LPS: sagittal
from the patient's right, coronal from the front, axial from the feet), whatever the order of
the stored voxels: :func:`viewer_slices` and :func:`voxel_of_viewer_slices` convert, so that
a keyboard user can give the point as the viewer's status line shows it.

Per-slice corrections: a brush :class:`Stroke` painted in the viewer (its path in RAS mm, on
one slice of one plane) adds to or erases from the grown outline on that slice only
(:func:`apply_strokes`, with :func:`gistcad.segmentation.strokes.add_stroke` and
:func:`~gistcad.segmentation.strokes.erase_stroke`).
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import nibabel.orientations as nio
import numpy as np
import numpy.typing as npt
from sqlalchemy.orm import Session

from gistcad.errors import ValidationError
from gistcad.imaging.lesion_measures import measure_volume
from gistcad.imaging.volume import Volume
from gistcad.layout import DataLayout
from gistcad.segmentation.outline import OutlineResult, load_ct, outline_patient, save_outline
from gistcad.segmentation.strokes import add_stroke, erase_stroke
from gistcad.store.scope import AccessScope
from gistcad.viewer.browser import MAX_VOXELS, BrowserVolume, mask_for_browser

#: the viewer's planes, in the order of :func:`viewer_slices`' numbers
PLANES = ("sagittal", "coronal", "axial")


def _lps_axes(ct: Volume) -> npt.NDArray[np.float64]:
    """For each voxel axis of ``ct``: the LPS axis it becomes and whether it is reversed (-1),
    as :func:`gistcad.viewer.slices.to_lps` reorients it."""
    target = nio.axcodes2ornt(("L", "P", "S"), labels=(("L", "R"), ("P", "A"), ("I", "S")))
    return np.asarray(nio.ornt_transform(nio.io_orientation(ct.affine), target))


def viewer_slices(ct: Volume, ijk: tuple[int, int, int]) -> tuple[int, int, int]:
    """The (sagittal, coronal, axial) slice numbers, from 1, the viewer shows voxel ``ijk`` on.

    Examples
    --------
    >>> ct = Volume(np.zeros((4, 5, 6)), np.diag([1.0, 1.0, 2.0, 1.0]))  # RAS+
    >>> viewer_slices(ct, (0, 0, 0))  # the patient's left, back and feet
    (4, 5, 1)
    """
    numbers = [0, 0, 0]
    for axis, (lps, flip) in enumerate(_lps_axes(ct)):
        index = ijk[axis] if flip > 0 else ct.shape[axis] - 1 - ijk[axis]
        numbers[int(lps)] = int(index) + 1
    return numbers[0], numbers[1], numbers[2]


def voxel_of_viewer_slices(ct: Volume, numbers: tuple[int, int, int]) -> tuple[int, int, int]:
    """The voxel ``(i, j, k)`` of ``ct`` at the viewer's (sagittal, coronal, axial) numbers.

    Raises
    ------
    ValidationError
        If a number is outside 1 to that plane's slice count.
    """
    ijk = [0, 0, 0]
    for axis, (lps, flip) in enumerate(_lps_axes(ct)):
        count, number = ct.shape[axis], int(numbers[int(lps)])
        if not 1 <= number <= count:
            raise ValidationError(
                f"{PLANES[int(lps)]} slice {number} is outside this CT (slices 1 to {count})"
            )
        ijk[axis] = number - 1 if flip > 0 else count - number
    return ijk[0], ijk[1], ijk[2]


def clicked_voxel(ct: Volume, point_mm: npt.ArrayLike) -> tuple[int, int, int]:
    """The voxel ``(i, j, k)`` of ``ct`` nearest the RAS+ point ``point_mm``.

    Raises
    ------
    ValidationError
        If the point is not three finite numbers or lies outside the CT.

    Examples
    --------
    >>> ct = Volume(np.zeros((4, 4, 3)), np.diag([2.0, 2.0, 5.0, 1.0]))
    >>> clicked_voxel(ct, [2.9, 4.2, 10.0])
    (1, 2, 2)
    """
    point = np.asarray(point_mm, dtype=np.float64)
    if point.shape != (3,) or not np.all(np.isfinite(point)):
        raise ValidationError(
            f"a click must be three finite coordinates in mm, got {np.asarray(point_mm).tolist()}"
        )
    index = np.rint(ct.world_to_index(point)[0]).astype(int)
    if np.any(index < 0) or np.any(index >= ct.shape):
        where = ", ".join(f"{v:.1f}" for v in point)
        raise ValidationError(
            f"the click at ({where}) mm lies outside the CT (voxel {index.tolist()} of a "
            f"{ct.shape} grid): click on the patient's image"
        )
    return int(index[0]), int(index[1]), int(index[2])


#: the largest brush radius, mm
MAX_BRUSH_MM = 50.0


class StrokeMode(StrEnum):
    """What a brush stroke does to the outline."""

    ADD = "add"
    ERASE = "erase"


@dataclass(frozen=True)
class Stroke:
    """A brush stroke painted in the viewer on one slice.

    Attributes
    ----------
    mode
        Add to the outline, or erase from it.
    points_mm
        The brush's path, RAS+ mm; the slice is the one of the first point.
    radius_mm
        The brush's radius, mm.
    plane
        The viewer's plane it was painted on: "sagittal", "coronal" or "axial".
    """

    mode: StrokeMode
    points_mm: tuple[tuple[float, float, float], ...]
    radius_mm: float
    plane: str = "axial"

    def __post_init__(self) -> None:
        object.__setattr__(self, "mode", StrokeMode(self.mode))
        points = np.asarray(self.points_mm, dtype=np.float64)
        if points.ndim != 2 or points.shape[1] != 3 or len(points) == 0:
            raise ValidationError(
                f"a stroke's path must be points of three coordinates (mm), got {points.shape}"
            )
        if not np.all(np.isfinite(points)):
            raise ValidationError("a stroke's path holds a coordinate that is not a number")
        if not 0.0 < self.radius_mm <= MAX_BRUSH_MM:
            raise ValidationError(
                f"the brush radius must be above 0 and at most {MAX_BRUSH_MM:g} mm, "
                f"got {self.radius_mm:g}"
            )
        if self.plane not in PLANES:
            raise ValidationError(
                f"a stroke is painted on a sagittal, coronal or axial slice, not {self.plane!r}"
            )

    @classmethod
    def from_viewer(cls, value: Mapping[str, Any]) -> Stroke:
        """The stroke the viewer sent: ``{"mode", "points", "radius", "plane"}``."""
        try:
            points = tuple((float(p[0]), float(p[1]), float(p[2])) for p in value.get("points", ()))
            return cls(
                StrokeMode(str(value.get("mode"))),
                points,
                float(value.get("radius", 0.0)),
                str(value.get("plane", "axial")),
            )
        except (TypeError, ValueError, IndexError) as exc:
            raise ValidationError(f"the viewer sent a stroke that cannot be read: {exc}") from exc


def _painted(ct: Volume, stroke: Stroke) -> tuple[int, int, npt.NDArray[np.bool_]]:
    """The voxel axis of the stroke's slice, the slice's index, and the 2-D brush mask on it."""
    axis = next(
        a for a, (lps, _) in enumerate(_lps_axes(ct)) if int(lps) == PLANES.index(stroke.plane)
    )
    index = clicked_voxel(ct, stroke.points_mm[0])[axis]
    others = [a for a in range(3) if a != axis]
    grids = np.meshgrid(*(np.arange(ct.shape[a]) for a in others), indexing="ij")
    ijk = np.zeros((*grids[0].shape, 3))
    ijk[..., others[0]], ijk[..., others[1]], ijk[..., axis] = grids[0], grids[1], index
    centres = ijk @ ct.affine[:3, :3].T + ct.affine[:3, 3]  # the slice's voxel centres, mm
    normal = np.cross(ct.affine[:3, others[0]], ct.affine[:3, others[1]])
    normal /= np.linalg.norm(normal)
    points = np.asarray(stroke.points_mm)
    on_plane = ct.index_to_world([tuple(ijk[0, 0])])[0]
    points = points - np.outer((points - on_plane) @ normal, normal)  # onto the slice
    step = stroke.radius_mm / 2.0  # the path sampled densely enough to paint without gaps
    path = [points[0]]
    for a, b in itertools.pairwise(points):
        n = max(1, int(np.ceil(np.linalg.norm(b - a) / step)))
        path.extend(a + (b - a) * t for t in np.linspace(0.0, 1.0, n + 1)[1:])
    painted = np.zeros(grids[0].shape, dtype=bool)
    for point in path:
        painted |= np.sum((centres - point) ** 2, axis=-1) <= stroke.radius_mm**2
    return axis, index, painted


def apply_strokes(
    ct: Volume, mask: npt.NDArray[np.generic], strokes: Sequence[Stroke]
) -> npt.NDArray[np.bool_]:
    """``mask`` (on ``ct``'s grid) with ``strokes`` added and erased, in order, each on its
    own slice only."""
    out = np.asarray(mask).astype(bool)
    for stroke in strokes:
        axis, index, painted = _painted(ct, stroke)
        moved = np.moveaxis(out, axis, -1)
        apply = add_stroke if stroke.mode is StrokeMode.ADD else erase_stroke
        out = np.moveaxis(apply(moved, index, painted), -1, axis)
    return out


@dataclass(frozen=True)
class ViewerOutline:
    """An outline grown from a click, with what the viewer needs to show it.

    Attributes
    ----------
    seed_ijk
        The clicked voxel of the full-resolution CT.
    seed_slices
        The same voxel as the viewer numbers it: (sagittal, coronal, axial) slices from 1.
    tolerance_hu
        The tolerance it was grown with (None: the default of the region growing).
    result
        Its measures and, when saved, the stored row; the mask itself is dropped
        (``result.mask`` is None) to keep this small.
    overlay
        The outline on the browser's copy of the CT (down-sampled like it).
    """

    seed_ijk: tuple[int, int, int]
    seed_slices: tuple[int, int, int]
    tolerance_hu: float | None
    result: OutlineResult
    overlay: BrowserVolume


def outline_for_viewer(
    session: Session,
    scope: AccessScope,
    layout: DataLayout,
    pseudonym: str,
    click_mm: npt.ArrayLike | None = None,
    *,
    slices: tuple[int, int, int] | None = None,
    strokes: Sequence[Stroke] = (),
    tolerance_hu: float | None = None,
    save: bool = False,
    max_voxels: int = MAX_VOXELS,
) -> ViewerOutline:
    """Grow ``pseudonym``'s tumour outline from a point of the viewer, as an overlay.

    The one function behind the case view's click-to-outline and its keyboard form; a new
    tolerance re-grows from the same point.

    Parameters
    ----------
    click_mm
        A click, RAS+ mm (the viewer's world coordinates).
    slices
        Or the point as the viewer numbers it: (sagittal, coronal, axial) slices from 1.
    strokes
        Corrections painted on the grown outline, applied in order (:func:`apply_strokes`).
    tolerance_hu
        Half-width of the intensity range, HU (None: the region growing's default).
    save
        Store the outline as a semi-automatic segmentation, audited, in the caller's
        transaction (:func:`gistcad.segmentation.outline.save_outline`).
    max_voxels
        The viewer's size limit: the overlay is down-sampled like the browser's copy of the CT.

    Raises
    ------
    ValidationError
        If the point lies outside the CT, or not exactly one of ``click_mm`` and ``slices``
        is given, or the strokes erase the whole outline (nothing is saved).
    SegmentationError
        If the click is off tissue or the outline leaks (nothing is saved).
    """
    _, ct = load_ct(session, scope, layout, pseudonym)
    if click_mm is not None and slices is None:
        seed = clicked_voxel(ct, click_mm)
    elif slices is not None and click_mm is None:
        seed = voxel_of_viewer_slices(ct, slices)
    else:
        raise ValidationError("give the point either as a click in mm or as slice numbers")
    result = outline_patient(
        session,
        scope,
        layout,
        pseudonym,
        (float(seed[0]), float(seed[1]), float(seed[2])),
        tolerance_hu=tolerance_hu,
        save=save and not strokes,
    )
    mask = result.mask
    if mask is None:  # pragma: no cover - outline_patient always returns its mask
        raise ValidationError(f"no outline was grown for {pseudonym}")
    if strokes:
        mask = mask.with_array(apply_strokes(ct, np.asarray(mask.array), strokes).astype(np.uint8))
        corrected = mask
        if not np.any(corrected.array):
            raise ValidationError(
                "the strokes erase the whole outline: undo a stroke, or click the tumour again"
            )
        measures = measure_volume(ct, corrected, source=pseudonym)
        result = OutlineResult(
            volume_ml=measures.volume_ml,
            longest_axial_diameter_mm=measures.longest_axial_diameter_mm,
            mean_hu=measures.mean_hu,
            voxels=int(np.count_nonzero(corrected.array)),
            saved=save_outline(session, scope, layout, pseudonym, corrected) if save else None,
            mask=corrected,
        )
    overlay = mask_for_browser(mask, ct, max_voxels)
    return ViewerOutline(
        seed,
        viewer_slices(ct, seed),
        tolerance_hu,
        dataclasses.replace(result, mask=None),
        overlay,
    )

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
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import nibabel.orientations as nio
import numpy as np
import numpy.typing as npt
from sqlalchemy.orm import Session

from gistcad.errors import ValidationError
from gistcad.imaging.volume import Volume
from gistcad.layout import DataLayout
from gistcad.segmentation.outline import OutlineResult, load_ct, outline_patient
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
        is given.
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
        save=save,
    )
    if result.mask is None:  # pragma: no cover - outline_patient always returns its mask
        raise ValidationError(f"no outline was grown for {pseudonym}")
    overlay = mask_for_browser(result.mask, ct, max_voxels)
    return ViewerOutline(
        seed,
        viewer_slices(ct, seed),
        tolerance_hu,
        dataclasses.replace(result, mask=None),
        overlay,
    )

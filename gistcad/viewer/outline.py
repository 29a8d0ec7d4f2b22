"""Outlining the tumour from a click in the browser's CT viewer.

The viewer (NiiVue, see :mod:`gistcad.viewer.browser`) reports a click as a point in RAS+
millimetres, the world coordinates of the NIfTI file it was sent. The browser's copy may be
down-sampled (one voxel in ``stride``), but its affine was scaled to match, so the point is the
same place in the patient whatever the stride: :func:`clicked_voxel` turns it into the voxel of
the stored, full-resolution CT, and :func:`outline_for_viewer` grows the outline from there
(:func:`gistcad.segmentation.outline.outline_patient`, saved when asked) and returns it as an
overlay the viewer can show on its own copy of the CT.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from sqlalchemy.orm import Session

from gistcad.errors import ValidationError
from gistcad.imaging.volume import Volume
from gistcad.layout import DataLayout
from gistcad.segmentation.outline import OutlineResult, load_ct, outline_patient
from gistcad.store.scope import AccessScope
from gistcad.viewer.browser import MAX_VOXELS, BrowserVolume, mask_for_browser


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
    tolerance_hu
        The tolerance it was grown with (None: the default of the region growing).
    result
        Its measures and, when saved, the stored row; the mask itself is dropped
        (``result.mask`` is None) to keep this small.
    overlay
        The outline on the browser's copy of the CT (down-sampled like it).
    """

    seed_ijk: tuple[int, int, int]
    tolerance_hu: float | None
    result: OutlineResult
    overlay: BrowserVolume


def outline_for_viewer(
    session: Session,
    scope: AccessScope,
    layout: DataLayout,
    pseudonym: str,
    click_mm: npt.ArrayLike,
    *,
    tolerance_hu: float | None = None,
    save: bool = False,
    max_voxels: int = MAX_VOXELS,
) -> ViewerOutline:
    """Grow ``pseudonym``'s tumour outline from a click in the viewer, as an overlay.

    The one function behind the case view's click-to-outline; a new tolerance re-grows from
    the same click.

    Parameters
    ----------
    click_mm
        The click, RAS+ mm (the viewer's world coordinates).
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
        If the click lies outside the CT.
    SegmentationError
        If the click is off tissue or the outline leaks (nothing is saved).
    """
    _, ct = load_ct(session, scope, layout, pseudonym)
    seed = clicked_voxel(ct, click_mm)
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
    return ViewerOutline(seed, tolerance_hu, dataclasses.replace(result, mask=None), overlay)

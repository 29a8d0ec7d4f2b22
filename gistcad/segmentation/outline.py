"""Save a semi-automatic outline: the mask file where the data layout puts masks, its store
row (source "semi-automatic", who and when) and an audit row, in the caller's transaction."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from sqlalchemy.orm import Session

from gistcad.domain import Permission, SegmentationSource
from gistcad.errors import ValidationError
from gistcad.imaging.nifti_io import read_nifti, write_canonical
from gistcad.imaging.volume import Volume
from gistcad.layout import DataLayout
from gistcad.store.audit import record
from gistcad.store.models import Series
from gistcad.store.scope import AccessScope
from gistcad.store.writes import add_segmentation, patient_ct_series_in_scope

logger = logging.getLogger(__name__)

#: The label of a saved outline.
OUTLINE_LABEL = "GIST tumour (semi-automatic)"


@dataclass(frozen=True)
class OutlineResult:
    """An outline grown on a patient's CT: its measures, and the saved row when it was saved.

    Attributes
    ----------
    volume_ml, longest_axial_diameter_mm, mean_hu
        The outline's measures (:func:`gistcad.imaging.lesion_measures.measure_volume`).
    voxels
        Number of voxels in the outline.
    saved
        The stored segmentation, or None when not asked to save.
    mask
        The outline itself, uint8 on the CT's grid (None once dropped, e.g. to cache the
        measures alone).
    """

    volume_ml: float
    longest_axial_diameter_mm: float
    mean_hu: float
    voxels: int
    saved: SavedOutline | None
    mask: Volume | None = field(default=None, repr=False, compare=False)


@dataclass(frozen=True)
class SavedOutline:
    """What :func:`save_outline` stored: the row's id, the file (relative), the volume in ml."""

    segmentation_id: int
    path: str
    volume_ml: float


def load_ct(
    session: Session, scope: AccessScope, layout: DataLayout, pseudonym: str
) -> tuple[Series, Volume]:
    """The CT series row of ``pseudonym`` (in scope) and its canonical volume."""
    scope.require(Permission.VIEW_CASE)
    _, series = patient_ct_series_in_scope(session, scope, pseudonym)
    return series, read_nifti(layout.resolve(series.volume_path))


def save_outline(
    session: Session,
    scope: AccessScope,
    layout: DataLayout,
    pseudonym: str,
    mask: Volume,
) -> SavedOutline:
    """Store ``mask`` as a semi-automatic segmentation of ``pseudonym``'s CT series.

    The mask file is written atomically (temporary name, then rename) beside the CT; the row
    records ``scope.user`` and the time; an ``outline.save`` audit row is added. Nothing is
    committed: the caller's transaction does. When the row cannot be added the file is removed.

    Raises
    ------
    ValidationError
        If the mask is empty or not on the CT's grid.
    """
    series, ct = load_ct(session, scope, layout, pseudonym)
    if not mask.same_grid(ct):
        raise ValidationError(
            f"the outline's grid {mask.shape} does not match the CT of {pseudonym} {ct.shape}; "
            "grow it again on this patient's CT"
        )
    binary = mask.with_array((np.asarray(mask.array) > 0).astype(np.uint8))
    voxels = int(binary.array.sum())
    if voxels == 0:
        raise ValidationError("the outline is empty: grow it again, or paint the tumour first")
    number = len(series.segmentations) + 1
    relative = DataLayout.volume(pseudonym, series.series_instance_uid, f".outline{number}")
    absolute: Path = layout.resolve(relative)
    sha = write_canonical(binary, absolute)
    volume_ml = voxels * binary.voxel_volume_mm3 / 1000.0
    try:
        row = add_segmentation(
            session,
            series,
            label=OUTLINE_LABEL,
            source=SegmentationSource.SEMI_AUTOMATIC,
            volume_ml=volume_ml,
            path=str(relative),
            sha256=sha,
            created_by=scope.user,
        )
        record(
            session,
            scope.user,
            "outline.save",
            target_kind="patient",
            target=pseudonym,
            detail={"segmentation_id": row.id, "volume_ml": round(volume_ml, 3)},
        )
    except BaseException:
        absolute.unlink(missing_ok=True)
        raise
    logger.info("saved outline %s of %s (%.1f ml)", relative, pseudonym, volume_ml)
    return SavedOutline(row.id, str(relative), round(volume_ml, 3))


def outline_patient(
    session: Session,
    scope: AccessScope,
    layout: DataLayout,
    pseudonym: str,
    seed: tuple[float, float, float],
    *,
    in_mm: bool = False,
    tolerance_hu: float | None = None,
    save: bool = False,
) -> OutlineResult:
    """Grow the outline of ``pseudonym``'s tumour from one click, measure it, save it if asked.

    The one function behind ``gistcad segment`` and the case view's outline form.

    Parameters
    ----------
    seed
        The click: voxel indices (i, j, k), or a RAS+ point in mm when ``in_mm``.
    tolerance_hu
        Half-width of the intensity range, HU (None: the default of :class:`GrowOptions`).
    save
        Store the outline (:func:`save_outline`) in the caller's transaction.

    Raises
    ------
    SegmentationError
        If the click is off tissue or the outline leaks (nothing is saved).
    """
    from gistcad.imaging.lesion_measures import measure_volume
    from gistcad.segmentation.region_growing import grow_from_seed

    _, ct = load_ct(session, scope, layout, pseudonym)
    mask = grow_from_seed(
        ct,
        seed_mm=seed if in_mm else None,
        seed_ijk=None if in_mm else seed,
        tolerance_hu=tolerance_hu,
    )
    measures = measure_volume(ct, mask, source=pseudonym)
    saved = save_outline(session, scope, layout, pseudonym, mask) if save else None
    return OutlineResult(
        volume_ml=measures.volume_ml,
        longest_axial_diameter_mm=measures.longest_axial_diameter_mm,
        mean_hu=measures.mean_hu,
        voxels=int(np.asarray(mask.array).sum()),
        saved=saved,
        mask=mask,
    )

"""Measure every lesion at every timepoint from its mask, and store RECIST 1.1 and Choi.

One patient is computed whole (measurements, targets, categories) before anything of it is
written, so a patient whose data cannot be assessed leaves no half-written rows: with
:func:`assess_cohort` that patient is reported and the others are stored.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from sqlalchemy.orm import Session

from gistcad.analysis.response import Assessment
from gistcad.domain import MeasurementSource, Permission, ResponseCriteria
from gistcad.errors import ValidationError
from gistcad.followup.evaluation import Evaluation, Key, by_source, effective, evaluate
from gistcad.imaging.lesion_measures import measure_volume
from gistcad.imaging.nifti_io import read_nifti
from gistcad.imaging.volume import Volume
from gistcad.layout import DataLayout
from gistcad.store import audit
from gistcad.store.followup import (
    FollowupRows,
    Measured,
    delete_automatic_assessments,
    find_patient,
    followup_rows,
    save_assessment,
    save_measurement,
    set_lesion_roles,
)
from gistcad.store.scope import AccessScope

#: Who the automatic measurements and categories are by.
MEASURED_BY = "gistcad"


@dataclass(frozen=True)
class AssessRun:
    """What assessing one patient stored.

    Attributes
    ----------
    pseudonym
        The patient.
    timepoints
        Timepoints of the patient (baseline included).
    measured
        Lesion masks measured (0 when only the categories were recomputed).
    assessments
        The RECIST and Choi assessments stored, by timepoint (RECIST first).
    """

    pseudonym: str
    timepoints: int
    measured: int
    assessments: tuple[Assessment, ...]


@dataclass(frozen=True)
class CohortRun:
    """What :func:`assess_cohort` stored, and the patients it could not assess (with why)."""

    runs: tuple[AssessRun, ...]
    problems: tuple[str, ...]


def measure_masks(layout: DataLayout, rows: FollowupRows) -> dict[Key, tuple[Measured, int]]:
    """Measure each lesion mask of a patient on its CT: (lesion id, timepoint id) to the numbers
    and the segmentation they come from. An empty mask is a lesion gone (0 mm, 0 ml).

    Raises
    ------
    ValidationError
        When a file cannot be read or a mask is not on its CT's grid (the message names the
        patient, lesion and timepoint).
    """
    numbers = {tp.id: tp.number for tp in rows.timepoints}
    lesion_numbers = {lesion.id: lesion.number for lesion in rows.lesions}
    out: dict[Key, tuple[Measured, int]] = {}
    image: Volume | None = None
    image_path = ""
    for mask in rows.masks:
        key = (mask.lesion_id, mask.timepoint_id)
        if key in out:
            continue  # a second mask of the lesion at this timepoint: the first one counts
        where = (
            f"{rows.patient.pseudonym}, lesion {lesion_numbers[mask.lesion_id]} at timepoint "
            f"{numbers[mask.timepoint_id]}"
        )
        try:
            if image is None or mask.volume_path != image_path:
                image, image_path = read_nifti(layout.resolve(mask.volume_path)), mask.volume_path
            lesion = read_nifti(layout.resolve(mask.mask_path))
            if not (np.asarray(lesion.array) > 0).any():
                out[key] = (Measured(0.0, 0.0, 0.0, None, None), mask.segmentation_id)
                continue
            m = measure_volume(image, lesion, source=where)
        except ValidationError as exc:
            message = str(exc)
            raise ValidationError(
                message if message.startswith(where) else f"{where}: {message}"
            ) from None
        values = Measured(
            m.longest_axial_diameter_mm, m.short_axis_mm, m.volume_ml, m.mean_hu, m.solid_mean_hu
        )
        out[key] = (values, mask.segmentation_id)
    return out


def _compute(
    rows: FollowupRows, layout: DataLayout | None
) -> tuple[dict[Key, tuple[Measured, int]], Evaluation]:
    stored_automatic, reader = by_source(rows)
    fresh = measure_masks(layout, rows) if layout is not None else {}
    automatic = {**stored_automatic, **{k: v for k, (v, _) in fresh.items()}}
    merged = {
        key: value
        for key in set(automatic) | set(reader)
        if (value := effective(automatic.get(key), reader.get(key))) is not None
    }
    return fresh, evaluate(rows, merged)


def _store(
    session: Session,
    scope: AccessScope,
    rows: FollowupRows,
    fresh: dict[Key, tuple[Measured, int]],
    evaluation: Evaluation,
) -> AssessRun:
    for (lesion_id, timepoint_id), (values, segmentation_id) in fresh.items():
        save_measurement(
            session,
            lesion_id,
            timepoint_id,
            values,
            source=MeasurementSource.AUTOMATIC,
            measured_by=MEASURED_BY,
            segmentation_id=segmentation_id,
        )
    changed = {
        lesion.id: evaluation.roles[lesion.id]
        for lesion in rows.lesions
        if evaluation.roles[lesion.id] is not lesion.role
    }
    if changed:
        set_lesion_roles(session, changed)
    delete_automatic_assessments(session, [tp.id for tp in rows.timepoints])
    stored = (*evaluation.recist, *evaluation.choi)
    for a in stored:
        save_assessment(
            session,
            evaluation.timepoint_ids[a.visit],
            a.criteria,
            a.category,
            a.reason,
            source=MeasurementSource.AUTOMATIC,
            assessed_by=MEASURED_BY,
        )
    audit.record(
        session,
        scope.user,
        "response.assess",
        target_kind="patient",
        target=rows.patient.pseudonym,
        detail={"measured": len(fresh), "assessments": len(stored)},
    )
    return AssessRun(
        rows.patient.pseudonym,
        len(rows.timepoints),
        len(fresh),
        tuple(sorted(stored, key=lambda a: (a.visit, list(ResponseCriteria).index(a.criteria)))),
    )


def reassess(
    session: Session, scope: AccessScope, patient_id: int, layout: DataLayout | None = None
) -> AssessRun:
    """Compute and store one patient's categories again (measuring the masks when ``layout``
    is given); no permission check: the callers check theirs."""
    rows = followup_rows(session, scope, [patient_id]).get(patient_id)
    if rows is None:
        raise ValidationError("the patient has no imaging timepoint: nothing to assess")
    fresh, evaluation = _compute(rows, layout)
    return _store(session, scope, rows, fresh, evaluation)


def assess_patient(
    session: Session, scope: AccessScope, layout: DataLayout, pseudonym: str
) -> AssessRun:
    """Measure the lesions of ``pseudonym`` at every timepoint and store RECIST and Choi.

    Needs the permission to run jobs. The automatic measurements (source automatic, by
    ``"gistcad"``) and categories are replaced; a reader's values stay and count.

    Raises
    ------
    AccessDenied, NotFoundError, ValidationError
        Without the permission; when the patient is not in scope; when the images cannot be
        measured or the patient has no baseline.
    """
    scope.require(Permission.RUN_JOBS)
    patient = find_patient(session, scope, pseudonym)
    return reassess(session, scope, patient.patient_id, layout)


def assess_cohort(
    session: Session,
    scope: AccessScope,
    layout: DataLayout,
    pseudonyms: Sequence[str] | None = None,
) -> CohortRun:
    """:func:`assess_patient` for ``pseudonyms`` (``None``: every patient in scope with a
    timepoint). A patient that cannot be assessed is reported in ``problems`` and left as it
    was; the others are stored."""
    scope.require(Permission.RUN_JOBS)
    ids = None
    if pseudonyms is not None:
        ids = [find_patient(session, scope, p).patient_id for p in pseudonyms]
    runs, problems = [], []
    found = followup_rows(session, scope, ids)
    for pseudonym, patient_id in zip(pseudonyms or (), ids or (), strict=True):
        if patient_id not in found:
            problems.append(f"{pseudonym}: no imaging timepoint: nothing to assess")
    for rows in found.values():
        try:
            fresh, evaluation = _compute(rows, layout)
        except ValidationError as exc:
            problems.append(str(exc))
            continue
        runs.append(_store(session, scope, rows, fresh, evaluation))
    return CohortRun(tuple(runs), tuple(problems))

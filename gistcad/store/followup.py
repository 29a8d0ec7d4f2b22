"""Follow-up imaging in the store: timepoints, tracked lesions, measurements, response categories.

Reads take an :class:`~gistcad.store.scope.AccessScope` and return only the patients of the
caller's centers (a patient of another center is reported exactly like a missing one). Writes
take the ids those reads returned. Nothing here commits: the caller owns the session.

Automatic and reader values live side by side (one row per source, :class:`MeasurementSource`);
nothing here decides which one counts — :mod:`gistcad.followup` does.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from gistcad.domain import (
    LesionOrgan,
    LesionRole,
    MeasurementSource,
    ResponseCategory,
    ResponseCriteria,
)
from gistcad.errors import NotFoundError
from gistcad.store.frames import AnySelect
from gistcad.store.model_queries import outline_rank
from gistcad.store.models import (
    Center,
    Lesion,
    LesionMeasurement,
    Patient,
    ResponseAssessment,
    Segmentation,
    Series,
    Timepoint,
)
from gistcad.store.scope import AccessScope


@dataclass(frozen=True)
class FollowupPatient:
    patient_id: int
    pseudonym: str
    center: str


@dataclass(frozen=True)
class TimepointRow:
    id: int
    number: int
    study_date: dt.date
    days_from_treatment_start: int | None


@dataclass(frozen=True)
class LesionRow:
    id: int
    number: int
    organ: LesionOrgan
    role: LesionRole
    is_node: bool
    first_timepoint_id: int | None


@dataclass(frozen=True)
class LesionMask:
    """Where a lesion's mask at one timepoint lies, with the CT it was drawn on (paths relative
    to the data folder)."""

    lesion_id: int
    timepoint_id: int
    segmentation_id: int
    volume_path: str
    mask_path: str


@dataclass(frozen=True)
class Measured:
    """A lesion's numbers at one timepoint (mm, ml, HU); ``None``: not measured."""

    longest_diameter_mm: float | None = None
    short_axis_mm: float | None = None
    volume_ml: float | None = None
    mean_hu: float | None = None
    solid_mean_hu: float | None = None


@dataclass(frozen=True)
class MeasurementRow:
    lesion_id: int
    timepoint_id: int
    source: MeasurementSource
    values: Measured
    measured_by: str
    measured_at: dt.datetime | None
    reason: str | None


@dataclass(frozen=True)
class AssessmentRow:
    timepoint_id: int
    criteria: ResponseCriteria
    source: MeasurementSource
    category: ResponseCategory
    reason: str
    assessed_by: str
    assessed_at: dt.datetime | None
    override_reason: str | None


@dataclass(frozen=True)
class FollowupRows:
    """Everything the store holds about one patient's follow-up imaging."""

    patient: FollowupPatient
    timepoints: list[TimepointRow] = field(default_factory=list)
    lesions: list[LesionRow] = field(default_factory=list)
    masks: list[LesionMask] = field(default_factory=list)
    measurements: list[MeasurementRow] = field(default_factory=list)
    assessments: list[AssessmentRow] = field(default_factory=list)


def _patients(scope: AccessScope) -> AnySelect:
    return (
        select(Patient.id, Patient.pseudonym, Center.name)
        .join(Center, Patient.center_id == Center.id)
        .where(scope.clause(Patient.center_id))
    )


def find_patient(session: Session, scope: AccessScope, pseudonym: str) -> FollowupPatient:
    """The patient called ``pseudonym`` in scope.

    Raises
    ------
    NotFoundError
        When no patient in scope has that pseudonym, or several centers use it.
    """
    rows = session.execute(_patients(scope).where(Patient.pseudonym == pseudonym)).all()
    if not rows:
        raise NotFoundError(f"no patient with pseudonym {pseudonym!r} in your scope")
    if len(rows) > 1:
        raise NotFoundError(
            f"pseudonym {pseudonym!r} exists in several centers "
            f"({', '.join(sorted(r[2] for r in rows))}); filter by center"
        )
    return FollowupPatient(*rows[0])


def followup_patients(session: Session, scope: AccessScope) -> list[FollowupPatient]:
    """The patients in scope with at least one imaging timepoint, by center and pseudonym."""
    with_timepoints = select(Timepoint.patient_id)
    stmt = (
        _patients(scope)
        .where(Patient.id.in_(with_timepoints))
        .order_by(Center.name, Patient.pseudonym)
    )
    return [FollowupPatient(*row) for row in session.execute(stmt).all()]


def followup_rows(
    session: Session, scope: AccessScope, patient_ids: Collection[int] | None = None
) -> dict[int, FollowupRows]:
    """The follow-up rows of ``patient_ids`` (``None``: every patient in scope with a timepoint).

    Returns
    -------
    dict
        Patient id to its rows; timepoints and lesions in number order. Patients out of scope
        are left out.
    """
    stmt = _patients(scope).where(Patient.id.in_(select(Timepoint.patient_id)))
    if patient_ids is not None:
        stmt = stmt.where(Patient.id.in_(sorted(patient_ids)))
    out = {
        row[0]: FollowupRows(FollowupPatient(*row))
        for row in session.execute(stmt.order_by(Center.name, Patient.pseudonym)).all()
    }
    if not out:
        return out
    ids = None if patient_ids is None else set(out)

    def scoped(column: Any) -> Any:
        """Restrict to the patients found (all in scope when ``patient_ids`` is None)."""
        if ids is not None:
            return column.in_(sorted(ids))
        return column.in_(select(Patient.id).where(scope.clause(Patient.center_id)))

    for tp in session.scalars(
        select(Timepoint).where(scoped(Timepoint.patient_id)).order_by(Timepoint.number)
    ):
        out[tp.patient_id].timepoints.append(
            TimepointRow(tp.id, tp.number, tp.study_date, tp.days_from_treatment_start)
        )
    lesion_patient: dict[int, int] = {}
    for le in session.scalars(
        select(Lesion).where(scoped(Lesion.patient_id)).order_by(Lesion.number)
    ):
        lesion_patient[le.id] = le.patient_id
        out[le.patient_id].lesions.append(
            LesionRow(le.id, le.number, le.organ, le.role, bool(le.is_node), le.first_timepoint_id)
        )
    masks = (
        select(
            Lesion.id,
            Timepoint.id,
            Segmentation.id,
            Series.volume_path,
            Segmentation.path,
        )
        .join(Series, Segmentation.series_id == Series.id)
        .join(Lesion, Segmentation.lesion_id == Lesion.id)
        .join(
            Timepoint,
            (Timepoint.study_id == Series.study_id) & (Timepoint.patient_id == Lesion.patient_id),
        )
        .where(scoped(Lesion.patient_id))
        # of several outlines of a lesion on one CT the first counts: a reader's before a
        # program's (REFERENCE_OUTLINES), then the oldest
        .order_by(
            Timepoint.number, Lesion.number, outline_rank(Segmentation.source), Segmentation.id
        )
    )
    for lesion_id, tp_id, seg_id, volume_path, mask_path in session.execute(masks).all():
        out[lesion_patient[lesion_id]].masks.append(
            LesionMask(lesion_id, tp_id, seg_id, volume_path, mask_path)
        )
    measurements = (
        select(LesionMeasurement)
        .join(Lesion, LesionMeasurement.lesion_id == Lesion.id)
        .where(scoped(Lesion.patient_id))
        .order_by(LesionMeasurement.id)
    )
    for m in session.scalars(measurements):
        out[lesion_patient[m.lesion_id]].measurements.append(
            MeasurementRow(
                m.lesion_id,
                m.timepoint_id,
                m.source,
                Measured(
                    m.longest_diameter_mm, m.short_axis_mm, m.volume_ml, m.mean_hu, m.solid_mean_hu
                ),
                m.measured_by,
                m.measured_at,
                m.reason,
            )
        )
    assessments = (
        select(ResponseAssessment, Timepoint.patient_id)
        .join(Timepoint, ResponseAssessment.timepoint_id == Timepoint.id)
        .where(scoped(Timepoint.patient_id))
        .order_by(Timepoint.number, ResponseAssessment.criteria, ResponseAssessment.source)
    )
    for a, patient_id in session.execute(assessments).all():
        out[patient_id].assessments.append(
            AssessmentRow(
                a.timepoint_id,
                a.criteria,
                a.source,
                a.category,
                a.reason,
                a.assessed_by,
                a.assessed_at,
                a.override_reason,
            )
        )
    return out


def save_measurement(
    session: Session,
    lesion_id: int,
    timepoint_id: int,
    values: Measured,
    *,
    source: MeasurementSource,
    measured_by: str,
    reason: str | None = None,
    segmentation_id: int | None = None,
) -> LesionMeasurement:
    """Insert or replace the ``source`` measurement of a lesion at a timepoint.

    The other source's row, if any, is left as it is: automatic and reader values are both kept.
    """
    row = session.scalar(
        select(LesionMeasurement).where(
            LesionMeasurement.lesion_id == lesion_id,
            LesionMeasurement.timepoint_id == timepoint_id,
            LesionMeasurement.source == source,
        )
    )
    if row is None:
        row = LesionMeasurement(lesion_id=lesion_id, timepoint_id=timepoint_id, source=source)
        session.add(row)
    row.longest_diameter_mm = values.longest_diameter_mm
    row.short_axis_mm = values.short_axis_mm
    row.volume_ml = values.volume_ml
    row.mean_hu = values.mean_hu
    row.solid_mean_hu = values.solid_mean_hu
    row.measured_by = measured_by
    row.measured_at = dt.datetime.now(dt.UTC)
    row.reason = reason
    if segmentation_id is not None:
        row.segmentation_id = segmentation_id
    session.flush()
    return row


def save_assessment(
    session: Session,
    timepoint_id: int,
    criteria: ResponseCriteria,
    category: ResponseCategory,
    reason: str,
    *,
    source: MeasurementSource,
    assessed_by: str,
    override_reason: str | None = None,
) -> ResponseAssessment:
    """Insert or replace the ``source`` category of a timepoint by ``criteria``."""
    row = session.scalar(
        select(ResponseAssessment).where(
            ResponseAssessment.timepoint_id == timepoint_id,
            ResponseAssessment.criteria == criteria,
            ResponseAssessment.source == source,
        )
    )
    if row is None:
        row = ResponseAssessment(timepoint_id=timepoint_id, criteria=criteria, source=source)
        session.add(row)
    row.category = category
    row.reason = reason
    row.assessed_by = assessed_by
    row.assessed_at = dt.datetime.now(dt.UTC)
    row.override_reason = override_reason
    session.flush()
    return row


def delete_automatic_assessments(session: Session, timepoint_ids: Collection[int]) -> None:
    """Drop the automatic categories of these timepoints (before they are computed again)."""
    for row in session.scalars(
        select(ResponseAssessment).where(
            ResponseAssessment.timepoint_id.in_(sorted(timepoint_ids)),
            ResponseAssessment.source == MeasurementSource.AUTOMATIC,
        )
    ):
        session.delete(row)
    session.flush()


def set_lesion_roles(session: Session, roles: Mapping[int, LesionRole]) -> None:
    """Give lesions (by id) their response-assessment role."""
    for lesion in session.scalars(select(Lesion).where(Lesion.id.in_(sorted(roles)))):
        lesion.role = roles[lesion.id]
    session.flush()

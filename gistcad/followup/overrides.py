"""A reader's override of a lesion measurement or of a response category.

The reader's value is stored beside the automatic one (source ``reader``, with the reason and
who gave it); both are kept, the reader's counts. Every override is audited
(``response.override``). Overriding a measurement recomputes the patient's automatic
categories from the effective values; a category set by a reader stays as the reader set it.
Any role that may open the case may record a reading.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from sqlalchemy.orm import Session

from gistcad.domain import (
    MeasurementSource,
    Permission,
    ResponseCategory,
    ResponseCriteria,
)
from gistcad.errors import NotFoundError, ValidationError
from gistcad.followup.assessment import reassess
from gistcad.store import audit
from gistcad.store.followup import (
    FollowupRows,
    Measured,
    find_patient,
    followup_rows,
    save_assessment,
    save_measurement,
)
from gistcad.store.scope import AccessScope


@dataclass(frozen=True)
class MeasurementOverride:
    """What a reader measured (mm, ml, HU); the values left ``None`` stay automatic."""

    longest_diameter_mm: float | None = None
    short_axis_mm: float | None = None
    volume_ml: float | None = None
    mean_hu: float | None = None
    solid_mean_hu: float | None = None

    def __post_init__(self) -> None:
        values = asdict(self)
        if all(v is None for v in values.values()):
            raise ValidationError(
                "give at least one measured value (longest diameter, short axis, volume, HU)"
            )
        for name in ("longest_diameter_mm", "short_axis_mm", "volume_ml"):
            value = values[name]
            if value is not None and not value >= 0:
                raise ValidationError(f"{name.replace('_', ' ')} must be >= 0, got {value}")


def _reason(reason: str) -> str:
    text = reason.strip()
    if not text:
        raise ValidationError("a reader's override needs a reason (what was seen, why)")
    return text


def _patient_rows(session: Session, scope: AccessScope, pseudonym: str) -> FollowupRows:
    patient = find_patient(session, scope, pseudonym)
    rows = followup_rows(session, scope, [patient.patient_id]).get(patient.patient_id)
    if rows is None:
        raise NotFoundError(f"{pseudonym} has no imaging timepoint")
    return rows


def _timepoint_id(rows: FollowupRows, number: int) -> int:
    for tp in rows.timepoints:
        if tp.number == number:
            return tp.id
    known = ", ".join(str(tp.number) for tp in rows.timepoints)
    raise NotFoundError(f"{rows.patient.pseudonym} has no timepoint {number} (it has {known})")


def override_measurement(
    session: Session,
    scope: AccessScope,
    pseudonym: str,
    lesion: int,
    timepoint: int,
    values: MeasurementOverride,
    reason: str,
) -> None:
    """Record a reader's measurement of lesion ``lesion`` at timepoint ``timepoint``, and
    recompute the patient's automatic categories from the effective values (once the patient
    has been assessed: before, targets would be chosen from the reader's values alone).

    Raises
    ------
    AccessDenied, NotFoundError, ValidationError
        When the role may not open cases; when the patient, lesion or timepoint is unknown in
        scope; when the reason is empty.
    """
    scope.require(Permission.VIEW_CASE)
    why = _reason(reason)
    rows = _patient_rows(session, scope, pseudonym)
    lesion_id = next((le.id for le in rows.lesions if le.number == lesion), None)
    if lesion_id is None:
        known = ", ".join(str(le.number) for le in rows.lesions) or "none"
        raise NotFoundError(f"{pseudonym} has no lesion {lesion} (lesions: {known})")
    timepoint_id = _timepoint_id(rows, timepoint)
    save_measurement(
        session,
        lesion_id,
        timepoint_id,
        Measured(**asdict(values)),
        source=MeasurementSource.READER,
        measured_by=scope.user,
        reason=why,
    )
    audit.record(
        session,
        scope.user,
        "response.override",
        target_kind="patient",
        target=pseudonym,
        detail={
            "lesion": lesion,
            "timepoint": timepoint,
            "reason": why,
            **{k: v for k, v in asdict(values).items() if v is not None},
        },
    )
    if any(m.source is MeasurementSource.AUTOMATIC for m in rows.measurements):
        reassess(session, scope, rows.patient.patient_id)


def override_category(
    session: Session,
    scope: AccessScope,
    pseudonym: str,
    timepoint: int,
    criteria: ResponseCriteria,
    category: ResponseCategory,
    reason: str,
) -> None:
    """Record a reader's category for a follow-up timepoint by ``criteria`` (kept beside the
    automatic one, which it outranks).

    Raises
    ------
    AccessDenied, NotFoundError, ValidationError
        As :func:`override_measurement`; also for the baseline, which has no response, and
        for non-CR/non-PD by Choi (a RECIST 1.1 category only).
    """
    scope.require(Permission.VIEW_CASE)
    why = _reason(reason)
    if timepoint == 0:
        raise ValidationError("the baseline (timepoint 0) has no response category")
    if criteria is ResponseCriteria.CHOI and category is ResponseCategory.NON_CR_NON_PD:
        raise ValidationError(
            "non-CR/non-PD is a RECIST 1.1 category (non-target disease only); Choi has none: "
            "choose cr, pr, sd, pd or ne"
        )
    rows = _patient_rows(session, scope, pseudonym)
    timepoint_id = _timepoint_id(rows, timepoint)
    save_assessment(
        session,
        timepoint_id,
        criteria,
        category,
        f"reader: {why}",
        source=MeasurementSource.READER,
        assessed_by=scope.user,
        override_reason=why,
    )
    audit.record(
        session,
        scope.user,
        "response.override",
        target_kind="patient",
        target=pseudonym,
        detail={
            "timepoint": timepoint,
            "criteria": criteria.value,
            "category": category.value,
            "reason": why,
        },
    )

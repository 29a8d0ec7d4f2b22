"""Rows of the follow-up written at import: treatment lines, timepoints, tracked lesions.

Session in, rows out; the caller owns the transaction (nothing here commits).
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from gistcad.store.models import (
    Center,
    Lesion,
    Patient,
    Segmentation,
    Series,
    Timepoint,
    TreatmentLine,
)


def patient_treatment_lines(session: Session, patient: Patient) -> list[TreatmentLine]:
    """The patient's lines of therapy, by line number."""
    return list(
        session.scalars(
            select(TreatmentLine)
            .where(TreatmentLine.patient_id == patient.id)
            .order_by(TreatmentLine.line)
        )
    )


def patient_timepoints(session: Session, patient: Patient) -> list[Timepoint]:
    """The patient's timepoints, by number."""
    return list(
        session.scalars(
            select(Timepoint).where(Timepoint.patient_id == patient.id).order_by(Timepoint.number)
        )
    )


def patient_lesions(session: Session, patient: Patient) -> list[Lesion]:
    """The patient's tracked lesions, by number."""
    return list(
        session.scalars(
            select(Lesion).where(Lesion.patient_id == patient.id).order_by(Lesion.number)
        )
    )


def study_segmentations(session: Session, study_id: int) -> list[Segmentation]:
    """The masks of a study's CT series, in the order they were stored."""
    return list(
        session.scalars(
            select(Segmentation)
            .join(Series, Segmentation.series_id == Series.id)
            .where(Series.study_id == study_id, Series.modality == "CT")
            .order_by(Segmentation.id)
        )
    )


def find_patient(session: Session, center: Center, pseudonym: str) -> Patient | None:
    """The patient ``pseudonym`` of ``center``, or None."""
    return session.scalar(
        select(Patient).where(Patient.center_id == center.id, Patient.pseudonym == pseudonym)
    )

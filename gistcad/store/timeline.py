"""A patient's course in the store: treatment lines, surgery dates, the CT of each timepoint.

Reads only, within the caller's scope (patients of other centers are left out as if missing).
:mod:`gistcad.followup.case` and :mod:`gistcad.followup.cohort` turn them into the case view's
timeline and the cohort's swimmer plot and landmark survival.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection

import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session

from gistcad.store.frames import frame
from gistcad.store.model_queries import outline_rank
from gistcad.store.models import (
    Lesion,
    Patient,
    Segmentation,
    Series,
    Timepoint,
    Treatment,
    TreatmentLine,
)
from gistcad.store.scope import AccessScope

TREATMENT_LINE_COLUMNS = [
    "patient_id",
    "line",
    "drug",
    "dose_mg_per_day",
    "start_date",
    "stop_date",
    "stop_reason",
]
TIMEPOINT_IMAGE_COLUMNS = [
    "timepoint",
    "series_id",
    "volume_path",
    "volume_sha256",
    "lesion",
    "mask_path",
    "mask_sha256",
]


def treatment_lines(
    session: Session, scope: AccessScope, patient_ids: Collection[int] | None = None
) -> pd.DataFrame:
    """The treatment lines of patients in scope (``None``: all), by patient and line.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`TREATMENT_LINE_COLUMNS`; ``drug`` as its code, dates as dates.
    """
    stmt = (
        select(
            TreatmentLine.patient_id,
            TreatmentLine.line,
            TreatmentLine.drug,
            TreatmentLine.dose_mg_per_day,
            TreatmentLine.start_date,
            TreatmentLine.stop_date,
            TreatmentLine.stop_reason,
        )
        .join(Patient, TreatmentLine.patient_id == Patient.id)
        .where(scope.clause(Patient.center_id))
        .order_by(TreatmentLine.patient_id, TreatmentLine.line)
    )
    if patient_ids is not None:
        stmt = stmt.where(Patient.id.in_(sorted(patient_ids)))
    return frame(session, stmt, TREATMENT_LINE_COLUMNS)


def surgery_dates(session: Session, scope: AccessScope) -> dict[int, dt.date]:
    """Patient id to the date of surgery, for patients in scope with one recorded."""
    stmt = (
        select(Treatment.patient_id, Treatment.surgery_date)
        .join(Patient, Treatment.patient_id == Patient.id)
        .where(scope.clause(Patient.center_id), Treatment.surgery_date.is_not(None))
    )
    return {pid: date for pid, date in session.execute(stmt).all() if date is not None}


def timepoint_images(session: Session, scope: AccessScope, patient_id: int) -> pd.DataFrame:
    """The CT series of each timepoint of one patient, and their lesion masks.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`TIMEPOINT_IMAGE_COLUMNS`, one row per series and lesion mask (``lesion``
        and the mask columns missing for a series without one), by timepoint and lesion
        number, a lesion's masks in the order they are measured (a reader's first), then by
        series; paths relative to the data folder. Empty when the patient is out of
        scope.
    """
    stmt = (
        select(
            Timepoint.number,
            Series.id,
            Series.volume_path,
            Series.volume_sha256,
            Lesion.number,
            Segmentation.path,
            Segmentation.sha256,
        )
        .join(Patient, Timepoint.patient_id == Patient.id)
        .join(Series, Series.study_id == Timepoint.study_id)
        .outerjoin(
            Segmentation,
            (Segmentation.series_id == Series.id) & Segmentation.lesion_id.is_not(None),
        )
        .outerjoin(Lesion, Segmentation.lesion_id == Lesion.id)
        .where(Timepoint.patient_id == patient_id, scope.clause(Patient.center_id))
        # a lesion's first mask is the one measured (gistcad.store.followup orders them
        # alike, across the timepoint's series): a reader's before a program's
        .order_by(
            Timepoint.number,
            Lesion.number,
            outline_rank(Segmentation.source),
            Segmentation.id,
            Series.id,
        )
    )
    table = frame(session, stmt, TIMEPOINT_IMAGE_COLUMNS)
    table["lesion"] = table["lesion"].astype("Int64")
    return table

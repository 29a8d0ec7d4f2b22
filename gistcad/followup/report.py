"""What the case view and the cohort show of treatment response.

:func:`patient_response` gives one patient's timepoints, the lesion table (diameters, HU and
their change from baseline, automatic and reader values) and the RECIST and Choi categories per
follow-up timepoint with their reasons. :func:`cohort_response` gives one row per patient: best
change in size and density, best overall response by both criteria, first progression.

Categories are the stored ones (a reader's outranks the automatic one); sizes and percent
changes are computed from the effective measurements, so they are shown even before
``gistcad response assess`` has stored categories.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import pandas as pd
from sqlalchemy.orm import Session

from gistcad.analysis.response import Assessment, best_response
from gistcad.domain import MeasurementSource, Permission, ResponseCategory, ResponseCriteria
from gistcad.errors import NotFoundError, ValidationError
from gistcad.followup.evaluation import Evaluation, by_source, effective, evaluate
from gistcad.store import audit
from gistcad.store.followup import (
    AssessmentRow,
    FollowupRows,
    find_patient,
    followup_rows,
)
from gistcad.store.queries import CASE_VIEW_WINDOW
from gistcad.store.scope import AccessScope

LESION_COLUMNS = [
    "lesion",
    "organ",
    "role",
    "is_node",
    "timepoint",
    "longest_diameter_mm",
    "short_axis_mm",
    "volume_ml",
    "mean_hu",
    "solid_mean_hu",
    "diameter_change",
    "hu_change",
    "source",
    "automatic_longest_diameter_mm",
    "automatic_short_axis_mm",
    "automatic_mean_hu",
    "reader_longest_diameter_mm",
    "reader_short_axis_mm",
    "reader_mean_hu",
    "reader",
    "reader_reason",
]
ASSESSMENT_COLUMNS = [
    "timepoint",
    "days_from_treatment_start",
    "criteria",
    "category",
    "reason",
    "source",
    "automatic_category",
    "automatic_reason",
    "reader_category",
    "reader_reason",
    "reader",
    "size_mm",
    "size_change",
    "density_hu",
    "density_change",
]
COHORT_COLUMNS = [
    "pseudonym",
    "center",
    "timepoints",
    "best_size_change",
    "best_density_change",
    "best_recist",
    "best_choi",
    "first_pd_recist_timepoint",
    "first_pd_recist_days",
    "first_pd_choi_timepoint",
    "first_pd_choi_days",
]
NOT_ASSESSED = "no category stored yet: run 'gistcad response assess'"


@dataclass(frozen=True)
class PatientResponse:
    """One patient's follow-up (see the module docstring); frames with the columns above."""

    pseudonym: str
    center: str
    timepoints: pd.DataFrame
    lesions: pd.DataFrame
    assessments: pd.DataFrame
    notes: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: frames as lists of records, NaN as ``None``, dates as ISO text."""
        return {
            "pseudonym": self.pseudonym,
            "center": self.center,
            "timepoints": _records(self.timepoints),
            "lesions": _records(self.lesions),
            "assessments": _records(self.assessments),
            "notes": list(self.notes),
        }


def _records(table: pd.DataFrame) -> list[dict[str, Any]]:
    out = []
    for row in table.to_dict(orient="records"):
        out.append({str(k): _plain(v) for k, v in row.items()})
    return out


def _plain(value: Any) -> Any:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if hasattr(value, "item"):
        return value.item()
    return value


def _evaluation(rows: FollowupRows) -> tuple[Evaluation | None, str | None]:
    automatic, reader = by_source(rows)
    merged = {
        key: value
        for key in set(automatic) | set(reader)
        if (value := effective(automatic.get(key), reader.get(key))) is not None
    }
    try:
        return evaluate(rows, merged), None
    except ValidationError as exc:
        return None, str(exc)


def _change(value: float | None, baseline: float | None) -> float | None:
    if value is None or baseline is None or baseline == 0:
        return None
    return (value - baseline) / abs(baseline)


def _lesion_table(rows: FollowupRows, evaluation: Evaluation | None) -> pd.DataFrame:
    automatic, reader = by_source(rows)
    numbers = {tp.id: tp.number for tp in rows.timepoints}
    baseline_id = next((tp.id for tp in rows.timepoints if tp.number == 0), None)
    by_reader = {
        (m.lesion_id, m.timepoint_id): m
        for m in rows.measurements
        if m.source is MeasurementSource.READER
    }
    records = []
    for lesion in rows.lesions:
        role = lesion.role if evaluation is None else evaluation.roles[lesion.id]
        base = None
        if baseline_id is not None:
            key = (lesion.id, baseline_id)
            base = effective(automatic.get(key), reader.get(key))
        for tp in rows.timepoints:
            key = (lesion.id, tp.id)
            auto, read = automatic.get(key), reader.get(key)
            value = effective(auto, read)
            if value is None:
                continue
            note = by_reader.get(key)
            records.append(
                {
                    "lesion": lesion.number,
                    "organ": lesion.organ.value,
                    "role": role.value,
                    "is_node": lesion.is_node,
                    "timepoint": numbers[tp.id],
                    "longest_diameter_mm": value.longest_diameter_mm,
                    "short_axis_mm": value.short_axis_mm,
                    "volume_ml": value.volume_ml,
                    "mean_hu": value.mean_hu,
                    "solid_mean_hu": value.solid_mean_hu,
                    "diameter_change": _change(
                        value.longest_diameter_mm,
                        None if base is None else base.longest_diameter_mm,
                    ),
                    "hu_change": _change(value.mean_hu, None if base is None else base.mean_hu),
                    "source": (
                        MeasurementSource.READER
                        if read is not None
                        else MeasurementSource.AUTOMATIC
                    ).value,
                    "automatic_longest_diameter_mm": None
                    if auto is None
                    else auto.longest_diameter_mm,
                    "automatic_short_axis_mm": None if auto is None else auto.short_axis_mm,
                    "automatic_mean_hu": None if auto is None else auto.mean_hu,
                    "reader_longest_diameter_mm": None
                    if read is None
                    else read.longest_diameter_mm,
                    "reader_short_axis_mm": None if read is None else read.short_axis_mm,
                    "reader_mean_hu": None if read is None else read.mean_hu,
                    "reader": None if note is None else note.measured_by,
                    "reader_reason": None if note is None else note.reason,
                }
            )
    return pd.DataFrame(records, columns=LESION_COLUMNS)


def _stored(
    rows: FollowupRows,
) -> dict[tuple[int, ResponseCriteria], dict[MeasurementSource, AssessmentRow]]:
    out: dict[tuple[int, ResponseCriteria], dict[MeasurementSource, AssessmentRow]] = {}
    for a in rows.assessments:
        out.setdefault((a.timepoint_id, a.criteria), {})[a.source] = a
    return out


def _assessment_table(rows: FollowupRows, evaluation: Evaluation | None) -> pd.DataFrame:
    stored = _stored(rows)
    computed: dict[tuple[int, ResponseCriteria], Assessment] = {}
    if evaluation is not None:
        for a in (*evaluation.recist, *evaluation.choi):
            computed[(a.visit, a.criteria)] = a
    records = []
    for tp in rows.timepoints:
        if tp.number == 0:
            continue
        for criteria in ResponseCriteria:
            by = stored.get((tp.id, criteria), {})
            auto, read = by.get(MeasurementSource.AUTOMATIC), by.get(MeasurementSource.READER)
            chosen = read or auto
            numbers = computed.get((tp.number, criteria))
            records.append(
                {
                    "timepoint": tp.number,
                    "days_from_treatment_start": tp.days_from_treatment_start,
                    "criteria": criteria.value,
                    "category": None if chosen is None else chosen.category.value,
                    "reason": None if chosen is None else chosen.reason,
                    "source": None if chosen is None else chosen.source.value,
                    "automatic_category": None if auto is None else auto.category.value,
                    "automatic_reason": None if auto is None else auto.reason,
                    "reader_category": None if read is None else read.category.value,
                    "reader_reason": None if read is None else read.override_reason,
                    "reader": None if read is None else read.assessed_by,
                    "size_mm": None if numbers is None else numbers.size_mm,
                    "size_change": None if numbers is None else numbers.size_change,
                    "density_hu": None if numbers is None else numbers.density_hu,
                    "density_change": None if numbers is None else numbers.density_change,
                }
            )
    return pd.DataFrame(records, columns=ASSESSMENT_COLUMNS)


def patient_response(session: Session, scope: AccessScope, pseudonym: str) -> PatientResponse:
    """One patient's timepoints, lesion table and categories (an audited case view).

    Raises
    ------
    AccessDenied, NotFoundError
        When the role may not open cases; when the patient is not in scope or has no
        imaging timepoint.
    """
    scope.require(Permission.VIEW_CASE)
    patient = find_patient(session, scope, pseudonym)
    rows = followup_rows(session, scope, [patient.patient_id]).get(patient.patient_id)
    if rows is None:
        raise NotFoundError(f"{pseudonym} has no imaging timepoint: no follow-up to show")
    if not audit.seen_recently(session, scope.user, "case.view", pseudonym, CASE_VIEW_WINDOW):
        audit.record(session, scope.user, "case.view", target_kind="patient", target=pseudonym)
    evaluation, problem = _evaluation(rows)
    timepoints = pd.DataFrame(
        [(tp.number, tp.study_date, tp.days_from_treatment_start) for tp in rows.timepoints],
        columns=["timepoint", "study_date", "days_from_treatment_start"],
    )
    assessments = _assessment_table(rows, evaluation)
    notes = [problem] if problem else []
    if len(assessments) and assessments["category"].isna().all():
        notes.append(NOT_ASSESSED)
    return PatientResponse(
        pseudonym=patient.pseudonym,
        center=patient.center,
        timepoints=timepoints,
        lesions=_lesion_table(rows, evaluation),
        assessments=assessments,
        notes=tuple(notes),
    )


def _first_pd(table: pd.DataFrame, criteria: ResponseCriteria) -> tuple[Any, Any]:
    pd_rows = table[
        (table["criteria"] == criteria.value)
        & (table["category"] == ResponseCategory.PROGRESSION.value)
    ]
    if pd_rows.empty:
        return None, None
    first = pd_rows.sort_values("timepoint").iloc[0]
    return int(first["timepoint"]), _plain(first["days_from_treatment_start"])


def _best(values: pd.Series) -> float | None:
    present = values.dropna()
    return float(present.min()) if len(present) else None


def cohort_response(session: Session, scope: AccessScope) -> pd.DataFrame:
    """One row per patient in scope with follow-up imaging (columns :data:`COHORT_COLUMNS`).

    ``best_size_change`` is the smallest relative change of the RECIST sum of diameters from
    baseline (the waterfall plot's bar), ``best_density_change`` that of the Choi density;
    ``best_recist`` and ``best_choi`` are the best overall responses of the stored categories
    (reader's first) in timepoint order, up to the first progression and without confirmation
    (:func:`~gistcad.analysis.response.best_response`); ``first_pd_*`` the first timepoint (and
    its day from the treatment start) categorised as progression.
    """
    scope.require(Permission.VIEW_COHORT)
    records = []
    for rows in followup_rows(session, scope).values():
        evaluation, _ = _evaluation(rows)
        table = _assessment_table(rows, evaluation).sort_values("timepoint", kind="stable")
        recist = table[table["criteria"] == ResponseCriteria.RECIST_1_1.value]
        choi = table[table["criteria"] == ResponseCriteria.CHOI.value]
        best_recist = best_response(ResponseCategory(c) for c in recist["category"].dropna())
        best_choi = best_response(ResponseCategory(c) for c in choi["category"].dropna())
        records.append(
            {
                "pseudonym": rows.patient.pseudonym,
                "center": rows.patient.center,
                "timepoints": len(rows.timepoints),
                "best_size_change": _best(recist["size_change"]),
                "best_density_change": _best(choi["density_change"]),
                "best_recist": None if best_recist is None else best_recist.value,
                "best_choi": None if best_choi is None else best_choi.value,
                **dict(
                    zip(
                        ["first_pd_recist_timepoint", "first_pd_recist_days"],
                        _first_pd(table, ResponseCriteria.RECIST_1_1),
                        strict=True,
                    )
                ),
                **dict(
                    zip(
                        ["first_pd_choi_timepoint", "first_pd_choi_days"],
                        _first_pd(table, ResponseCriteria.CHOI),
                        strict=True,
                    )
                ),
            }
        )
    table = pd.DataFrame(records, columns=COHORT_COLUMNS)
    for column in COHORT_COLUMNS[-4:]:  # whole numbers, missing without progression
        table[column] = table[column].astype("Int64")
    return table


def cohort_assessments(session: Session, scope: AccessScope) -> pd.DataFrame:
    """Every follow-up timepoint's categories, for every patient in scope with follow-up.

    Returns
    -------
    pandas.DataFrame
        ``pseudonym``, ``center``, then :data:`ASSESSMENT_COLUMNS` (as in
        :func:`patient_response`), by center, pseudonym and timepoint.
    """
    scope.require(Permission.VIEW_COHORT)
    tables = []
    for rows in followup_rows(session, scope).values():
        evaluation, _ = _evaluation(rows)
        table = _assessment_table(rows, evaluation)
        if table.empty:  # the baseline alone
            continue
        table.insert(0, "center", rows.patient.center)
        table.insert(0, "pseudonym", rows.patient.pseudonym)
        tables.append(table)
    if not tables:
        return pd.DataFrame(columns=["pseudonym", "center", *ASSESSMENT_COLUMNS])
    return pd.concat(tables, ignore_index=True)

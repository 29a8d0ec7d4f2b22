"""What the case view shows of one patient's follow-up: timeline, lesions, categories, images.

:func:`case_followup` is the one call of the case view's follow-up section: the patient's
response report (:func:`~gistcad.followup.report.patient_response`) put into words a
clinician reads (labels, never codes), with the treatment line of each timepoint and the CT
and lesion mask of each timepoint for the side-by-side viewer.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from typing import Any

import pandas as pd
from sqlalchemy.orm import Session

from gistcad.domain import (
    RESPONSE_CATEGORY_LABELS,
    RESPONSE_CRITERIA_LABELS,
    Drug,
    LesionOrgan,
    LesionRole,
    MeasurementSource,
    ResponseCategory,
    ResponseCriteria,
)
from gistcad.followup.report import patient_response
from gistcad.store.followup import find_patient
from gistcad.store.scope import AccessScope
from gistcad.store.timeline import timepoint_images, treatment_lines

ORGAN_LABELS: dict[LesionOrgan, str] = {
    LesionOrgan.STOMACH: "Stomach",
    LesionOrgan.DUODENUM: "Duodenum",
    LesionOrgan.JEJUNUM_ILEUM: "Jejunum/ileum",
    LesionOrgan.COLON: "Colon",
    LesionOrgan.RECTUM: "Rectum",
    LesionOrgan.OESOPHAGUS: "Oesophagus",
    LesionOrgan.LIVER: "Liver",
    LesionOrgan.PERITONEUM: "Peritoneum",
    LesionOrgan.LYMPH_NODE: "Lymph node",
    LesionOrgan.LUNG: "Lung",
    LesionOrgan.OTHER: "Other",
}
ROLE_LABELS: dict[LesionRole, str] = {
    LesionRole.TARGET: "Target",
    LesionRole.NON_TARGET: "Non-target",
    LesionRole.NEW: "New lesion",
}
NO_LINE = "no treatment line recorded"


def timepoint_label(number: int) -> str:
    """ "Baseline" for timepoint 0, then "Follow-up 1", "Follow-up 2" …"""
    return "Baseline" if number == 0 else f"Follow-up {number}"


def category_label(code: Any) -> str:
    """ "PR (partial response)" for ``pr``; "not assessed" when missing."""
    if not isinstance(code, str):
        return "not assessed"
    return RESPONSE_CATEGORY_LABELS[ResponseCategory(code)]


def percent(value: Any) -> str:
    """A relative change as "−22 %" (a true minus sign), "" when missing."""
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA:
        return ""
    number = round(100 * float(value))
    return f"{'−' if number < 0 else '+' if number > 0 else ''}{abs(number)} %"


def _number(value: Any, digits: int = 0) -> float | None:
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return None
    return round(float(value), digits)


@dataclass(frozen=True)
class TimepointImage:
    """The CT of one timepoint (``(path, sha256)``) and the mask of its lesion (or None)."""

    timepoint: int
    label: str
    image: tuple[str, str]
    mask: tuple[str, str] | None
    lesion: int | None


@dataclass(frozen=True)
class CaseFollowup:
    """The case view's follow-up section.

    Attributes
    ----------
    timeline
        One row per timepoint: "Timepoint", "Study date", "Days from treatment start",
        "Treatment line", "RECIST 1.1", "Choi".
    lesions
        One row per lesion and timepoint: diameters, HU, their change from baseline, who
        measured (the automatic value beside a reader's).
    categories
        One row per follow-up timepoint and criteria: the category in force with its reason,
        the automatic one, and the reader's with the reader's reason.
    images
        The CT of each timepoint, by timepoint number (timepoints without a series left out).
    notes
        What the reader should know (no category stored yet, a measurement problem).
    """

    pseudonym: str
    timeline: pd.DataFrame
    lesions: pd.DataFrame
    categories: pd.DataFrame
    images: dict[int, TimepointImage]
    notes: tuple[str, ...]

    @property
    def has_follow_up(self) -> bool:
        """Whether there is more than the baseline timepoint."""
        return len(self.timeline) > 1


def _line_at(lines: pd.DataFrame, day: dt.date) -> str:
    current = lines[
        (lines["start_date"] <= day)
        & (lines["stop_date"].isna() | (lines["stop_date"].map(lambda d: d is None or d >= day)))
    ]
    if current.empty:
        return "before treatment" if (lines["start_date"] > day).all() else "off treatment"
    row = current.iloc[-1]
    dose = "" if pd.isna(row["dose_mg_per_day"]) else f" {row['dose_mg_per_day']:g} mg/day"
    return f"line {row['line']}: {Drug(row['drug']).value}{dose}"


def _timeline(response: Any, lines: pd.DataFrame) -> pd.DataFrame:
    by_tp = {
        (row.timepoint, row.criteria): row.category
        for row in response.assessments.itertuples(index=False)
    }
    records = []
    for row in response.timepoints.itertuples(index=False):
        days = row.days_from_treatment_start
        records.append(
            {
                "Timepoint": timepoint_label(int(row.timepoint)),
                "Study date": row.study_date,
                "Days from treatment start": None if pd.isna(days) else int(days),
                "Treatment line": NO_LINE if lines.empty else _line_at(lines, row.study_date),
                **{
                    RESPONSE_CRITERIA_LABELS[c]: (
                        "—"
                        if row.timepoint == 0
                        else category_label(by_tp.get((row.timepoint, c.value)))
                    )
                    for c in ResponseCriteria
                },
            }
        )
    return pd.DataFrame(records)


def _measured_by(row: Any) -> str:
    if row.source != MeasurementSource.READER.value:
        return "automatic"
    auto = []
    if _number(row.automatic_longest_diameter_mm) is not None:
        auto.append(f"{row.automatic_longest_diameter_mm:.0f} mm")
    if _number(row.automatic_mean_hu) is not None:
        auto.append(f"{row.automatic_mean_hu:.0f} HU")
    automatic = f"; automatic {', '.join(auto)}" if auto else ""
    return f"reader {row.reader} ({row.reader_reason}){automatic}"


def _lesions(table: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "Lesion": f"{row.lesion} ({ORGAN_LABELS[LesionOrgan(row.organ)]})",
                "Role": ROLE_LABELS[LesionRole(row.role)],
                "Timepoint": timepoint_label(int(row.timepoint)),
                "Longest diameter (mm)": _number(row.longest_diameter_mm, 1),
                "Short axis (mm)": _number(row.short_axis_mm, 1) if row.is_node else None,
                "Volume (mL)": _number(row.volume_ml, 1),
                "Mean HU": _number(row.mean_hu, 1),
                "Diameter change": percent(row.diameter_change),
                "HU change": percent(row.hu_change),
                "Measured by": _measured_by(row),
            }
            for row in table.itertuples(index=False)
        ],
        columns=[
            "Lesion",
            "Role",
            "Timepoint",
            "Longest diameter (mm)",
            "Short axis (mm)",
            "Volume (mL)",
            "Mean HU",
            "Diameter change",
            "HU change",
            "Measured by",
        ],
    )


def _categories(table: pd.DataFrame) -> pd.DataFrame:
    records = []
    for row in table.itertuples(index=False):
        reader = ""
        if isinstance(row.reader_category, str):
            reader = f"{category_label(row.reader_category)} by {row.reader}: {row.reader_reason}"
        automatic = ""
        if isinstance(row.automatic_category, str):
            automatic = f"{category_label(row.automatic_category)} — {row.automatic_reason}"
        records.append(
            {
                "Timepoint": timepoint_label(int(row.timepoint)),
                "Criteria": RESPONSE_CRITERIA_LABELS[ResponseCriteria(row.criteria)],
                "Category": category_label(row.category),
                "Reason": row.reason if isinstance(row.reason, str) else "",
                "Size change": percent(row.size_change),
                "Density change": percent(row.density_change),
                "Automatic": automatic,
                "Reader": reader,
            }
        )
    return pd.DataFrame(
        records,
        columns=[
            "Timepoint",
            "Criteria",
            "Category",
            "Reason",
            "Size change",
            "Density change",
            "Automatic",
            "Reader",
        ],
    )


def _images(table: pd.DataFrame) -> dict[int, TimepointImage]:
    out: dict[int, TimepointImage] = {}
    with_mask = table[table["lesion"].notna()]
    followed = int(with_mask["lesion"].min()) if not with_mask.empty else None
    for number, rows in table.groupby("timepoint", sort=True):
        first = rows.iloc[0]
        masks = rows[rows["lesion"].notna()]
        chosen = masks[masks["lesion"] == followed] if followed is not None else masks
        chosen = chosen if not chosen.empty else masks
        if not chosen.empty:
            first = chosen.iloc[0]
        has_mask = isinstance(first["mask_path"], str)
        out[int(number)] = TimepointImage(
            timepoint=int(number),
            label=timepoint_label(int(number)),
            image=(str(first["volume_path"]), str(first["volume_sha256"])),
            mask=(str(first["mask_path"]), str(first["mask_sha256"])) if has_mask else None,
            lesion=int(first["lesion"]) if has_mask else None,
        )
    return out


def case_followup(session: Session, scope: AccessScope, pseudonym: str) -> CaseFollowup:
    """The follow-up section of ``pseudonym``'s case view (an audited case view).

    Raises
    ------
    AccessDenied, NotFoundError
        As :func:`~gistcad.followup.report.patient_response`: the role may not open cases;
        the patient is not in scope or has no imaging timepoint.
    """
    response = patient_response(session, scope, pseudonym)
    patient = find_patient(session, scope, pseudonym)
    lines = treatment_lines(session, scope, [patient.patient_id])
    images = timepoint_images(session, scope, patient.patient_id)
    return CaseFollowup(
        pseudonym=response.pseudonym,
        timeline=_timeline(response, lines),
        lesions=_lesions(response.lesions),
        categories=_categories(response.assessments),
        images=_images(images),
        notes=response.notes,
    )

"""Import a clinical spreadsheet: validate every row, then write all of it or nothing.

:func:`validate_sheet` reads every cell of every row and collects *all* problems at once
(by row and column), so that a data manager fixes the file in one pass. :func:`import_clinical`
writes only when there is no problem, in the caller's transaction; re-importing the same
patients updates them instead of duplicating them (the pseudonym is stable, see
:mod:`gistcad.ingest.pseudonym`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from gistcad.errors import ValidationError
from gistcad.ingest import cells
from gistcad.ingest.clinical_schema import (
    CLINICAL_COLUMNS,
    IDENTIFYING_COLUMNS,
    canonical_column,
    normalise_column,
)
from gistcad.ingest.pseudonym import Pseudonymizer
from gistcad.ingest.report import ImportReport
from gistcad.ingest.spreadsheet import Sheet, read_sheet
from gistcad.problems import Problem
from gistcad.store.engine import import_lock
from gistcad.store.writes import Change, ClinicalRecord, get_or_create_center, upsert_clinical

logger = logging.getLogger(__name__)

Parser = Callable[[str, str], Any]

#: canonical column -> (ClinicalRecord field, parser)
PARSERS: dict[str, tuple[str, Parser]] = {
    "sex": ("sex", cells.sex),
    "age_at_diagnosis": ("age_at_diagnosis", cells.age),
    "site": ("site", cells.site),
    "sub_site": ("sub_site", cells.sub_site),
    "size_cm": ("size_cm", cells.size_cm),
    "mitotic_count": ("mitotic_count", cells.mitoses),
    "mitotic_unit": ("mitotic_unit", cells.mitotic_unit),
    "rupture": ("rupture", cells.flag),
    "histology": ("histology", cells.histology),
    "genotype": ("genotype_detail", cells.genotype),
    "surgery_date": ("surgery_date", cells.date),
    "neoadjuvant_imatinib": ("neoadjuvant_imatinib", cells.flag),
    "adjuvant_imatinib": ("adjuvant_imatinib", cells.flag),
    "imatinib_dose_mg_per_day": ("imatinib_dose_mg_per_day", cells.dose),
    "imatinib_duration_months": ("imatinib_duration_months", cells.months),
    "rfs_months": ("rfs_months", cells.months),
    "rfs_event": ("rfs_event", cells.flag),
    "os_months": ("os_months", cells.months),
    "os_event": ("os_event", cells.flag),
    "last_follow_up": ("last_follow_up", cells.date),
}
REQUIRED = tuple(spec.name for spec in CLINICAL_COLUMNS if spec.required)
FIRST_DATA_ROW = 2  # the header is row 1, as a spreadsheet program numbers it


@dataclass(frozen=True)
class ValidRow:
    """A validated row: the center's patient id, the record, and its row in the file."""

    original_id: str
    record: ClinicalRecord
    row: int


@dataclass(frozen=True)
class Validation:
    rows: list[ValidRow]
    problems: list[Problem]
    notes: list[str]


def _map_columns(sheet: Sheet, source: str) -> tuple[dict[str, str], list[Problem], list[str]]:
    """canonical name -> header in the file; problems for duplicates; notes for the rest."""
    mapping: dict[str, str] = {}
    problems: list[Problem] = []
    notes: list[str] = []
    for header in sheet.cells.columns:
        canonical = canonical_column(header)
        if canonical is None:
            if normalise_column(header) in IDENTIFYING_COLUMNS:
                notes.append(f"column {header!r} identifies a person: dropped, not stored")
            else:
                notes.append(f"column {header!r} is not part of the schema: ignored")
            continue
        if canonical in mapping:
            problems.append(
                Problem(
                    source,
                    f"two columns mean {canonical!r} ({mapping[canonical]!r} and "
                    f"{header!r}); keep one",
                    column=header,
                )
            )
            continue
        mapping[canonical] = header
    for name in REQUIRED:
        if name not in mapping:
            problems.append(
                Problem(
                    source,
                    f"required column {name!r} is missing (accepted names: "
                    f"{', '.join(_names(name))})",
                    column=name,
                )
            )
    return mapping, problems, notes


def _names(canonical: str) -> tuple[str, ...]:
    spec = next(s for s in CLINICAL_COLUMNS if s.name == canonical)
    return (spec.name, *spec.aliases)


#: allowed disagreement between a stated time and the dates it should span, months
FOLLOW_UP_TOLERANCE_MONTHS = 1.0
DAYS_PER_MONTH = 365.25 / 12.0
MAX_PATIENT_ID_CHARS = 120  # what the pseudonym table can keep (``--keep-mapping``)


def _check_record(
    values: dict[str, Any], failed: set[str], source: str, row: int, header: dict[str, str]
) -> tuple[list[Problem], list[str]]:
    """Rules that involve more than one cell: (problems, notes).

    A rule is checked only when none of its cells failed on its own (``failed``: canonical
    columns whose cell could not be read), so one wrong cell gives one message.
    """
    problems = []

    def problem(column: str, message: str) -> None:
        problems.append(Problem(source, message, row=row, column=header.get(column, column)))

    unit_missing = values.get("mitotic_unit") is None and "mitotic_unit" not in failed
    if values.get("mitotic_count") is not None and unit_missing:
        problem("mitotic_unit", "a mitotic count needs its unit: per_50hpf or per_5mm2")
    for endpoint in ("rfs", "os"):
        if {f"{endpoint}_months", f"{endpoint}_event"} & failed:
            continue
        has_time = values.get(f"{endpoint}_months") is not None
        has_event = values.get(f"{endpoint}_event") is not None
        if has_time != has_event:
            missing = f"{endpoint}_event" if has_time else f"{endpoint}_months"
            problem(missing, f"{endpoint.upper()} needs both a time and an event flag")
    rfs, os_ = values.get("rfs_months"), values.get("os_months")
    if rfs is not None and os_ is not None and rfs > os_ + 1e-9:
        problem(
            "rfs_months",
            f"recurrence-free time ({rfs:g}) exceeds overall survival ({os_:g}); check both",
        )
    surgery, last = values.get("surgery_date"), values.get("last_follow_up")
    if surgery is not None and last is not None and last < surgery:
        problem(
            "last_follow_up",
            f"last follow-up ({last.isoformat()}) is before surgery ({surgery.isoformat()}); "
            "check both dates",
        )
    return problems, _follow_up_notes(values, row)


def _follow_up_notes(values: dict[str, Any], row: int) -> list[str]:
    """Where both dates are given, the stated times should fit between them."""
    surgery, last = values.get("surgery_date"), values.get("last_follow_up")
    if surgery is None or last is None or last < surgery:
        return []
    span = (last - surgery).days / DAYS_PER_MONTH
    notes = []
    for name in ("rfs_months", "os_months"):
        time = values.get(name)
        if time is None:
            continue
        too_long = time > span + FOLLOW_UP_TOLERANCE_MONTHS
        os_short = name == "os_months" and time < span - FOLLOW_UP_TOLERANCE_MONTHS
        if too_long or os_short:
            notes.append(
                f"row {row}: {name} is {time:g} but surgery to last follow-up spans {span:.1f} "
                "months; times are counted from surgery to the event or the last follow-up: "
                "check the times or the dates"
            )
    return notes


def _validate_row(
    raw: dict[str, str], mapping: dict[str, str], decimal: str, source: str, row: int
) -> tuple[ClinicalRecord | None, list[Problem], list[str]]:
    values: dict[str, Any] = {}
    problems: list[Problem] = []
    failed: set[str] = set()
    for canonical, header in mapping.items():
        if canonical == "patient_id":
            continue
        text = raw[header].strip()
        field, parse = PARSERS[canonical]
        if not text:
            if canonical in REQUIRED:
                problems.append(
                    Problem(source, "empty; this column is required", row=row, column=header)
                )
            continue
        try:
            values[field] = parse(text, decimal)
        except cells.CellError as exc:
            problems.append(Problem(source, str(exc), row=row, column=header, value=text))
            failed.add(canonical)
        if canonical == "genotype":
            values["genotype_text"] = text[:200]
    record_problems, notes = _check_record(values, failed, source, row, mapping)
    problems += record_problems
    if problems:
        return None, problems, []
    return ClinicalRecord(**values), [], notes


def validate_sheet(sheet: Sheet, source: str) -> Validation:
    """Every row checked; all problems listed by row and column (blank rows are skipped)."""
    mapping, problems, notes = _map_columns(sheet, source)
    if problems:
        return Validation([], problems, notes)
    id_header = mapping["patient_id"]
    rows: list[ValidRow] = []
    first_row_of: dict[str, int] = {}
    for offset, raw in enumerate(sheet.cells.to_dict(orient="records")):
        row = FIRST_DATA_ROW + offset
        if not any(str(v).strip() for v in raw.values()):
            continue  # a blank line
        original = str(raw[id_header]).strip()
        if not original:
            problems.append(Problem(source, "patient id is empty", row=row, column=id_header))
            continue
        if len(original) > MAX_PATIENT_ID_CHARS:
            problems.append(
                Problem(
                    source,
                    f"a patient id of {len(original)} characters (at most "
                    f"{MAX_PATIENT_ID_CHARS}): is this the right column?",
                    row=row,
                    column=id_header,
                )
            )
            continue
        if original in first_row_of:
            problems.append(
                Problem(
                    source,
                    f"duplicate patient id (first on row {first_row_of[original]})",
                    row=row,
                    column=id_header,
                    value=original,
                )
            )
            continue
        first_row_of[original] = row
        record, row_problems, row_notes = _validate_row(raw, mapping, sheet.decimal, source, row)
        problems += row_problems
        notes += row_notes
        if record is not None:
            rows.append(ValidRow(original, record, row))
    if not first_row_of and not problems:
        problems.append(Problem(source, "the table has a header but no patient rows"))
    return Validation(rows, problems, notes)


def import_clinical(
    session: Session,
    path: Path,
    *,
    center: str,
    pseudonymizer: Pseudonymizer,
    keep_mapping: bool = False,
    dry_run: bool = False,
) -> ImportReport:
    """Validate ``path`` and, if it has no problem, upsert every row into ``session``.

    The caller owns the transaction: it commits when ``report.ok`` and not ``dry_run``, and
    rolls back otherwise (the CLI does exactly that).
    """
    report = ImportReport(kind="clinical", source=str(path), center=center, dry_run=dry_run)
    try:
        sheet = read_sheet(path)
    except ValidationError as exc:
        report.problems.append(Problem(str(path), str(exc).removeprefix(f"{path}: ")))
        return report
    report.notes.append(f"read as {sheet.describe()}")
    validation = validate_sheet(sheet, path.name)
    report.problems.extend(validation.problems)
    report.notes.extend(validation.notes)
    if not report.ok:
        return report
    import_lock(session)  # another import of these patients waits until this one commits
    center_row, created = get_or_create_center(session, center)
    if created:
        report.notes.append(f"new center {center!r} created")
    for valid in validation.rows:
        change = upsert_clinical(
            session,
            center_row,
            pseudonymizer.pseudonym(center_row.name, valid.original_id),
            valid.record,
            original_id=valid.original_id if keep_mapping else None,
        )
        if change is Change.CREATED:
            report.created += 1
        elif change is Change.UPDATED:
            report.updated += 1
        else:
            report.unchanged += 1
    logger.info("clinical import of %s: %s", path, report.summary().splitlines()[0])
    return report

"""Import a treatment-line sheet: one row per line of systemic therapy, all rows or none.

Columns (CSV or XLSX, read like the clinical tables): ``hospital_id`` (or ``patient_id``),
``line`` (1, 2, ...), ``drug`` (a :class:`~gistcad.domain.Drug`, or its brand name),
``dose_mg_per_day``, ``start_date``, ``stop_date`` (blank: ongoing), ``stop_reason``.

Every row is checked and every problem listed by row and column before anything is written;
refused are an unknown drug, a stop before the start, two lines of one patient that overlap
(or whose numbers contradict their dates), a line that starts before the patient's first CT
(the diagnosis, for follow-up purposes), and a patient the store does not know. The patient
is found by the pseudonym of its hospital id (no hospital id is stored). Re-importing updates
the lines by number (an optional column the file leaves out, ``dose_mg_per_day``,
``stop_date`` or ``stop_reason``, keeps a stored line's value; a blank cell clears it);
afterwards the patient's timepoints are re-dated from the first line's start
(:mod:`gistcad.ingest.follow_up`).

Name and birth-date columns (as the clinical schema names them) are never read into the
store, but, with the hospital id, they are looked for in every kept cell (a stop reason that
names the patient refuses the file; :class:`gistcad.ingest.cells.RowIdentity`).
"""

from __future__ import annotations

import datetime as dt
import itertools
import logging
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path

from sqlalchemy.orm import Session

from gistcad.domain import Drug
from gistcad.errors import ValidationError
from gistcad.ingest import cells
from gistcad.ingest.clinical_schema import BIRTH_DATE_COLUMNS, NAME_COLUMNS, normalise_column
from gistcad.ingest.dicom import ImportContext, link_patients
from gistcad.ingest.report import ImportReport
from gistcad.ingest.spreadsheet import Sheet, read_sheet
from gistcad.problems import Problem
from gistcad.store.engine import import_lock
from gistcad.store.follow_up_writes import find_patient, patient_treatment_lines
from gistcad.store.models import Patient, TreatmentLine
from gistcad.store.writes import find_center

logger = logging.getLogger(__name__)

#: canonical column -> accepted headers (compared lower-case, spaces as underscores)
COLUMNS: dict[str, tuple[str, ...]] = {
    "hospital_id": ("hospital_id", "patient_id", "patient"),
    "line": ("line", "line_number"),
    "drug": ("drug", "agent"),
    "dose_mg_per_day": ("dose_mg_per_day", "dose", "dose_mg"),
    "start_date": ("start_date", "start"),
    "stop_date": ("stop_date", "stop", "end_date"),
    "stop_reason": ("stop_reason", "reason"),
}
REQUIRED = ("hospital_id", "line", "drug", "start_date")
BRAND_NAMES = {
    "glivec": Drug.IMATINIB,
    "gleevec": Drug.IMATINIB,
    "sutent": Drug.SUNITINIB,
    "stivarga": Drug.REGORAFENIB,
    "qinlock": Drug.RIPRETINIB,
    "ayvakit": Drug.AVAPRITINIB,
    "ayvakyt": Drug.AVAPRITINIB,
}
FIRST_DATA_ROW = 2
MAX_LINES = 20
#: optional columns: the LineRow field and the TreatmentLine column each one sets
OPTIONAL = {
    "dose_mg_per_day": ("dose_mg_per_day", "dose_mg_per_day"),
    "stop_date": ("stop", "stop_date"),
    "stop_reason": ("stop_reason", "stop_reason"),
}


@dataclass(frozen=True)
class LineRow:
    """A validated row."""

    original_id: str
    line: int
    drug: Drug
    dose_mg_per_day: float | None
    start: dt.date
    stop: dt.date | None
    stop_reason: str | None
    row: int


def parse_drug(text: str) -> Drug:
    """A :class:`Drug` from its name or brand name (any case)."""
    key = text.strip().lower()
    if key in BRAND_NAMES:
        return BRAND_NAMES[key]
    try:
        return Drug(key)
    except ValueError:
        names = ", ".join(d.value for d in Drug)
        raise cells.CellError(f"unknown drug; use one of {names} (or 'other')") from None


def parse_line(text: str, decimal: str) -> int:
    value = cells.number(text, decimal)
    if value != int(value) or not 1 <= value <= MAX_LINES:
        raise cells.CellError(f"expected a line number 1-{MAX_LINES}")
    return int(value)


def _key(header: str) -> str:
    return "_".join(header.strip().lower().split())


def _map_columns(sheet: Sheet, source: str) -> tuple[dict[str, str], list[Problem]]:
    mapping: dict[str, str] = {}
    problems = []
    for header in (str(c) for c in sheet.cells.columns):
        canonical = next((c for c, names in COLUMNS.items() if _key(header) in names), None)
        if canonical is None:
            continue
        if canonical in mapping:
            first = mapping[canonical]
            problems.append(
                Problem(
                    source,
                    f"two columns mean {canonical!r}: {first!r} (column {sheet.letter(first)}) "
                    f"and {header!r} (column {sheet.letter(header)}); delete one of them and "
                    "import again",
                    column=header,
                )
            )
            continue
        mapping[canonical] = header
    problems += [
        Problem(
            source,
            f"required column {name!r} is missing (accepted names: {', '.join(COLUMNS[name])})",
            column=name,
        )
        for name in REQUIRED
        if name not in mapping
    ]
    return mapping, problems


def _identity(raw: dict[str, str], mapping: dict[str, str]) -> cells.RowIdentity:
    """Who the row is about: its name and birth-date cells (never stored) and hospital id."""

    def of(kind: frozenset[str]) -> list[str]:
        return [str(v) for h, v in raw.items() if normalise_column(str(h)) in kind]

    return cells.RowIdentity.of(
        names=of(NAME_COLUMNS),
        birth_dates=of(BIRTH_DATE_COLUMNS),
        patient_id=str(raw[mapping["hospital_id"]]),
    )


def _row(
    raw: dict[str, str], mapping: dict[str, str], decimal: str, source: str, row: int
) -> tuple[LineRow | None, list[Problem]]:
    problems: list[Problem] = []
    values: dict[str, object] = {}
    parsers = {
        "line": parse_line,
        "drug": lambda text, _d: parse_drug(text),
        "dose_mg_per_day": cells.dose,
        "start_date": cells.date,
        "stop_date": cells.date,
    }
    identity = _identity(raw, mapping)
    for name, header in mapping.items():
        text = str(raw[header]).strip()
        if not text:
            if name in REQUIRED:
                problems.append(Problem(source, "empty; this column is required", row, header))
            continue
        identifying = None if name == "hospital_id" else identity.problem_in(text)
        if identifying is not None:
            problems.append(Problem(source, identifying, row, header))  # never quoted
        elif name in parsers:
            try:
                values[name] = parsers[name](text, decimal)
            except cells.CellError as exc:
                problems.append(Problem(source, str(exc), row, header, value=text))
        else:
            values[name] = text[:200]
    start, stop = values.get("start_date"), values.get("stop_date")
    if isinstance(start, dt.date) and isinstance(stop, dt.date) and stop < start:
        problems.append(
            Problem(
                source,
                f"stops ({stop.isoformat()}) before it starts ({start.isoformat()}); "
                "check both dates",
                row,
                mapping["stop_date"],
            )
        )
    if problems:
        return None, problems
    return (
        LineRow(
            original_id=str(values["hospital_id"]),
            line=int(values["line"]),  # type: ignore[call-overload]
            drug=values["drug"],  # type: ignore[arg-type]
            dose_mg_per_day=values.get("dose_mg_per_day"),  # type: ignore[arg-type]
            start=start,  # type: ignore[arg-type]
            stop=stop,  # type: ignore[arg-type]
            stop_reason=values.get("stop_reason"),  # type: ignore[arg-type]
            row=row,
        ),
        [],
    )


def _overlaps(lines: list[LineRow], source: str, header: str) -> list[Problem]:
    """Lines of one patient, checked in line order: each starts after the previous stops."""
    problems = []
    ordered = sorted(lines, key=lambda r: r.line)
    for before, after in itertools.pairwise(ordered):
        if after.line == before.line:
            problems.append(
                Problem(
                    source,
                    f"line {after.line} is given twice (also row {before.row})",
                    after.row,
                    header,
                )
            )
        elif before.stop is None or after.start < before.stop:
            until = "is ongoing" if before.stop is None else f"stops {before.stop.isoformat()}"
            where = f"row {before.row}" if before.row else "already stored"
            problems.append(
                Problem(
                    source,
                    f"line {after.line} starts {after.start.isoformat()} while line "
                    f"{before.line} ({where}) {until}: lines must not overlap; "
                    f"give line {before.line} its stop date or correct the start",
                    after.row or before.row,  # a stored line has no row: the file's one
                    header,
                )
            )
    return problems


def validate_lines(
    session: Session, path: Path, center: str, ctx: ImportContext
) -> tuple[dict[int, tuple[Patient, list[LineRow]]], list[Problem], str]:
    """Read and check every row; rows grouped by stored patient (id → patient, rows)."""
    source = path.name
    try:
        sheet = read_sheet(path)
    except ValidationError as exc:
        return {}, [Problem(str(path), str(exc).removeprefix(f"{path}: "))], ""
    mapping, problems = _map_columns(sheet, source)
    if problems:
        return {}, problems, sheet.describe()
    rows: list[LineRow] = []
    for offset, raw in enumerate(sheet.cells.to_dict(orient="records")):
        if not any(str(v).strip() for v in raw.values()):
            continue
        parsed, row_problems = _row(raw, mapping, sheet.decimal, source, FIRST_DATA_ROW + offset)
        problems += row_problems
        if parsed is not None:
            rows.append(parsed)
    if not rows and not problems:
        problems.append(Problem(source, "the sheet has a header but no rows"))
    stored_center = find_center(session, center)
    by_patient: dict[int, tuple[Patient, list[LineRow]]] = {}
    for row in rows:
        patient = None
        if stored_center is not None:
            pseudonym = ctx.pseudonymizer.pseudonym(stored_center.name, row.original_id)
            patient = find_patient(session, stored_center, pseudonym)
        if patient is None:
            problems.append(
                Problem(
                    source,
                    f"no patient with this id in center {center!r}: import the clinical table "
                    "and the CT first",
                    row.row,
                    mapping["hospital_id"],
                )  # the id itself is not repeated: the report may be shown on a page
            )
            continue
        by_patient.setdefault(patient.id, (patient, []))[1].append(row)
    for key, (patient, lines) in by_patient.items():
        stored = {s.line: s for s in patient_treatment_lines(session, patient)}
        lines = [_with_stored(r, stored.get(r.line), mapping) for r in lines]
        by_patient[key] = (patient, lines)
        problems += _patient_problems(session, patient, lines, source, mapping)
    return by_patient, problems, sheet.describe()


def _with_stored(row: LineRow, stored: TreatmentLine | None, mapping: Mapping[str, str]) -> LineRow:
    """``row`` with the stored line's values for the optional columns the file leaves out."""
    if stored is None:
        return row
    kept = {
        field: getattr(stored, column)
        for name, (field, column) in OPTIONAL.items()
        if name not in mapping
    }
    return replace(row, **kept)


def _patient_problems(
    session: Session, patient: Patient, lines: list[LineRow], source: str, mapping: dict[str, str]
) -> list[Problem]:
    given = {r.line for r in lines}
    kept = [
        LineRow("", s.line, s.drug, s.dose_mg_per_day, s.start_date, s.stop_date, None, 0)
        for s in patient_treatment_lines(session, patient)
        if s.line not in given
    ]
    problems = _overlaps(lines + kept, source, mapping["start_date"])
    if "stop_date" not in mapping:  # a stop kept from the store: the file did not check it
        problems += [
            Problem(
                source,
                f"starts {r.start.isoformat()}, after its stored stop ({r.stop.isoformat()}); "
                "add a stop_date column with the line's stop, or correct the start",
                r.row,
                mapping["start_date"],
            )
            for r in lines
            if r.stop is not None and r.stop < r.start
        ]
    dates = [s.study_date for s in patient.studies if s.study_date is not None]
    if dates:
        first = min(dates)
        problems += [
            Problem(
                source,
                f"starts {r.start.isoformat()}, before the patient's first CT "
                f"({first.isoformat()}, the diagnosis): check the start date",
                r.row,
                mapping["start_date"],
            )
            for r in lines
            if r.start < first
        ]
    return problems


def import_treatment_lines(session: Session, path: Path, ctx: ImportContext) -> ImportReport:
    """Validate ``path``; with no problem, write every line and re-date the timepoints.

    The caller owns the transaction (:func:`gistcad.ingest.transaction.run_import`).
    """
    report = ImportReport(kind="treatment_lines", source=str(path), center=ctx.center)
    import_lock(session)
    by_patient, problems, described = validate_lines(session, path, ctx.center, ctx)
    if described:
        report.notes.append(f"read as {described}")
    report.problems.extend(problems)
    if not report.ok:
        return report
    for patient, lines in by_patient.values():
        stored = {s.line: s for s in patient_treatment_lines(session, patient)}
        for row in lines:
            values = {
                "drug": row.drug,
                "dose_mg_per_day": row.dose_mg_per_day,
                "start_date": row.start,
                "stop_date": row.stop,
                "stop_reason": row.stop_reason,
            }
            line = stored.get(row.line)
            if line is None:
                session.add(TreatmentLine(patient_id=patient.id, line=row.line, **values))
                report.created += 1
            elif any(getattr(line, k) != v for k, v in values.items()):
                for key, value in values.items():
                    setattr(line, key, value)
                report.updated += 1
            else:
                report.unchanged += 1
    session.flush()
    link_patients(session, ctx, [patient for patient, _ in by_patient.values()], report)
    logger.info("treatment lines of %s: %s", path, report.summary().splitlines()[0])
    return report

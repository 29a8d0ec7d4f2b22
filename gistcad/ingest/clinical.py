"""Import a clinical spreadsheet: validate every row, then write all of it or nothing.

:func:`validate_sheet` reads every cell of every row and collects *all* problems at once
(by row and column), so that a data manager fixes the file in one pass. :func:`import_clinical`
writes only when there is no problem, in the caller's transaction; re-importing the same
patients updates them instead of duplicating them (the pseudonym is stable, see
:mod:`gistcad.ingest.pseudonym`).

A file updates what it carries: a column left out of the file keeps the stored values, a blank
cell in a column the file has clears the stored value (and the report counts what was
cleared). The rules that join several columns (an OS time needs its event flag, recurrence
before death, follow-up after surgery) are checked again on the stored record as it will be.

No cell that is kept may hold the row's own patient: the values of the name and birth-date
columns (which are dropped) and the patient id are looked for in every other cell
(:class:`gistcad.ingest.cells.RowIdentity`), and a cell that holds one refuses the file
without being quoted.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from gistcad.errors import ValidationError
from gistcad.ingest import cells
from gistcad.ingest.clinical_schema import (
    BIRTH_DATE_COLUMNS,
    CLINICAL_COLUMNS,
    IDENTIFYING_COLUMNS,
    NAME_COLUMNS,
    canonical_column,
    normalise_column,
)
from gistcad.ingest.pseudonym import Pseudonymizer
from gistcad.ingest.report import ImportReport
from gistcad.ingest.spreadsheet import Sheet, read_sheet
from gistcad.problems import Problem
from gistcad.store.engine import import_lock
from gistcad.store.follow_up_writes import find_patient
from gistcad.store.models import Patient
from gistcad.store.writes import (
    Change,
    ClinicalRecord,
    find_center,
    get_or_create_center,
    upsert_clinical,
)

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
#: canonical column -> the ClinicalRecord fields its cell sets
FIELDS_OF: dict[str, tuple[str, ...]] = {
    canonical: (name, "genotype_text") if canonical == "genotype" else (name,)
    for canonical, (name, _) in PARSERS.items()
}
#: what a ClinicalRecord field holds when nothing is known (a blank cell)
DEFAULTS: dict[str, Any] = {f.name: f.default for f in fields(ClinicalRecord)}


@dataclass(frozen=True)
class Columns:
    """The file's headers by what they mean.

    Attributes
    ----------
    schema
        Canonical column -> its header in the file.
    names, birth_dates
        Headers of the columns that hold the patient's name and birth date (dropped, but
        looked for in the kept cells).
    """

    schema: dict[str, str] = field(default_factory=dict)
    names: tuple[str, ...] = ()
    birth_dates: tuple[str, ...] = ()


@dataclass(frozen=True)
class ValidRow:
    """A validated row: the center's patient id, what its cells say, and its row in the file.

    Attributes
    ----------
    values
        ClinicalRecord field -> value, for the columns the file has; a blank cell gives the
        field's default (``None``, 0, unknown genotype).
    blank
        Canonical columns of the file whose cell in this row is blank.
    """

    original_id: str
    values: dict[str, Any]
    blank: frozenset[str]
    row: int

    def record(self, stored: Mapping[str, Any]) -> ClinicalRecord:
        """The record to store: ``stored`` values, updated by what the file carries."""
        return ClinicalRecord(**{**stored, **self.values})


@dataclass(frozen=True)
class Validation:
    rows: list[ValidRow]
    problems: list[Problem]
    notes: list[str]
    columns: Columns = field(default_factory=Columns)


def _map_columns(sheet: Sheet, source: str) -> tuple[Columns, list[Problem], list[str]]:
    """The file's columns; problems for two meaning one and for missing ones; notes for the
    rest."""
    mapping: dict[str, str] = {}
    problems: list[Problem] = []
    notes: list[str] = []
    names: list[str] = []
    births: list[str] = []
    for header in sheet.cells.columns:
        canonical = canonical_column(header)
        if canonical is None:
            key = normalise_column(header)
            if key in IDENTIFYING_COLUMNS:
                notes.append(f"column {header!r} identifies a person: dropped, not stored")
                names += [header] if key in NAME_COLUMNS else []
                births += [header] if key in BIRTH_DATE_COLUMNS else []
            else:
                notes.append(f"column {header!r} is not part of the schema: ignored")
            continue
        if canonical in mapping:
            first = mapping[canonical]
            problems.append(
                Problem(
                    source,
                    f"two columns mean {canonical!r}: {first!r} (column "
                    f"{sheet.letter(first)}) and {header!r} (column {sheet.letter(header)}); "
                    "delete one of them and import again",
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
    return Columns(mapping, tuple(names), tuple(births)), problems, notes


def _names(canonical: str) -> tuple[str, ...]:
    spec = next(s for s in CLINICAL_COLUMNS if s.name == canonical)
    return (spec.name, *spec.aliases)


#: allowed disagreement between a stated time and the dates it should span, months
FOLLOW_UP_TOLERANCE_MONTHS = 1.0
DAYS_PER_MONTH = 365.25 / 12.0
MAX_PATIENT_ID_CHARS = 120  # what the pseudonym table can keep (``--keep-mapping``)


def _check_record(
    values: Mapping[str, Any], failed: set[str], source: str, row: int, header: dict[str, str]
) -> tuple[list[Problem], list[str]]:
    """Rules that involve more than one cell: (problems, notes).

    ``values`` are ClinicalRecord fields: those of the file's columns when the file is read,
    all of them when checked against the stored record. A rule whose fields are not all in
    ``values`` is left for that second check. A rule is checked only when none of its cells
    failed on its own (``failed``: canonical columns whose cell could not be read), so one
    wrong cell gives one message.
    """
    problems = []

    def problem(column: str, message: str) -> None:
        problems.append(Problem(source, message, row=row, column=header.get(column, column)))

    unit_missing = "mitotic_unit" in values and values["mitotic_unit"] is None
    if values.get("mitotic_count") is not None and unit_missing and "mitotic_unit" not in failed:
        problem("mitotic_unit", "a mitotic count needs its unit: per_50hpf or per_5mm2")
    for endpoint in ("rfs", "os"):
        pair = (f"{endpoint}_months", f"{endpoint}_event")
        if set(pair) & failed or not set(pair) <= set(values):
            continue
        has_time, has_event = (values[name] is not None for name in pair)
        if has_time != has_event:
            missing = pair[1] if has_time else pair[0]
            add = "" if missing in header else f" (none is stored): add the column {missing!r}"
            problem(missing, f"{endpoint.upper()} needs both a time and an event flag{add}")
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


def _follow_up_notes(values: Mapping[str, Any], row: int) -> list[str]:
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
    raw: dict[str, str], columns: Columns, decimal: str, source: str, row: int
) -> tuple[ValidRow | None, list[Problem], list[str]]:
    identity = cells.RowIdentity.of(
        names=[raw[h] for h in columns.names],
        birth_dates=[raw[h] for h in columns.birth_dates],
        patient_id=raw[columns.schema["patient_id"]],
    )
    values: dict[str, Any] = {}
    blank: set[str] = set()
    problems: list[Problem] = []
    failed: set[str] = set()
    for canonical, header in columns.schema.items():
        if canonical == "patient_id":
            continue
        text = raw[header].strip()
        if not text:
            blank.add(canonical)
            values.update({name: DEFAULTS[name] for name in FIELDS_OF[canonical]})
            if canonical in REQUIRED:
                problems.append(
                    Problem(source, "empty; this column is required", row=row, column=header)
                )
            continue
        problem = _read_cell(text, canonical, identity, decimal, values)
        if problem is not None:
            message, quoted = problem
            problems.append(Problem(source, message, row=row, column=header, value=quoted))
            failed.add(canonical)
    record_problems, notes = _check_record(values, failed, source, row, columns.schema)
    problems += record_problems
    if problems:
        return None, problems, []
    original = raw[columns.schema["patient_id"]].strip()
    return ValidRow(original, values, frozenset(blank), row), [], notes


def _read_cell(
    text: str, canonical: str, identity: cells.RowIdentity, decimal: str, values: dict[str, Any]
) -> tuple[str, str | None] | None:
    """Put what cell ``text`` of column ``canonical`` says into ``values``; else the problem
    and the value to quote (none for a cell that holds the patient's identity)."""
    identifying = identity.problem_in(text)
    if identifying is not None:
        return identifying, None
    name, parse = PARSERS[canonical]
    if canonical == "genotype":
        values["genotype_text"] = text[:200]
    try:
        values[name] = parse(text, decimal)
    except cells.CellError as exc:
        return str(exc), text
    return None


def validate_sheet(sheet: Sheet, source: str) -> Validation:
    """Every row checked; all problems listed by row and column (blank rows are skipped)."""
    columns, problems, notes = _map_columns(sheet, source)
    if problems:
        return Validation([], problems, notes, columns)
    id_header = columns.schema["patient_id"]
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
                )  # the id itself is not repeated: the report may be shown on a page
            )
            continue
        first_row_of[original] = row
        valid, row_problems, row_notes = _validate_row(raw, columns, sheet.decimal, source, row)
        problems += row_problems
        notes += row_notes
        if valid is not None:
            rows.append(valid)
    if not first_row_of and not problems:
        problems.append(Problem(source, "the table has a header but no patient rows"))
    return Validation(rows, problems, notes, columns)


@dataclass(frozen=True)
class _Planned:
    """A row ready to write: its pseudonym, the record as it will be stored, what it clears."""

    valid: ValidRow
    pseudonym: str
    record: ClinicalRecord
    cleared: tuple[str, ...]


def _stored_values(patient: Patient | None) -> dict[str, Any]:
    """The ClinicalRecord fields stored for ``patient`` (none for a new patient)."""
    if patient is None:
        return {}
    tumour = next((t for t in patient.tumours if t.lesion == 1), None)
    holders = [h for h in (patient, tumour, patient.treatment, patient.outcome) if h is not None]
    return {name: getattr(h, name) for h in holders for name in DEFAULTS if hasattr(h, name)}


def _plan(
    session: Session, validation: Validation, center: str, pseudonymizer: Pseudonymizer, source: str
) -> tuple[list[_Planned], list[Problem]]:
    """Each row merged with what is stored for its patient, and the merged records checked."""
    stored_center = find_center(session, center)
    name = center if stored_center is None else stored_center.name
    header = validation.columns.schema
    planned, problems = [], []
    for valid in validation.rows:
        pseudonym = pseudonymizer.pseudonym(name, valid.original_id)
        patient = None if stored_center is None else find_patient(session, stored_center, pseudonym)
        stored = _stored_values(patient)
        record = valid.record(stored)
        problems += _check_record(asdict(record), set(), source, valid.row, header)[0]
        cleared = tuple(
            header[column]
            for column in sorted(valid.blank)
            if any(stored.get(f) not in (None, DEFAULTS[f]) for f in FIELDS_OF[column])
        )
        planned.append(_Planned(valid, pseudonym, record, cleared))
    return planned, problems


def _cleared_note(planned: list[_Planned], dry_run: bool) -> list[str]:
    counts: dict[str, int] = {}
    for plan in planned:
        for header in plan.cleared:
            counts[header] = counts.get(header, 0) + 1
    if not counts:
        return []
    listed = ", ".join(
        f"{header!r} of {n} patient{'s' if n > 1 else ''}" for header, n in counts.items()
    )
    verb = "would be cleared" if dry_run else "cleared"
    return [
        f"stored values {verb} by blank cells: {listed}; to keep a stored value, leave its "
        "column out of the file"
    ]


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

    Columns the file does not have keep their stored values; a blank cell clears one (the
    report's notes count what was cleared). The caller owns the transaction: it commits when
    ``report.ok`` and not ``dry_run``, and rolls back otherwise (the CLI does exactly that).
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
    planned, problems = _plan(session, validation, center, pseudonymizer, path.name)
    report.problems.extend(problems)
    if not report.ok:
        return report
    report.notes.extend(_cleared_note(planned, dry_run))
    center_row, created = get_or_create_center(session, center)
    if created:
        report.notes.append(f"new center {center!r} created")
    for plan in planned:
        change = upsert_clinical(
            session,
            center_row,
            plan.pseudonym,
            plan.record,
            original_id=plan.valid.original_id if keep_mapping else None,
        )
        if change is Change.CREATED:
            report.created += 1
        elif change is Change.UPDATED:
            report.updated += 1
        else:
            report.unchanged += 1
    logger.info("clinical import of %s: %s", path, report.summary().splitlines()[0])
    return report

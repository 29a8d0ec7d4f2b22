"""The WORC label file: one row per subject, each label coded 1 = yes, 0 = no, 2 = unknown.

Two forms are published (``../shared/reference/worc_layout.md``): the database's
``pinfo_GIST.csv`` (``Patient,Diagnosis``: 1 = GIST, 0 = another tumour of the differential
diagnosis) and the GIST radiomics study's file (``Patient,GIST,MI_adjusted,KIT_mutation,
KIT_exon11``; Starmans et al., J Digit Imaging 2022;35:127–136), where 2 means "not applicable /
unknown". A blank cell is unknown too. The file is read as the clinical spreadsheets are
(:func:`gistcad.ingest.spreadsheet.read_sheet`: UTF-8 or Windows-1252, ``,`` ``;`` tab or ``|``,
or ``.xlsx``), and every coded cell this importer uses must hold one of those codes: a word
("yes", "GIST") or another number is refused with its row, column and value, never guessed.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from gistcad.domain import GenotypeDetail
from gistcad.errors import ValidationError
from gistcad.ingest.spreadsheet import read_sheet
from gistcad.problems import Problem

FIRST_DATA_ROW = 2  # the header is row 1, as a spreadsheet program numbers it
SUBJECT_COLUMN = "Patient"
#: the columns this importer reads; any other column (MI_adjusted, Age, ...) is left alone
DIAGNOSIS_COLUMNS = ("GIST", "Diagnosis")
KIT_MUTATION, KIT_EXON11 = "KIT_mutation", "KIT_exon11"
ACCEPTED = "1 (yes), 0 (no), 2 or blank (unknown)"


class WorcCode(StrEnum):
    """A coded WORC label cell."""

    YES = "1"
    NO = "0"
    UNKNOWN = "2"

    @classmethod
    def parse(cls, text: str) -> WorcCode:
        """The code of a cell as written (surrounding spaces ignored; blank = unknown).

        Raises
        ------
        ValueError
            For anything else, words and ``1.0`` included.
        """
        return cls(text.strip() or cls.UNKNOWN)


@dataclass(frozen=True)
class WorcLabel:
    """What a WORC label row says: whether the tumour is a GIST, and its genotype."""

    is_gist: bool  # False only when labelled 0 (another tumour); unknown counts as a GIST
    genotype: GenotypeDetail
    text: str  # e.g. "KIT mutation: yes; KIT exon 11: yes (WORC labels)"; "" when unknown


@dataclass(frozen=True)
class WorcLabels:
    """A label file read and checked: each subject's label, and every problem found."""

    by_subject: dict[str, WorcLabel]
    problems: list[Problem]


def read_worc_labels(path: Path) -> WorcLabels:
    """Read and check the label file at ``path``; see the module doc for the codes."""
    if not path.is_file():
        return WorcLabels(
            {}, [Problem(str(path), "no such file; check the path of the label file")]
        )
    try:
        sheet = read_sheet(path)
    except ValidationError as exc:
        return WorcLabels({}, [Problem(str(path), str(exc).removeprefix(f"{path}: "))])
    columns = list(sheet.cells.columns)
    if SUBJECT_COLUMN not in columns:
        found = ", ".join(repr(c) for c in columns)
        message = (
            f"no {SUBJECT_COLUMN!r} column (the columns are {found}); name the column that "
            "holds the subject folders' names (GIST-001 ...) 'Patient'"
        )
        return WorcLabels({}, [Problem(str(path), message, column=SUBJECT_COLUMN)])
    coded = [c for c in (*DIAGNOSIS_COLUMNS, KIT_MUTATION, KIT_EXON11) if c in columns]
    by_subject: dict[str, WorcLabel] = {}
    first_row_of: dict[str, int] = {}
    problems: list[Problem] = []
    for offset, raw in enumerate(sheet.cells.to_dict(orient="records")):
        row = FIRST_DATA_ROW + offset
        cells = {str(k): str(v) for k, v in raw.items()}
        if not any(v.strip() for v in cells.values()):
            continue  # a blank line
        subject = cells[SUBJECT_COLUMN].strip()
        problem = _subject_problem(str(path), row, subject, first_row_of)
        if problem is not None:
            problems.append(problem)
            continue
        first_row_of[subject] = row
        codes, row_problems = _codes(str(path), row, cells, coded)
        problems += row_problems
        if not row_problems:
            by_subject[subject] = _label(codes)
    return WorcLabels(by_subject, problems)


def _subject_problem(
    source: str, row: int, subject: str, first_row_of: dict[str, int]
) -> Problem | None:
    if not subject:
        return Problem(source, "empty; write the subject's folder name", row, SUBJECT_COLUMN)
    if subject in first_row_of:
        return Problem(
            source,
            f"this subject has a label row already (row {first_row_of[subject]}); keep one",
            row,
            SUBJECT_COLUMN,
            value=subject,
        )
    return None


def _codes(
    source: str, row: int, cells: dict[str, str], coded: list[str]
) -> tuple[dict[str, WorcCode], list[Problem]]:
    codes: dict[str, WorcCode] = {}
    problems: list[Problem] = []
    for column in coded:
        try:
            codes[column] = WorcCode.parse(cells[column])
        except ValueError:
            problems.append(
                Problem(
                    source,
                    f"not a WORC label code; write {ACCEPTED}",
                    row,
                    column,
                    value=cells[column],
                )
            )
    diagnoses = {codes[c] for c in DIAGNOSIS_COLUMNS if c in codes} - {WorcCode.UNKNOWN}
    if len(diagnoses) > 1:
        problems.append(
            Problem(
                source,
                "GIST and Diagnosis disagree (one is 1, the other 0); correct one of them",
                row,
                DIAGNOSIS_COLUMNS[1],
            )
        )
    kit, exon11 = codes.get(KIT_MUTATION), codes.get(KIT_EXON11)
    if kit is WorcCode.NO and exon11 is WorcCode.YES:
        problems.append(
            Problem(
                source,
                f"KIT exon 11 is mutated (1) but {KIT_MUTATION} is 0 (no KIT mutation); "
                "correct one of them from the pathology report, or write 2 where unknown",
                row,
                KIT_EXON11,
            )
        )
    return codes, problems


def _label(codes: dict[str, WorcCode]) -> WorcLabel:
    diagnosis = next((codes[c] for c in DIAGNOSIS_COLUMNS if c in codes), WorcCode.UNKNOWN)
    exon11 = codes.get(KIT_EXON11, WorcCode.UNKNOWN)
    known = [
        f"{name}: {'yes' if code is WorcCode.YES else 'no'}"
        for name, code in (
            ("KIT mutation", codes.get(KIT_MUTATION, WorcCode.UNKNOWN)),
            ("KIT exon 11", exon11),
        )
        if code is not WorcCode.UNKNOWN
    ]
    return WorcLabel(
        is_gist=diagnosis is not WorcCode.NO,
        genotype=(
            GenotypeDetail.KIT11_UNSPECIFIED if exon11 is WorcCode.YES else GenotypeDetail.UNKNOWN
        ),
        text=f"{'; '.join(known)} (WORC labels)" if known else "",
    )

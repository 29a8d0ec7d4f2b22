"""Identifying text in the cells an importer keeps: the file is refused, the value never shown.

A name, a birth date or the hospital id typed into a free-text cell (sub-site, genotype as
reported, a treatment line's stop reason) would travel into the store past the dropped name
and birth-date columns; the importers look for that row's own values in every cell they keep.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from gistcad.cli import main
from gistcad.ingest.clinical import import_clinical
from gistcad.ingest.pseudonym import Pseudonymizer
from gistcad.ingest.transaction import run_import
from gistcad.ingest.treatment_lines import import_treatment_lines
from gistcad.store import AccessScope, session_scope
from gistcad.store.models import Patient, TreatmentLine, Tumour

KEY = Pseudonymizer(b"0123456789abcdef0123456789abcdef")
SECRETS = ("Müller", "Muller", "Hans", "1961", "MRN0044")

#: the review's file: cp1252, ";"-separated; row 4 has the name and birth date in free text
REVIEWED = (
    "patient_id;patient_name;date_of_birth;site;sub_site;genotype\n"
    "MRN004401;Jansen, Anna;01.02.1950;stomach;body;KIT exon 9\n"
    "MRN004402;Rossi, Marco;1955-07-30;stomach;fundus;PDGFRA D842V\n"
    'MRN004403;Müller, Hans;12.03.1961;stomach;"antrum, pt Müller";'
    '"KIT exon 11 del 557-558 (Müller H, geb. 12.03.1961)"\n'
)


def _write(tmp_path: Path, content: str, encoding: str = "utf-8") -> Path:
    path = tmp_path / "clinical.csv"
    path.write_bytes(content.encode(encoding))
    return path


def _import(engine: Engine, path: Path):
    with session_scope(engine) as session:
        report = import_clinical(session, path, center="T", pseudonymizer=KEY)
        if not report.ok:
            session.rollback()
    return report


def _shown(report) -> str:
    return report.summary() + json.dumps(report.to_dict(), ensure_ascii=False)


def _patients(engine: Engine) -> int:
    with Session(engine) as s:
        return s.scalar(select(func.count(Patient.id))) or 0


def test_name_and_birth_date_in_free_text_refuse_the_file(engine: Engine, tmp_path: Path) -> None:
    report = _import(engine, _write(tmp_path, REVIEWED, "cp1252"))
    assert not report.ok
    found = {(p.row, p.column): p.message for p in report.problems}
    assert set(found) == {(4, "sub_site"), (4, "genotype")}, report.summary()
    assert found[(4, "sub_site")] == (
        "contains the patient's name: remove it from the cell and import again"
    )
    assert found[(4, "genotype")] == (
        "contains the patient's name and birth date: remove them from the cell and import again"
    )
    assert "row 4, column 'sub_site': contains the patient's name" in report.summary()
    shown = _shown(report)
    assert not [s for s in SECRETS if s in shown], shown
    assert _patients(engine) == 0


def test_without_identifying_text_the_same_file_imports_and_drops_the_columns(
    engine: Engine, tmp_path: Path
) -> None:
    clean = REVIEWED.replace('"antrum, pt Müller"', "antrum").replace(
        " (Müller H, geb. 12.03.1961)", ""
    )
    report = _import(engine, _write(tmp_path, clean, "cp1252"))
    assert report.ok and report.created == 3, report.summary()
    with Session(engine) as s:
        stored = " ".join(
            f"{t.sub_site} {t.genotype_text}" for t in s.scalars(select(Tumour)).all()
        )
    assert "antrum" in stored and "KIT exon 11 del 557-558" in stored
    assert not [s for s in SECRETS if s in stored]


@pytest.mark.parametrize(
    ("birth", "text"),
    [
        ("12.03.1961", "antrum 12.03.1961"),
        ("12.03.1961", "antrum, 12/03/1961"),
        ("12.03.1961", "antrum (1961-03-12)"),
        ("1961-03-12", "antrum 12.3.1961"),
        ("1961-03-12", "dob 12.03.61 antrum"),
    ],
)
def test_birth_date_in_its_written_forms(
    engine: Engine, tmp_path: Path, birth: str, text: str
) -> None:
    content = f'patient_id,date_of_birth,site,sub_site\nMRN004403,{birth},stomach,"{text}"\n'
    report = _import(engine, _write(tmp_path, content))
    [problem] = report.problems
    assert (problem.row, problem.column, problem.value) == (2, "sub_site", None)
    assert problem.message.startswith("contains the patient's birth date")
    assert "1961" not in _shown(report) and _patients(engine) == 0


@pytest.mark.parametrize(
    ("name", "text", "refused"),
    [
        ("Müller, Hans", "antrum MULLER", True),  # case and accents
        ("Müller, Hans", "antrum (mueller)", True),  # ü written as ue
        ("Mueller^Hans", "antrum (Müller)", True),
        ("Müller, Hans", "antrum, Hansen's region", False),  # a whole word only
        ("Li, Bo", "antrum li", False),  # parts under 3 letters are not searched
        ("Del Rio, Ana", "KIT exon 11 del 557-558", False),  # a particle is no name
        ("Rio, Ana", "KIT exon 11 del 557-558 Ana", True),
    ],
)
def test_name_parts_are_matched_as_whole_words(
    engine: Engine, tmp_path: Path, name: str, text: str, refused: bool
) -> None:
    column = "genotype" if text.startswith("KIT") else "sub_site"
    content = f'patient_id,patient_name,site,{column}\nMRN004403,"{name}",stomach,"{text}"\n'
    report = _import(engine, _write(tmp_path, content))
    assert report.ok is not refused, report.summary()
    if refused:
        [problem] = report.problems
        assert (problem.column, problem.message[:28]) == (column, "contains the patient's name:")


@pytest.mark.parametrize(
    ("patient_id", "text", "refused"),
    [
        ("MRN004403", "antrum mrn004403", True),
        ("MRN004403", "antrum (MRN0044031)", False),  # another token
        ("557", "KIT exon 11 del 557-558", False),  # a short number: a codon, not an id
    ],
)
def test_hospital_id_as_a_whole_token(
    engine: Engine, tmp_path: Path, patient_id: str, text: str, refused: bool
) -> None:
    column = "genotype" if text.startswith("KIT") else "sub_site"
    content = f'patient_id,site,{column}\n{patient_id},stomach,"{text}"\n'
    report = _import(engine, _write(tmp_path, content))
    assert report.ok is not refused, report.summary()
    if refused:
        assert [p.message for p in report.problems] == [
            "contains the patient's hospital id: remove it from the cell and import again"
        ]
        assert "MRN0044" not in _shown(report)


def test_a_refused_cell_is_not_quoted_by_another_message(engine: Engine, tmp_path: Path) -> None:
    """A cell that would also fail to parse is reported for the identifying text alone."""
    content = "patient_id,patient_name,site,histology\nMRN004403,Hans Müller,stomach,Müller\n"
    report = _import(engine, _write(tmp_path, content))
    [problem] = report.problems
    assert problem.column == "histology" and "Müller" not in _shown(report)


def test_cli_refuses_without_showing_the_name(
    cli_env: dict[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _write(tmp_path, REVIEWED, "cp1252")
    capsys.readouterr()
    assert main(["import", "clinical", str(path), "--center", "T"]) == 3
    out = capsys.readouterr().out
    assert "row 4, column 'sub_site': contains the patient's name: remove it" in out
    assert not [s for s in SECRETS if s in out], out


LINES = (
    "hospital_id,patient_name,date_of_birth,line,drug,start_date,stop_date,stop_reason\n"
    'MRN004403,"Müller, Hans",12.03.1961,1,imatinib,2020-01-10,2020-06-01,{reason}\n'
)


@pytest.mark.parametrize(
    ("reason", "what"),
    [
        ("progression (pt Müller)", "name"),
        ("toxicity; seen 12/03/1961", "birth date"),
        ("see MRN004403 chart", "hospital id"),
        ("progression", None),
    ],
)
def test_treatment_line_stop_reason(
    engine: Engine, tmp_path: Path, reason: str, what: str | None
) -> None:
    data = tmp_path / "data"
    data.mkdir()
    clinical = _write(tmp_path, "patient_id,site\nMRN004403,stomach\n")
    everything = AccessScope.everything()

    def imported(importer) -> object:
        [report] = run_import(engine, data, everything, importer, center="T")
        return report

    first = imported(
        lambda session, ctx: [
            import_clinical(session, clinical, center=ctx.center, pseudonymizer=ctx.pseudonymizer)
        ]
    )
    assert first.ok, first.summary()
    sheet = tmp_path / "lines.csv"
    sheet.write_text(LINES.format(reason=reason), encoding="utf-8")
    report = imported(lambda session, ctx: [import_treatment_lines(session, sheet, ctx)])
    with Session(engine) as s:
        stored = s.scalars(select(TreatmentLine.stop_reason)).all()
    if what is None:
        assert report.ok and stored == ["progression"], report.summary()
        return
    [problem] = report.problems
    assert (problem.row, problem.column, problem.value) == (2, "stop_reason", None)
    assert problem.message == (
        f"contains the patient's {what}: remove it from the cell and import again"
    )
    assert not [s for s in SECRETS if s in _shown(report)]
    assert stored == []

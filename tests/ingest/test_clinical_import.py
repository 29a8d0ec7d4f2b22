"""Clinical spreadsheet import: formats, aliases, privacy, all problems at once, all or nothing."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from openpyxl import Workbook
from sqlalchemy import Engine, func, select, text
from sqlalchemy.orm import Session

from gistcad.cli import main
from gistcad.ingest import clinical as clinical_module
from gistcad.ingest.clinical import import_clinical
from gistcad.ingest.pseudonym import Pseudonymizer
from gistcad.store import AccessScope, session_scope
from gistcad.store.models import Patient, PseudonymLink
from gistcad.store.queries import cohort_table
from tests.conftest import BACKENDS

KEY = Pseudonymizer(b"0123456789abcdef0123456789abcdef")
HEADER = (
    "patient_id,sex,age_at_diagnosis,site,sub_site,size_cm,mitotic_count,mitotic_unit,rupture,"
    "histology,genotype,surgery_date,adjuvant_imatinib,rfs_months,rfs_event,os_months,os_event\n"
)
GOOD = HEADER + (
    "MRN001,female,61.5,stomach,antrum,4.2,3,per_50hpf,0,spindle,KIT exon 11 p.W557_K558del,"
    "2012-03-04,0,80.5,0,80.5,0\n"
    "MRN002,male,70,jejunum,jejunum,9.0,12,per_50hpf,1,mixed,KIT exon 9,2014-05-06,1,"
    "20.0,1,44.0,1\n"
    "MRN003,male,55,stomach,body,6.5,2,per_5mm2,0,epithelioid,PDGFRA D842V,2015-07-08,0,"
    "60.0,0,60.0,0\n"
)


def _write(tmp_path: Path, content: str, name: str = "clinical.csv") -> Path:
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    return path


def _import(engine: Engine, path: Path, **kwargs: object):
    with session_scope(engine) as session:
        report = import_clinical(session, path, center="Alpha", pseudonymizer=KEY, **kwargs)
        if not report.ok or kwargs.get("dry_run"):
            session.rollback()
    return report


def _cohort(engine: Engine) -> pd.DataFrame:
    with Session(engine) as s:
        return cohort_table(s, AccessScope.everything())


@pytest.mark.parametrize("engine", BACKENDS, indirect=True)
def test_import_then_reimport_updates_instead_of_duplicating(
    engine: Engine, tmp_path: Path
) -> None:
    path = _write(tmp_path, GOOD)
    report = _import(engine, path)
    assert report.ok and (report.created, report.updated, report.unchanged) == (3, 0, 0)
    cohort = _cohort(engine)
    assert len(cohort) == 3
    row = cohort.set_index("pseudonym").loc[KEY.pseudonym("Alpha", "MRN002")]
    assert (row["site"], row["size_cm"], row["genotype_detail"]) == ("jejunum_ileum", 9.0, "kit9")
    assert (row["rfs_months"], row["rfs_event"], row["adjuvant_imatinib"]) == (20.0, 1, 1)

    again = _import(engine, path)
    assert (again.created, again.updated, again.unchanged) == (0, 0, 3)
    changed = _write(tmp_path, GOOD.replace("MRN001,female,61.5", "MRN001,female,62.5"))
    third = _import(engine, changed)
    assert (third.created, third.updated, third.unchanged) == (0, 1, 2)
    assert len(_cohort(engine)) == 3


def test_semicolon_decimal_comma_and_dotted_dates(engine: Engine, tmp_path: Path) -> None:
    european = (
        "patient_id;site;size_cm;mitotic_count;mitotic_unit;surgery_date;rfs_months;rfs_event\n"
        "L1;stomach;4,5;3;per_50hpf;04.03.2012;80,25;0\n"
        "L2;rectum;1,2;8;per_50hpf;31.12.2019;12,5;1\n"
    )
    report = _import(engine, _write(tmp_path, european))
    assert report.ok, report.summary()
    assert any("delimiter ';', decimal ','" in n for n in report.notes)
    cohort = _cohort(engine).sort_values("size_cm")
    assert list(cohort["size_cm"]) == [1.2, 4.5]
    assert list(cohort["rfs_months"]) == [12.5, 80.25]


def test_aliases_and_identifying_columns(engine: Engine, tmp_path: Path) -> None:
    content = (
        "MRN,patient_name,date_of_birth,Gender,Primary Site,tumor_size_cm,Mutation,recurrence,"
        "recurrence_free_months\n"
        "S1,Jane Roe,1950-01-02,F,gastric,3.0,c-KIT ex11 dup,0,50\n"
    )
    report = _import(engine, _write(tmp_path, content))
    assert report.ok, report.summary()
    assert any("'patient_name' identifies a person: dropped" in n for n in report.notes)
    row = _cohort(engine).iloc[0]
    assert (row["sex"], row["site"], row["genotype_detail"]) == (
        "female",
        "stomach",
        "kit11_duplication",
    )
    with engine.connect() as conn:
        dump = " ".join(
            str(v)
            for table in ("patients", "tumours", "outcomes", "treatments", "centers")
            for r in conn.execute(text(f"SELECT * FROM {table}"))
            for v in r
        )
    for secret in ("Jane", "Roe", "1950-01-02", "S1"):
        assert secret not in dump


def test_xlsx(engine: Engine, tmp_path: Path) -> None:
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.append(["patient_id", "site", "size_cm", "rfs_months", "rfs_event"])
    sheet.append(["X1", "duodenum", 2.5, 30, 1])
    path = tmp_path / "table.xlsx"
    workbook.save(path)
    report = _import(engine, path)
    assert report.ok, report.summary()
    assert _cohort(engine).iloc[0]["site"] == "duodenum"


BAD = HEADER + (
    "B1,female,61,stomach,,45,3,per_50hpf,0,spindle,KIT11,2012-03-04,0,-1,0,10,0\n"  # mm, -1
    "B2,male,70,liver,,5,3,per_50hpf,0,spindle,BRCA1,2012-13-40,0,10,2,10,0\n"  # site, gt, date
    "B1,male,70,stomach,,5,3,per_50hpf,0,spindle,KIT11,2012-01-01,0,10,0,10,0\n"  # duplicate
    "B4,x,70,stomach,,5,3,,0,spindly,KIT11,2012-01-01,0,20,0,10,0\n"  # sex, unit, hist, rfs>os
)


@pytest.mark.parametrize("engine", BACKENDS, indirect=True)
def test_every_problem_is_listed_and_nothing_is_written(engine: Engine, tmp_path: Path) -> None:
    assert _import(engine, _write(tmp_path, GOOD, "good.csv")).ok
    before = _cohort(engine)
    report = _import(engine, _write(tmp_path, BAD))
    assert not report.ok
    found = {(p.row, p.column) for p in report.problems}
    expected = {
        (2, "size_cm"),
        (2, "rfs_months"),
        (3, "site"),
        (3, "genotype"),
        (3, "surgery_date"),
        (3, "rfs_event"),
        (4, "patient_id"),
        (5, "sex"),
        (5, "mitotic_unit"),
        (5, "histology"),
    }
    assert expected <= found, report.summary()
    text_ = report.summary()
    assert "looks like millimetres" in text_ and "duplicate patient id (first on row 2)" in text_
    duplicate = next(p for p in report.problems if p.message.startswith("duplicate patient"))
    assert duplicate.value is None  # the hospital id is not repeated in the report
    assert "recurrence-free time (20) exceeds overall survival (10)" in text_
    pd.testing.assert_frame_equal(_cohort(engine), before)


def test_missing_required_column(engine: Engine, tmp_path: Path) -> None:
    report = _import(engine, _write(tmp_path, "patient_id,size_cm\nA,3\n"))
    assert [p.column for p in report.problems] == ["site"]
    assert "accepted names: site, primary_site" in report.summary()


def test_failure_mid_import_leaves_the_database_as_it_was(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = clinical_module.upsert_clinical
    calls = {"n": 0}

    def crash_on_third(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 3:
            raise RuntimeError("disk on fire")
        return real(*args, **kwargs)

    monkeypatch.setattr(clinical_module, "upsert_clinical", crash_on_third)
    with pytest.raises(RuntimeError, match="disk on fire"):
        _import(engine, _write(tmp_path, GOOD))
    with Session(engine) as s:
        assert s.scalar(select(func.count(Patient.id))) == 0


def test_dry_run_and_keep_mapping(engine: Engine, tmp_path: Path) -> None:
    path = _write(tmp_path, GOOD)
    dry = _import(engine, path, dry_run=True)
    assert dry.ok and dry.created == 3
    assert _cohort(engine).empty
    _import(engine, path, keep_mapping=True)
    with Session(engine) as s:
        links = s.scalars(select(PseudonymLink.original_id)).all()
    assert sorted(links) == ["MRN001", "MRN002", "MRN003"]


def test_cli(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    monkeypatch.setenv("GISTCAD_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("GISTCAD_DB_URL", raising=False)
    assert main(["db", "upgrade"]) == 0
    capsys.readouterr()
    good, bad = _write(tmp_path, GOOD, "good.csv"), _write(tmp_path, BAD, "bad.csv")
    assert main(["import", "clinical", str(bad), "--center", "Alpha"]) == 3
    assert "refused" in capsys.readouterr().out
    assert main(["import", "clinical", str(good), "--center", "Alpha", "--json"]) == 0
    (out,) = json.loads(capsys.readouterr().out)
    assert out["created"] == 3 and out["ok"]
    assert (tmp_path / "data" / "pseudonym.key").stat().st_mode & 0o777 == 0o600


def _tumour(engine: Engine, patient_id: str) -> dict[str, object]:
    pseudonym = KEY.pseudonym("Alpha", patient_id)
    with Session(engine) as s:
        patient = s.scalars(select(Patient).where(Patient.pseudonym == pseudonym)).one()
        tumour = patient.tumours[0]
        assert patient.outcome is not None
        return {
            "sub_site": tumour.sub_site,
            "size_cm": tumour.size_cm,
            "genotype_detail": tumour.genotype_detail.value,
            "genotype_text": tumour.genotype_text,
            "os_months": patient.outcome.os_months,
            "os_event": patient.outcome.os_event,
        }


def test_a_file_updates_only_the_columns_it_carries(engine: Engine, tmp_path: Path) -> None:
    assert _import(engine, _write(tmp_path, GOOD)).ok
    before = _tumour(engine, "MRN001")
    partial = _write(
        tmp_path, "patient_id,site,os_months,os_event\nMRN001,stomach,90,1\n", "os.csv"
    )
    report = _import(engine, partial)
    assert (report.created, report.updated, report.unchanged) == (0, 1, 0), report.summary()
    assert not any("cleared" in n for n in report.notes), report.notes
    assert _tumour(engine, "MRN001") == before | {"os_months": 90.0, "os_event": 1}
    assert before["genotype_text"] == "KIT exon 11 p.W557_K558del" and before["size_cm"] == 4.2


def test_blank_cells_clear_stored_values_and_the_report_says_so(
    engine: Engine, tmp_path: Path
) -> None:
    assert _import(engine, _write(tmp_path, GOOD)).ok
    blanks = "patient_id,site,Size,genotype\nMRN001,stomach,,\nMRN002,jejunum,,KIT exon 9\n"
    report = _import(engine, _write(tmp_path, blanks, "blanks.csv"))
    assert (report.updated, report.unchanged) == (2, 0), report.summary()
    [note] = [n for n in report.notes if "cleared" in n]
    assert "'Size' of 2 patients" in note and "'genotype' of 1 patient" in note, note
    assert _tumour(engine, "MRN001") == {
        "sub_site": "antrum",
        "size_cm": None,
        "genotype_detail": "unknown",
        "genotype_text": None,
        "os_months": 80.5,
        "os_event": 0,
    }
    assert _tumour(engine, "MRN002")["genotype_detail"] == "kit9"


def test_a_partial_file_is_checked_against_what_is_stored(engine: Engine, tmp_path: Path) -> None:
    assert _import(engine, _write(tmp_path, GOOD)).ok
    rfs = "patient_id,site,rfs_months,rfs_event\nMRN001,stomach,95,1\nNEW1,colon,5,0\n"
    report = _import(engine, _write(tmp_path, rfs, "rfs.csv"))
    found = {(p.row, p.column): p.message for p in report.problems}
    assert set(found) == {(2, "rfs_months")}, report.summary()
    assert "recurrence-free time (95) exceeds overall survival (80.5)" in found[(2, "rfs_months")]
    unit = "patient_id,site,mitotic_unit\nMRN001,stomach,\n"
    report = _import(engine, _write(tmp_path, unit, "unit.csv"))
    [problem] = report.problems
    assert (problem.row, problem.column) == (2, "mitotic_unit")
    assert "needs its unit" in problem.message
    new = "patient_id,site,os_months\nNEW1,colon,5\n"
    [problem] = _import(engine, _write(tmp_path, new, "new.csv")).problems
    assert (problem.row, problem.column) == (2, "os_event") and "OS needs both" in problem.message
    assert _tumour(engine, "MRN001")["os_months"] == 80.5 and len(_cohort(engine)) == 3


def _xlsx(tmp_path: Path, rows: list[list[object]]) -> Path:
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    for row in rows:
        sheet.append(row)
    path = tmp_path / "table.xlsx"
    workbook.save(path)
    return path


@pytest.mark.parametrize("form", ["csv", "xlsx"])
def test_a_header_written_twice_is_refused_with_both_column_letters(
    engine: Engine, tmp_path: Path, form: str
) -> None:
    header = ["patient_id", "site", "size_cm", "os_months", "os_event", "size_cm"]
    row = ["X1", "stomach", "4.5", "10", "0", "45"]
    if form == "csv":
        path = _write(tmp_path, ",".join(header) + "\n" + ",".join(row) + "\n")
    else:
        path = _xlsx(tmp_path, [header, row])
    report = _import(engine, path)
    [problem] = report.problems
    assert "the header 'size_cm' is in 2 columns (C and F)" in problem.message
    assert "Delete or rename the extra column and import again" in problem.message
    assert "size_cm.1" not in report.summary() and _cohort(engine).empty


def test_two_headers_meaning_one_column_name_their_letters(engine: Engine, tmp_path: Path) -> None:
    report = _import(engine, _write(tmp_path, "patient_id,size,site,size_cm\nX1,3,colon,3\n"))
    [problem] = report.problems
    assert problem.column == "size_cm"
    assert "two columns mean 'size_cm': 'size' (column B) and 'size_cm' (column D)" in str(problem)


def test_a_trailing_delimiter_is_no_column(engine: Engine, tmp_path: Path) -> None:
    report = _import(engine, _write(tmp_path, "patient_id,site,,\nX1,colon,,\n"))
    assert report.ok and not any("column" in n for n in report.notes), report.summary()


@pytest.mark.parametrize("name", ["clinical.txt", "clinical.csv"])
def test_excel_unicode_text_utf16_with_bom(engine: Engine, tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    path.write_bytes(GOOD.replace(",", "\t").replace("\n", "\r\n").encode("utf-16"))
    report = _import(engine, path)
    assert report.ok and report.created == 3, report.summary()
    assert any("utf-16 text, delimiter tab" in n for n in report.notes)


def test_utf16_without_bom_says_how_to_save_it(engine: Engine, tmp_path: Path) -> None:
    path = tmp_path / "clinical.txt"
    path.write_bytes(GOOD.replace(",", "\t").encode("utf-16-le"))
    [problem] = _import(engine, path).problems
    assert "the file is UTF-16" in problem.message and "save it as CSV UTF-8" in problem.message

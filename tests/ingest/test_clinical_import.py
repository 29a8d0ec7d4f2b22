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

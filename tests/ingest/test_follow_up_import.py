"""Follow-up import end to end: synthetic follow-up → timepoints, lesions, masks, lines.

The cohort (16 patients, seed 17) has three patients on neoadjuvant imatinib, one in each mask
format (SEG, RTSTRUCT, NIfTI), two of them with a new liver lesion.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from gistcad.demo_cohort import import_demo_cohort
from gistcad.domain import Drug, LesionOrgan, LesionRole
from gistcad.ingest.follow_up import LesionName, parse_lesion_label
from gistcad.ingest.pseudonym import load_or_create_key
from gistcad.ingest.transaction import run_import
from gistcad.ingest.treatment_lines import import_treatment_lines
from gistcad.store import AccessScope
from gistcad.store.follow_up_writes import patient_treatment_lines
from gistcad.store.models import (
    Center,
    Lesion,
    Patient,
    Segmentation,
    Study,
    Timepoint,
    TreatmentLine,
)
from gistcad.synth.follow_up import FOLLOW_UP_MONTHS
from tests.conftest import BACKENDS
from tests.shared_builds import FOLLOW_UP_COHORT, shared_cohort

EVERYTHING = AccessScope.everything()
LINES_HEADER = "hospital_id,line,drug,dose_mg_per_day,start_date,stop_date,stop_reason\n"


@pytest.fixture(scope="module")
def cohort(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The cohort of ``tests/synth/test_follow_up.py``, built once for both files."""
    return shared_cohort(tmp_path_factory, **FOLLOW_UP_COHORT)


@pytest.fixture
def loaded(engine: Engine, tmp_path: Path, cohort: Path) -> tuple[Engine, Path]:
    data = tmp_path / "data"
    data.mkdir()
    reports = import_demo_cohort(engine, data, EVERYTHING, cohort)
    assert all(r.ok for r in reports), [str(p) for r in reports for p in r.problems]
    return engine, data


def _pseudonym(data: Path, center: str, hospital_id: str) -> str:
    return load_or_create_key(data).pseudonym(center, hospital_id)


def _patient(session: Session, data: Path, center: str, hospital_id: str) -> Patient:
    pseudonym = _pseudonym(data, center, hospital_id)
    return session.scalars(
        select(Patient).join(Center).where(Center.name == center, Patient.pseudonym == pseudonym)
    ).one()


def _counts(engine: Engine) -> tuple[int, ...]:
    with Session(engine) as s:
        return tuple(
            s.scalar(select(func.count()).select_from(t)) or 0
            for t in (TreatmentLine, Timepoint, Lesion, Study, Segmentation)
        )


def test_lesion_labels() -> None:
    assert parse_lesion_label("lesion 2 liver") == LesionName(2, LesionOrgan.LIVER)
    assert parse_lesion_label("Lesion_3_lymph_node") == LesionName(3, LesionOrgan.LYMPH_NODE)
    assert parse_lesion_label("lesion 1") == LesionName(1, None)
    assert parse_lesion_label("GIST tumour") is None
    with pytest.raises(ValueError, match="unknown organ 'brain'"):
        parse_lesion_label("lesion 2 brain")


@pytest.mark.parametrize("engine", BACKENDS, indirect=True)
def test_round_trip(loaded: tuple[Engine, Path], cohort: Path) -> None:
    engine, data = loaded
    truth = pd.read_csv(cohort / "follow_up_truth.csv")
    lines = pd.concat(pd.read_csv(p) for p in sorted(cohort.glob("centers/*/treatment_lines.csv")))
    treated = truth[["center", "hospital_id"]].drop_duplicates()
    assert len(treated) == 3 and len(lines) == 3
    with Session(engine) as s:
        assert s.scalar(select(func.count(TreatmentLine.id))) == 3
        for center, hid in treated.itertuples(index=False):
            patient = _patient(s, data, center, hid)
            mine = truth[truth["hospital_id"] == hid]
            tps = s.scalars(
                select(Timepoint)
                .where(Timepoint.patient_id == patient.id)
                .order_by(Timepoint.number)
            ).all()
            assert [t.number for t in tps] == [0, 1, 2, 3]
            dates = [t.study_date for t in tps]
            assert dates == sorted(dates) and len(set(dates)) == 4
            assert [t.study_date.isoformat() for t in tps] == sorted(set(mine["study_date"]))
            expected_days = [-7, *(round(m * 365.25 / 12) for m in FOLLOW_UP_MONTHS)]
            assert [t.days_from_treatment_start for t in tps] == expected_days
            line = s.scalars(
                select(TreatmentLine).where(TreatmentLine.patient_id == patient.id)
            ).one()
            assert line.drug is Drug.IMATINIB and line.dose_mg_per_day == 400.0
            assert line.start_date == tps[0].study_date + dt.timedelta(days=7)
            lesions = {
                lesion.number: lesion
                for lesion in s.scalars(select(Lesion).where(Lesion.patient_id == patient.id))
            }
            expected = mine.drop_duplicates("lesion").set_index("lesion")
            assert set(lesions) == set(expected.index)
            for number, lesion in lesions.items():
                assert lesion.organ.value == expected.loc[number, "organ"]
                # a baseline lesion is stored without a RECIST role: the assessment chooses
                # the targets (the truth's role is the assessment's), a later one is new
                truth_role = expected.loc[number, "role"]
                assert lesion.role.value == ("new" if truth_role == "new" else "non_target")
                first = s.get(Timepoint, lesion.first_timepoint_id)
                assert first is not None and first.number == expected.loc[number, "timepoint"]
            segs = s.scalars(
                select(Segmentation)
                .join(Segmentation.series)
                .join(Study)
                .where(Study.patient_id == patient.id)
            ).all()
            assert len(segs) == len(mine)  # one mask per lesion and timepoint
            assert {seg.lesion_id for seg in segs} == {lesion.id for lesion in lesions.values()}
        assert any(lesion.role is LesionRole.NEW for lesion in s.scalars(select(Lesion)))
        # untreated patients: one timepoint, undated against a treatment
        untreated = s.scalars(
            select(Timepoint).where(Timepoint.days_from_treatment_start.is_(None))
        ).all()
        assert len(untreated) == 16 - 3
        assert all(t.number == 0 for t in untreated)


def _lines(engine: Engine, data: Path, path: Path, center: str):
    return run_import(
        engine,
        data,
        EVERYTHING,
        lambda session, ctx: [import_treatment_lines(session, path, ctx)],
        center=center,
    )[0]


@pytest.mark.parametrize("engine", BACKENDS, indirect=True)
def test_treatment_line_refusals(loaded: tuple[Engine, Path], cohort: Path, tmp_path: Path) -> None:
    engine, data = loaded
    truth = pd.read_csv(cohort / "follow_up_truth.csv")
    center, hid = truth.iloc[0][["center", "hospital_id"]]
    other = pd.read_csv(cohort / "oracle.csv").query("center == @center").iloc[-1]["hospital_id"]
    baseline = dt.date.fromisoformat(truth.iloc[0]["study_date"])
    before = _counts(engine)
    sheet = tmp_path / "lines.csv"
    sheet.write_text(
        LINES_HEADER
        + f"{hid},1,glivec,400,{baseline + dt.timedelta(days=7)},{baseline},surgery\n"
        + f"{hid},2,aspirin,100,{baseline + dt.timedelta(days=400)},,\n"
        + f"{hid},3,sunitinib,50,{baseline + dt.timedelta(days=300)},,\n"
        + f"{other},1,imatinib,400,1990-01-01,,\n"
        + f"NOBODY999,1,imatinib,400,{baseline},,\n"
    )
    report = _lines(engine, data, sheet, center)
    assert not report.ok
    found = {(p.row, p.column): p.message for p in report.problems}
    assert all(p.source == "lines.csv" for p in report.problems)
    assert "before it starts" in found[(2, "stop_date")]
    assert "unknown drug" in found[(3, "drug")]
    assert "must not overlap" in found[(4, "start_date")]
    assert "before the patient's first CT" in found[(5, "start_date")]
    assert "no patient with this id" in found[(6, "hospital_id")]
    assert "NOBODY999" not in report.summary()  # the hospital id is not repeated
    assert _counts(engine) == before

    sheet.write_text(
        LINES_HEADER
        + f"{hid},1,imatinib,400,{baseline + dt.timedelta(days=7)},"
        + f"{baseline + dt.timedelta(days=100)},progression\n"
        + f"{hid},2,sunitinib,37.5,{baseline + dt.timedelta(days=100)},,\n"
    )
    report = _lines(engine, data, sheet, center)
    assert report.ok, [str(p) for p in report.problems]
    assert (report.created, report.updated) == (1, 1)

    before = _counts(engine)
    sheet.write_text(
        LINES_HEADER + f"{hid},3,regorafenib,160,{baseline + dt.timedelta(days=200)},,\n"
    )
    report = _lines(engine, data, sheet, center)
    [problem] = report.problems
    assert (problem.row, problem.column) == (2, "start_date")
    assert "line 2 (already stored) is ongoing" in problem.message
    assert _counts(engine) == before

    # a file without the optional columns keeps what is stored for the lines it names (line
    # 1's stop and reason; line 2's dose), so line 1 still stops before line 2 starts
    sheet.write_text(
        "hospital_id,line,drug,start_date\n"
        + f"{hid},1,imatinib,{baseline + dt.timedelta(days=7)}\n"
        + f"{hid},2,sunitinib,{baseline + dt.timedelta(days=100)}\n"
    )
    report = _lines(engine, data, sheet, center)
    assert report.ok, [str(p) for p in report.problems]
    assert (report.created, report.updated, report.unchanged) == (0, 0, 2)
    with Session(engine) as session:
        line1, line2 = sorted(
            patient_treatment_lines(session, _patient(session, data, center, hid)),
            key=lambda line: line.line,
        )
    assert (line1.stop_date, line1.stop_reason) == (
        baseline + dt.timedelta(days=100),
        "progression",
    )
    assert line2.dose_mg_per_day == 37.5
    # a start moved past the stored stop (which the file does not carry) is refused
    sheet.write_text(
        "hospital_id,line,drug,start_date\n"
        + f"{hid},1,imatinib,{baseline + dt.timedelta(days=150)}\n"
    )
    before = _counts(engine)
    report = _lines(engine, data, sheet, center)
    [problem] = report.problems
    assert (problem.row, problem.column) == (2, "start_date")
    assert "after its stored stop" in problem.message
    assert _counts(engine) == before
    # a blank cell in a column the file has clears the stored value
    sheet.write_text(
        "hospital_id,line,drug,start_date,stop_reason\n"
        + f"{hid},1,imatinib,{baseline + dt.timedelta(days=7)},\n"
    )
    report = _lines(engine, data, sheet, center)
    assert report.ok and report.updated == 1
    with Session(engine) as session:
        patient = _patient(session, data, center, hid)
        line1 = next(x for x in patient_treatment_lines(session, patient) if x.line == 1)
        assert line1.stop_reason is None and line1.stop_date is not None


@pytest.mark.parametrize("engine", BACKENDS, indirect=True)
def test_unmatched_lesion_mask_is_refused(
    loaded: tuple[Engine, Path], cohort: Path, tmp_path: Path
) -> None:
    engine, data = loaded
    truth = pd.read_csv(cohort / "follow_up_truth.csv")
    nifti = truth[truth["center"].isin(["Lyon", "Boston", "Milan"])].iloc[-1]
    center, hid = nifti["center"], nifti["hospital_id"]
    day = nifti["study_date"].replace("-", "")
    source = next((cohort / "centers" / center / "masks").glob(f"{hid}_{day}_lesion1_*.nii.gz"))
    folder = tmp_path / "masks"
    folder.mkdir()
    unmatched = folder / f"{hid}_{day}_lesion3.nii.gz"
    shutil.copy(source, unmatched)
    before = _counts(engine)
    from gistcad.ingest.nifti import import_mask_folder

    reports = run_import(
        engine,
        data,
        EVERYTHING,
        lambda session, ctx: [import_mask_folder(session, folder, ctx)],
        center=center,
    )
    problems = reports[0].problems
    assert len(problems) == 1 and problems[0].source == str(unmatched)
    assert "lesion 3" in problems[0].message and "matches no known lesion" in problems[0].message
    assert _counts(engine) == before


def test_liver_lesions_are_drawn_in_the_follow_up_ct(cohort: Path) -> None:
    truth = pd.read_csv(cohort / "follow_up_truth.csv")
    new = truth[truth["new_lesion"] == 1]
    assert len(new) >= 2 and (new["organ"] == "liver").all() and (new["timepoint"] >= 2).all()
    assert (new["longest_diameter_mm"] > 5).all() and np.isfinite(new["mean_hu"]).all()


def test_cli_imports_treatment_lines(
    cli_env: dict[str, str], cohort: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from gistcad.cli import main

    assert main(["import", "demo", str(cohort), "--json"]) == 0
    sheet = next(cohort.glob("centers/*/treatment_lines.csv"))
    capsys.readouterr()
    args = ["import", "treatment-lines", str(sheet), "--center", sheet.parent.name, "--json"]
    assert main(args) == 0
    report = json.loads(capsys.readouterr().out)[0]
    assert report["ok"] and report["unchanged"] == len(pd.read_csv(sheet))
    bad = tmp_path / "bad.csv"
    bad.write_text(sheet.read_text().replace("imatinib", "aspirin"))
    assert main([*args[:2], str(bad), *args[3:]]) == 3
    problems = json.loads(capsys.readouterr().out)[0]["problems"]
    assert problems and all("unknown drug" in p["message"] for p in problems)


@pytest.mark.parametrize(
    ("second", "expected"),
    [
        ("stop_date", "the header 'stop_date' is in 2 columns (E and F)"),
        (
            "end_date",
            "two columns mean 'stop_date': 'stop_date' (column E) and 'end_date' (column F)",
        ),
    ],
)
def test_a_stop_date_given_twice_is_refused(
    engine: Engine, tmp_path: Path, second: str, expected: str
) -> None:
    data = tmp_path / "data"
    data.mkdir()
    sheet = tmp_path / "lines.csv"
    sheet.write_text(
        f"hospital_id,line,drug,start_date,stop_date,{second}\n"
        "H1,1,imatinib,2020-01-10,2020-02-01,2020-06-01\n"
    )
    report = _lines(engine, data, sheet, "T")
    [problem] = report.problems
    assert expected in str(problem)
    assert _counts(engine) == (0, 0, 0, 0, 0)

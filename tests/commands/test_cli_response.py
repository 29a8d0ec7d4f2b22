"""``gistcad response`` on SQLite and PostgreSQL: assess, one patient, the cohort, overrides.

The patients are those of tests/followup/test_assessment.py (sizes and HU worked out there):
A-001 (Alpha) is RECIST SD and Choi PR at timepoint 1 (size −3 %, density −27 %), PD by both at
timepoint 2 (a new liver lesion); B-001 (Beta) is PR by both at timepoint 1 (−35 %).
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from gistcad.auth.manage import add_account
from gistcad.cli import main
from gistcad.domain import LesionOrgan, Role
from gistcad.store import AccessScope, make_engine
from tests.factories import add_center
from tests.followup.builders import Seen, Spec, add_followup_patient


@pytest.fixture
def data(cli_env: dict[str, str]) -> Path:
    data_dir = Path(cli_env["GISTCAD_DATA_DIR"])
    engine = make_engine(cli_env["GISTCAD_DB_URL"])
    with Session(engine) as s:
        alpha, beta = add_center(s, "Alpha"), add_center(s, "Beta")
        add_followup_patient(
            s,
            data_dir,
            alpha,
            "A-001",
            {1: Spec(LesionOrgan.LIVER), 2: Spec(LesionOrgan.STOMACH), 3: Spec(LesionOrgan.LIVER)},
            [
                {1: Seen(21, 80), 2: Seen(11, 70)},
                {1: Seen(20, 60), 2: Seen(11, 50)},
                {1: Seen(21, 80), 2: Seen(11, 70), 3: Seen(6, 60)},
            ],
        )
        add_followup_patient(
            s,
            data_dir,
            beta,
            "B-001",
            {1: Spec(LesionOrgan.PERITONEUM)},
            [{1: Seen(21)}, {1: Seen(14)}],
        )
        operator = AccessScope.everything(user="cli:test")
        add_account(s, operator, "alice", Role.PI, ["Alpha"], "alpha-pi-password")
        s.commit()
    engine.dispose()
    return data_dir


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    code = main(["response", *args])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    return captured.out


def test_assess_then_show_one_patient(data: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = _run(capsys, "assess", "--all")
    assert out.splitlines() == [
        "A-001: 3 timepoints, 7 masks measured; timepoint 1: RECIST 1.1 SD, Choi PR; "
        "timepoint 2: RECIST 1.1 PD, Choi PD",
        "B-001: 2 timepoints, 2 masks measured; timepoint 1: RECIST 1.1 PR, Choi PR",
        "2 patients assessed, 0 not assessed",
    ]
    text = _run(capsys, "A-001")
    assert "A-001 (Alpha)" in text
    assert "  0: 2024-01-10, day 0 (baseline)" in text
    assert "  timepoint 1, Choi: PR (size −3 %, density −27 %)" in text
    assert "  timepoint 2, RECIST 1.1: PD (new lesion (liver))" in text
    assert "  timepoint 1, RECIST 1.1: SD (sum of diameters −3 % from baseline" in text
    report = json.loads(_run(capsys, "A-001", "--json"))
    assert [t["timepoint"] for t in report["timepoints"]] == [0, 1, 2]
    assert len(report["lesions"]) == 7
    choi1 = next(
        a for a in report["assessments"] if a["timepoint"] == 1 and a["criteria"] == "choi"
    )
    assert (choi1["category"], choi1["source"]) == ("pr", "automatic")
    assert choi1["density_change"] == pytest.approx(-20 / 75)


def test_the_cohort_as_text_csv_and_json(data: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _run(capsys, "assess", "--all")
    rows = list(csv.DictReader(io.StringIO(_run(capsys, "cohort", "--csv"))))
    assert [r["pseudonym"] for r in rows] == ["A-001", "B-001"]
    assert (rows[0]["best_recist"], rows[0]["best_choi"]) == ("sd", "pr")
    assert (rows[0]["first_pd_recist_timepoint"], rows[0]["first_pd_recist_days"]) == ("2", "120")
    assert rows[1]["first_pd_recist_timepoint"] == ""
    assert float(rows[1]["best_size_change"]) == pytest.approx(-0.35)
    records = json.loads(_run(capsys, "cohort", "--json"))
    assert records[1]["best_recist"] == "pr"
    assert (records[0]["first_pd_choi_days"], records[1]["first_pd_choi_days"]) == (120, None)
    text = _run(capsys, "cohort")
    assert "−35 %" in text and "PR" in text


def test_a_reader_overrides_a_measurement_and_a_category(
    data: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _run(capsys, "assess", "--patient", "A-001")
    assert main(["response", "override", "A-001", "--lesion", "1", "--timepoint", "1",
                 "--diameter", "12"]) == 2  # fmt: skip
    assert "override needs --reason" in capsys.readouterr().err
    out = _run(
        capsys, "override", "A-001", "--lesion", "1", "--timepoint", "1", "--diameter", "12",
        "--reason", "caliper on the axial slice",
    )  # fmt: skip
    assert "recorded beside the automatic one" in out
    # 12 + 10√2 mm against 30√2 mm: −38 %, the automatic RECIST category is now PR
    text = _run(capsys, "A-001")
    assert "timepoint 1, RECIST 1.1: PR (sum of diameters −38 % from baseline" in text
    assert "12.0*" in text
    _run(
        capsys, "override", "A-001", "--timepoint", "1", "--criteria", "choi", "--category",
        "sd", "--reason", "enhancing nodule",
    )  # fmt: skip
    report = json.loads(_run(capsys, "A-001", "--json"))
    choi1 = next(
        a for a in report["assessments"] if a["timepoint"] == 1 and a["criteria"] == "choi"
    )
    assert (choi1["category"], choi1["automatic_category"]) == ("sd", "pr")
    assert choi1["reader_reason"] == "enhancing nodule"
    assert choi1["reader"].startswith("cli:")
    assert "timepoint 1, Choi: SD (reader: enhancing nodule); set by cli:" in _run(capsys, "A-001")


def test_a_pi_sees_only_their_centers(
    data: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GISTCAD_PASSWORD", "alpha-pi-password")
    assert main(["--user", "alice", "response", "assess", "--all"]) == 0
    assert "1 patients assessed" in capsys.readouterr().out
    assert main(["--user", "alice", "response", "B-001"]) == 2
    assert "no patient with pseudonym 'B-001' in your scope" in capsys.readouterr().err
    assert main(["--user", "alice", "response", "cohort", "--json"]) == 0
    assert [r["pseudonym"] for r in json.loads(capsys.readouterr().out)] == ["A-001"]


def test_bad_requests_say_what_to_do(data: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["response", "assess"]) == 2
    assert "assess needs --patient PSEUDONYM (repeatable) or --all" in capsys.readouterr().err
    assert main(["response", "A-001", "B-001"]) == 2
    assert "is not understood" in capsys.readouterr().err
    assert main(["response", "override", "A-001", "--timepoint", "1", "--reason", "x"]) == 2
    assert "override either a measurement" in capsys.readouterr().err
    (data / "volumes" / "B-001" / "t1_lesion1.nii").unlink()
    assert main(["response", "assess", "--all"]) == 1
    captured = capsys.readouterr()
    assert "1 patients assessed, 1 not assessed" in captured.out
    assert "not assessed: B-001, lesion 1 at timepoint 1: " in captured.err

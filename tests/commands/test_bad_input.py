"""Every implausible input gets one clear line and changes nothing, on SQLite and PostgreSQL.

Each case is what a hostile (or tired) data manager typed. The table gives the command, the
exit status the README documents (2: a usage or setting error, one line on stderr; 3: an
import refused, with its report), and a pattern the message must contain, naming where the
problem is. Before and after each case the test counts the rows of every table and lists the
data folder: nothing may change.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from sqlalchemy import func, select

from gistcad.cli import main
from gistcad.store import make_engine
from gistcad.store.models import Base, Center, Patient

GOOD = "patient_id,site,size_cm\nP1,stomach,5\n"
HEADER = (
    "patient_id,site,sub_site,size_cm,mitotic_count,mitotic_unit,surgery_date,"
    "imatinib_dose_mg_per_day,rfs_months,rfs_event,os_months,os_event,last_follow_up\n"
)
ROW = "P9,stomach,antrum,5,3,per_50hpf,2015-03-04,400,24,0,24,0,2017-03-04\n"


def _row(**changes: str) -> str:
    """The good row with some cells changed (by column name)."""
    names = HEADER.strip().split(",")
    values = dict(zip(names, ROW.strip().split(","), strict=True))
    values.update(changes)
    return HEADER + ",".join(values[n] for n in names) + "\n"


@dataclass(frozen=True)
class Case:
    """One bad input: the files it needs, the command, the exit status and the message."""

    argv: tuple[str, ...]
    status: int
    message: str
    files: dict[str, bytes | str] = field(default_factory=dict)


def _zip_escape(folder: Path) -> None:
    with zipfile.ZipFile(folder / "escape.zip", "w") as zf:
        zf.writestr("../evil.dcm", b"x")


CASES: dict[str, Case] = {
    "empty file": Case(
        ("import", "clinical", "{d}/e.csv", "--center", "X"), 3, "empty", {"e.csv": ""}
    ),
    "binary file": Case(
        ("import", "clinical", "{d}/b.csv", "--center", "X"),
        3,
        r"b\.csv",
        {"b.csv": bytes(range(256)) * 4},
    ),
    "zip escaping its folder": Case(
        ("import", "dicom", "{d}/escape.zip", "--center", "X"), 3, r"evil\.dcm.*outside"
    ),
    "empty center name": Case(
        ("import", "clinical", "{d}/g.csv", "--center", "  "),
        2,
        "center name is empty",
        {"g.csv": GOOD},
    ),
    "control characters in a center name": Case(
        ("import", "clinical", "{d}/g.csv", "--center", "A\tB"),
        2,
        "control characters",
        {"g.csv": GOOD},
    ),
    "300-character center name": Case(
        ("import", "clinical", "{d}/g.csv", "--center", "C" * 300),
        2,
        "300 characters",
        {"g.csv": GOOD},
    ),
    "300-character sub-site": Case(
        ("import", "clinical", "{d}/s.csv", "--center", "X"),
        3,
        r"row 2, column 'sub_site': 300 characters",
        {"s.csv": _row(sub_site="a" * 300)},
    ),
    "os_months 1e308": Case(
        ("import", "clinical", "{d}/o.csv", "--center", "X"),
        3,
        r"row 2, column 'os_months': .*over 600",
        {"o.csv": _row(os_months="1e308")},
    ),
    "99,999,999 mitoses": Case(
        ("import", "clinical", "{d}/m.csv", "--center", "X"),
        3,
        r"row 2, column 'mitotic_count': .*plausible range",
        {"m.csv": _row(mitotic_count="99999999")},
    ),
    "a dose of 1e12 mg/day": Case(
        ("import", "clinical", "{d}/dose.csv", "--center", "X"),
        3,
        r"row 2, column 'imatinib_dose_mg_per_day': .*mg/day",
        {"dose.csv": _row(imatinib_dose_mg_per_day="1e12")},
    ),
    "surgery in 2099": Case(
        ("import", "clinical", "{d}/f.csv", "--center", "X"),
        3,
        r"row 2, column 'surgery_date': a date in the future",
        {"f.csv": _row(surgery_date="2099-01-01", last_follow_up="")},
    ),
    "last follow-up before surgery": Case(
        ("import", "clinical", "{d}/l.csv", "--center", "X"),
        3,
        r"row 2, column 'last_follow_up': last follow-up \(2014-01-01\) is before surgery",
        {"l.csv": _row(last_follow_up="2014-01-01")},
    ),
    "a date with trailing garbage": Case(
        ("import", "clinical", "{d}/g2.csv", "--center", "X"),
        3,
        r"row 2, column 'surgery_date': expected a date",
        {"g2.csv": _row(surgery_date="2019-03-04garbage")},
    ),
    "row numbers count blank lines": Case(
        ("import", "clinical", "{d}/bl.csv", "--center", "X"),
        3,
        r"row 4, column 'size_cm'",
        {"bl.csv": "patient_id,site,size_cm\nP1,stomach,5\n\nP2,stomach,abc\n"},
    ),
    "audit --limit -1": Case(("audit", "--limit", "-1"), 2, r"--limit: -1 is outside"),
    "an id beyond int4": Case(
        ("evaluate", "--model", "2147483648"), 2, "no model version '2147483648'"
    ),
    "an id beyond 64 bits": Case(
        ("evaluate", "--model", "99999999999999999999999"), 2, "no model version"
    ),
    "jobs run with a 64-bit id": Case(("jobs", "run", "99999999999999999999999"), 2, "not an id"),
    "threshold nan": Case(("evaluate", "--model", "x", "--threshold", "nan"), 2, "between 0 and 1"),
    "threshold 5": Case(("evaluate", "--model", "x", "--threshold", "5"), 2, "between 0 and 1"),
    "survival threshold nan": Case(
        ("survival", "--by", "predicted", "--threshold", "nan"), 2, "between 0 and 1"
    ),
    "a tumour of 1e308 cm": Case(
        ("risk", "--site", "stomach", "--size-cm", "1e308", "--mitoses", "3"),
        2,
        "looks like millimetres",
    ),
    "an empty user name": Case(
        ("users", "add", "", "--role", "admin"), 2, "user name '' is not allowed"
    ),
}


def _snapshot(env: dict[str, str]) -> tuple[dict[str, int], list[str]]:
    engine = make_engine(env["GISTCAD_DB_URL"])
    with engine.connect() as conn:
        rows = {
            t.name: conn.scalar(select(func.count()).select_from(t)) or 0
            for t in Base.metadata.sorted_tables
        }
    engine.dispose()
    data = Path(env["GISTCAD_DATA_DIR"])
    files = sorted(
        str(p.relative_to(data)) for p in data.rglob("*") if "gistcad.sqlite" not in p.name
    )
    return rows, files


def _run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    try:
        status = main(argv)
    except SystemExit as exc:  # argparse refuses an argument before any handler runs
        status = int(exc.code or 0)
    captured = capsys.readouterr()
    return status, captured.out, captured.err


@pytest.mark.parametrize("name", list(CASES))
def test_bad_input_gets_one_clear_message_and_changes_nothing(
    name: str, cli_env: dict[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    case = CASES[name]
    inputs = tmp_path / "inputs"
    inputs.mkdir()
    (inputs / "good.csv").write_text(GOOD)
    assert main(["import", "clinical", str(inputs / "good.csv"), "--center", "X"]) == 0
    for file_name, content in case.files.items():
        target = inputs / file_name
        target.write_bytes(content) if isinstance(content, bytes) else target.write_text(content)
    if name == "zip escaping its folder":
        _zip_escape(inputs)
    capsys.readouterr()
    before = _snapshot(cli_env)
    argv = [a.replace("{d}", str(inputs)) for a in case.argv]
    status, out, err = _run(argv, capsys)
    assert status == case.status, out + err
    if case.status == 2:
        assert len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
        assert re.search(case.message, err), err
    else:  # a refusal: the report, and with --json the same report for scripts
        assert "refused" in out and "nothing was written" in out, out
        assert re.search(case.message, out), out
        status, out, _ = _run([*argv, "--json"], capsys)
        (report,) = json.loads(out)
        assert status == 3 and not report["ok"] and report["problems"]
    assert _snapshot(cli_env) == before


def test_a_center_typed_with_other_case_or_spaces_is_the_same_center(
    cli_env: dict[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sheet = tmp_path / "good.csv"
    sheet.write_text(GOOD)
    assert main(["import", "clinical", str(sheet), "--center", "Rotterdam"]) == 0
    assert main(["import", "clinical", str(sheet), "--center", " rotterdam  "]) == 0
    assert "the stored center 'Rotterdam'" in capsys.readouterr().out
    engine = make_engine(cli_env["GISTCAD_DB_URL"])
    with engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(Center)) == 1
        assert conn.scalar(select(func.count()).select_from(Patient)) == 1
    engine.dispose()


def test_a_bad_time_cell_is_reported_once(
    cli_env: dict[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sheet = tmp_path / "t.csv"
    sheet.write_text(_row(rfs_months="abc"))
    assert main(["import", "clinical", str(sheet), "--center", "X", "--json"]) == 3
    (report,) = json.loads(capsys.readouterr().out)
    assert [p["column"] for p in report["problems"]] == ["rfs_months"]
    assert "not a number" in report["problems"][0]["message"]


def test_follow_up_dates_that_disagree_with_the_times_are_reported(
    cli_env: dict[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sheet = tmp_path / "t.csv"
    sheet.write_text(_row(os_months="48", rfs_months="48"))  # the dates span 24 months
    assert main(["import", "clinical", str(sheet), "--center", "X"]) == 0
    out = capsys.readouterr().out
    assert "row 2: os_months is 48 but surgery to last follow-up spans 24.0 months" in out
    assert "row 2: rfs_months is 48" in out
    sheet.write_text(_row())  # consistent: no such note
    assert main(["import", "clinical", str(sheet), "--center", "X"]) == 0
    assert "spans" not in capsys.readouterr().out


def test_a_refused_dicom_folder_says_why_each_file_was_skipped(
    cli_env: dict[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "export"
    folder.mkdir()
    (folder / "notes.txt").write_text("not an image")
    assert main(["import", "dicom", str(folder), "--center", "X"]) == 3
    out = capsys.readouterr().out
    assert "no CT image series found" in out
    assert "skipped: " in out and "notes.txt: not a DICOM file" in out


def test_user_without_password_or_terminal_gets_one_line(cli_env: dict[str, str]) -> None:
    completed = subprocess.run(
        [sys.executable, "-m", "gistcad.cli", "--user", "nobody", "survival", "--by", "genotype"],
        env={k: v for k, v in {**os.environ, **cli_env}.items() if k != "GISTCAD_PASSWORD"},
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        start_new_session=True,  # no controlling terminal to ask on
        timeout=120,
        check=False,
    )
    assert completed.returncode == 2
    assert completed.stderr.strip().splitlines() == [
        "gistcad: error: --user nobody needs a password and none could be read (no "
        "terminal); set GISTCAD_PASSWORD"
    ]


def test_an_oracle_that_is_not_one_is_refused_in_words(tmp_path: Path) -> None:
    from gistcad.errors import ValidationError
    from gistcad.ingest.pseudonym import Pseudonymizer
    from gistcad.modelling.oracle_link import load_oracle

    key = Pseudonymizer(b"0123456789abcdef0123456789abcdef")
    binary = tmp_path / "oracle.csv"
    binary.write_bytes(bytes(range(256)) * 8)
    with pytest.raises(ValidationError, match="not an oracle file"):
        load_oracle(binary, key)
    other = tmp_path / "other.csv"
    other.write_text("a,b\n1,2\n")
    with pytest.raises(ValidationError, match="not an oracle file"):
        load_oracle(other, key)

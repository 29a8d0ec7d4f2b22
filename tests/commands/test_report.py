"""``gistcad report`` writes the case page's printable report, audited like its download."""

from __future__ import annotations

import html
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from gistcad.auth.manage import add_account
from gistcad.cli import main
from gistcad.config import load_settings
from gistcad.domain import Role
from gistcad.store import AccessScope, make_engine, migrations
from gistcad.store.models import AuditEvent, Patient
from gistcad.viewer.report import export_case_report
from tests.app.conftest import app_db, open_page  # noqa: F401 (a fixture)
from tests.factories import seed_cohort
from tests.shared_builds import shared_cohort


@pytest.fixture(scope="module")
def cohort(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return shared_cohort(
        tmp_path_factory, patients=3, centers=2, seed=2, matrix=64, scan_length_mm=40.0
    )


@pytest.fixture
def pseudonym(app_db: Engine, cohort: Path) -> str:  # noqa: F811
    """A patient of the imported synthetic cohort, with a CT and its tumour mask."""
    assert main(["import", "demo", str(cohort)]) == 0
    with Session(app_db) as s:
        return str(s.scalars(select(Patient.pseudonym).order_by(Patient.pseudonym)).first())


def _exports(engine: Engine, target: str) -> int:
    with Session(engine) as s:
        query = select(func.count()).where(
            AuditEvent.action == "export", AuditEvent.target == target
        )
        return s.scalar(query) or 0


def test_the_file_is_the_pages_report_and_is_audited(
    app_db: Engine,  # noqa: F811
    pseudonym: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    out = tmp_path / "case.html"
    assert main(["report", pseudonym, "--out", str(out)]) == 0
    assert f"wrote the case report of {pseudonym} to {out}" in capsys.readouterr().out
    assert _exports(app_db, pseudonym) == 1
    written = out.read_text(encoding="utf-8")
    with Session(app_db) as s:  # what the page's download makes (not committed: no audit row)
        page = export_case_report(s, AccessScope.everything(), load_settings().layout, pseudonym)
    assert written == page
    assert "data:image/png;base64," in written and "Longest axial diameter" in written


def test_page_and_report_print_the_same_card(
    app_db: Engine,  # noqa: F811
    pseudonym: str,
    tmp_path: Path,
) -> None:
    out = tmp_path / "case.html"
    assert main(["report", pseudonym, "--out", str(out)]) == 0
    report = out.read_text(encoding="utf-8")
    at = open_page("views/case.py", {"patient": pseudonym})
    risk = at.dataframe[0].value
    assert list(risk["Scheme"]) == ["NIH 2002", "AFIP 2006", "Modified NIH 2008"]
    for row in risk.itertuples(index=False):
        assert f"<td>{html.escape(row.Scheme)}</td><td>{html.escape(row.Risk)}</td>" in report
    metrics = {m.label: m.value for m in at.metric}
    for name in ("Site", "Size", "Mitoses"):
        assert f"<th>{name}</th><td>{html.escape(metrics[name])}</td>" in report
    assert metrics["Site"][0].isupper()  # the label, not the stored code


@pytest.fixture
def seeded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Engine:
    """60 patients without CT files (P-000 in Alpha, P-001 in Beta), a PI of Alpha."""
    monkeypatch.setenv("GISTCAD_DATA_DIR", str(tmp_path))
    for var in ("GISTCAD_DB_URL", "GISTCAD_USER", "GISTCAD_PASSWORD"):
        monkeypatch.delenv(var, raising=False)
    engine = make_engine(f"sqlite:///{tmp_path / 'gistcad.sqlite'}")
    migrations.upgrade(engine)
    with Session(engine) as s:
        seed_cohort(s)
        operator = AccessScope.everything(user="cli:test")
        add_account(s, operator, "alice", Role.PI, ["Alpha"], "alpha-pi-password")
        s.commit()
    return engine


def test_an_account_reports_only_its_centers_patients(
    seeded: Engine,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("GISTCAD_PASSWORD", "alpha-pi-password")
    out = tmp_path / "case.html"
    assert main(["--user", "alice", "report", "P-001", "--out", str(out)]) == 2
    assert "no patient with pseudonym 'P-001' in your scope" in capsys.readouterr().err
    assert not out.exists() and _exports(seeded, "P-001") == 0
    assert main(["--user", "alice", "report", "P-000", "--out", str(out)]) == 0
    report = out.read_text(encoding="utf-8")
    assert "GIST case P-000 — Alpha" in report and "No CT imported." in report
    with Session(seeded) as s:
        actors = s.scalars(
            select(AuditEvent.actor).where(
                AuditEvent.action == "export", AuditEvent.target == "P-000"
            )
        ).all()
    assert actors == ["alice"]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["nobody", "--out", "{tmp}/x.html"], "no patient with pseudonym 'nobody'"),
        (["P-000", "--out", "{tmp}/missing/x.html"], "does not exist; create it"),
        (["P-000", "--out", "{tmp}"], "is a folder; give a file name"),
    ],
)
def test_refusals_are_one_line(
    seeded: Engine,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    argv: list[str],
    message: str,
) -> None:
    assert main(["report", *(a.format(tmp=tmp_path) for a in argv)]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1
    assert _exports(seeded, "P-000") == 0

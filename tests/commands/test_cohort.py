"""``gistcad cohort`` prints the Cohort explorer's tables: the same rows, columns and CSV."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from gistcad.analysis.cohort_explorer import explorer_table, explorer_table_one
from gistcad.analysis.cohort_survival import build_request
from gistcad.auth.manage import add_account
from gistcad.cli import main
from gistcad.domain import GenotypeDetail, RiskClass, RiskScheme, Role, Site
from gistcad.store import AccessScope, make_engine, migrations
from gistcad.store.exports import csv_text
from gistcad.store.models import AuditEvent, Center
from gistcad.store.queries import CohortFilter, cohort_table
from gistcad.survival import survival_for
from tests.factories import add_patient, seed_cohort


@pytest.fixture
def engine(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Engine:
    """60 seeded patients in Alpha and Beta, two duodenal 7 cm GISTs (AFIP: insufficient
    data), a PI of Alpha and a clinician of Alpha."""
    monkeypatch.setenv("GISTCAD_DATA_DIR", str(tmp_path))
    for var in ("GISTCAD_DB_URL", "GISTCAD_USER", "GISTCAD_PASSWORD"):
        monkeypatch.delenv(var, raising=False)
    engine = make_engine(f"sqlite:///{tmp_path / 'gistcad.sqlite'}")
    migrations.upgrade(engine)
    with Session(engine) as s:
        seed_cohort(s)
        alpha, beta = (
            s.scalars(select(Center).where(Center.name == n)).one() for n in ("Alpha", "Beta")
        )
        add_patient(s, alpha, "D-001", site=Site.DUODENUM, size_cm=7.0)
        add_patient(s, beta, "D-002", site=Site.DUODENUM, size_cm=7.0)
        operator = AccessScope.everything(user="cli:test")
        add_account(s, operator, "alice", Role.PI, ["Alpha"], "alpha-pi-password")
        add_account(s, operator, "carol", Role.CLINICIAN, ["Alpha"], "clinic-pass-33")
        s.commit()
    return engine


def _page_table(engine: Engine, flt: CohortFilter) -> pd.DataFrame:
    """What the Cohort explorer lists (and downloads) for ``flt``."""
    with Session(engine) as s:
        return explorer_table(cohort_table(s, AccessScope.everything(), flt), flt.risk_scheme)


def _exports(engine: Engine) -> int:
    with Session(engine) as s:
        return s.scalar(select(func.count()).where(AuditEvent.action == "export")) or 0


def test_csv_is_the_pages_download(engine: Engine, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["cohort", "--centers", "Beta", "--sites", "jejunum", "--csv"]) == 0
    out = capsys.readouterr().out
    flt = CohortFilter(centers=frozenset({"Beta"}), sites=frozenset({Site.JEJUNUM_ILEUM}))
    expected = _page_table(engine, flt)
    assert len(expected) == 10
    assert out == csv_text(expected)
    assert _exports(engine) == 1  # audited as the page's download


def test_insufficient_data_selects_the_afip_cells_without_figures(
    engine: Engine, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["cohort", "--risk-scheme", "afip2006", "--risk", "insufficient_data", "--json"]
    assert main(argv) == 0
    rows = json.loads(capsys.readouterr().out)
    assert sorted(r["pseudonym"] for r in rows) == ["D-001", "D-002"]
    assert {r["risk_class"] for r in rows} == {"Insufficient data"}
    flt = CohortFilter(
        risk_scheme=RiskScheme.AFIP_2006, risk_classes=frozenset({RiskClass.INSUFFICIENT_DATA})
    )
    assert rows == json.loads(_page_table(engine, flt).to_json(orient="records"))


def test_text_and_table_one_match_the_page(
    engine: Engine, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["cohort", "--risk", "high,low", "--genotype-groups", "kit11"]) == 0
    text = capsys.readouterr().out
    flt = CohortFilter(
        genotype_groups=frozenset({GenotypeDetail.KIT11_DEL_557_558.group}),
        risk_classes=frozenset({RiskClass.HIGH, RiskClass.LOW}),
    )
    patients = _page_table(engine, flt)
    assert not patients.empty and set(patients["risk_class"]) <= {"High", "Low"}
    assert text.strip() == patients.to_string(index=False).strip()
    assert main(["cohort", "--table-one", "genotype", "--csv"]) == 0
    everyone = _page_table(engine, CohortFilter())
    expected = explorer_table_one(everyone, "genotype", RiskScheme.MODIFIED_NIH_2008)
    assert capsys.readouterr().out == csv_text(expected)
    assert "Risk (Modified NIH 2008)" in set(expected["variable"])


def test_an_account_sees_its_centers_and_its_role_limits_exports(
    engine: Engine, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("GISTCAD_PASSWORD", "alpha-pi-password")
    assert main(["--user", "alice", "cohort", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert len(rows) == 31 and {r["center"] for r in rows} == {"Alpha"}
    monkeypatch.setenv("GISTCAD_PASSWORD", "clinic-pass-33")
    before = _exports(engine)
    assert main(["--user", "carol", "cohort", "--csv"]) == 2
    assert "carol (clinician) may not bulk export" in capsys.readouterr().err
    assert _exports(engine) == before  # nothing left the store, nothing recorded
    assert main(["--user", "carol", "cohort", "--table-one", "center", "--csv"]) == 0  # aggregate
    assert main(["--user", "carol", "cohort", "--centers", "Beta"]) == 0  # not her center
    assert "No patient matches these filters." in capsys.readouterr().out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--risk", "grave"], "holds an unknown risk class"),
        (["--sites", "liver"], "holds an unknown site"),
        (["--age", "70-30"], "the lowest value comes first"),
        (["--csv", "--json"], "not allowed with argument"),
    ],
)
def test_bad_filters_are_one_line(
    engine: Engine, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["cohort", *argv])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


def test_the_same_filters_narrow_survival_as_on_the_page(
    engine: Engine, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["survival", "--by", "center", "--risk-scheme", "afip2006", "--risk", "moderate,low"]
    assert main([*argv, "--min-group-size", "2", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    flt = CohortFilter(
        risk_scheme=RiskScheme.AFIP_2006,
        risk_classes=frozenset({RiskClass.MODERATE, RiskClass.LOW}),
    )
    request = build_request(by="center", min_group_size=2)
    with Session(engine) as s:  # what the Survival page computes for this selection
        page = survival_for(s, AccessScope.everything(), flt, request)
    summary = page.result.comparison.summary
    assert {r["group"]: r["n"] for r in out["summary"]} == dict(
        zip(summary["group"], summary["n"], strict=True)
    )
    assert sum(r["n"] for r in out["summary"]) == len(page.cohort) == 17 + 22

"""The domain says what is wrong; only the command adds what to type (its flags, its
sibling commands)."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from gistcad import jobs
from gistcad.cli import main
from gistcad.errors import NotFoundError, ValidationError
from gistcad.store import AccessScope, make_engine, migrations
from gistcad.store.writes import NameTakenError, ensure_name_free
from tests.factories import seed_cohort

EVERYTHING = AccessScope.everything()


@pytest.fixture
def engine(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Engine:
    monkeypatch.setenv("GISTCAD_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("GISTCAD_DB_URL", raising=False)
    engine = make_engine(f"sqlite:///{tmp_path / 'gistcad.sqlite'}")
    migrations.upgrade(engine)
    with Session(engine) as s:
        seed_cohort(s, n=40, with_series=True)
        s.commit()
    return engine


def test_a_missing_job_no_flag_in_the_domain_the_command_adds_its_list(
    engine: Engine, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(NotFoundError, match=r"^no job 42$"):
        jobs.restart(engine, 42, EVERYTHING)
    with pytest.raises(NotFoundError, match=r"^no job 42$"):
        jobs.run(engine, Path(), 42, EVERYTHING)
    for action in ("run", "restart"):
        assert main(["jobs", action, "42"]) == 2
        err = capsys.readouterr().err
        assert err == "gistcad: error: no job 42; 'gistcad jobs list' shows the jobs\n"


def test_a_taken_model_name_no_flag_in_the_store(engine: Engine) -> None:
    with Session(engine) as s, pytest.raises(NameTakenError) as raised:
        ensure_name_free(s, "clinical-v1")  # seed_cohort's model
    assert str(raised.value) == "a model version called 'clinical-v1' exists already"
    assert isinstance(raised.value, ValidationError)


def test_an_oracle_with_nothing_imported_says_so_and_creates_no_key(
    engine: Engine, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    oracle = tmp_path / "oracle.csv"
    oracle.write_text("center,hospital_id\n")
    assert main(["train", "--model", "clinical", "--name", "c"]) == 0
    capsys.readouterr()
    assert main(["evaluate", "--model", "c", "--oracle", str(oracle)]) == 2
    assert capsys.readouterr().err == (
        f"gistcad: error: {oracle}: the oracle cannot be linked to any patient: the data "
        f"folder {tmp_path} has no pseudonym key, so nothing was imported into it yet; import "
        "the synthetic cohort first\n"
    )
    assert not (tmp_path / "pseudonym.key").exists()
    assert main(["train", "--model", "clinical", "--name", "c"]) == 2
    assert capsys.readouterr().err == (
        "gistcad: error: a model version called 'c' exists already; choose another --name\n"
    )

"""Guards of the store: formula-safe CSV, a private SQLite file, values the schema can hold."""

from __future__ import annotations

import stat
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import Engine

from gistcad.errors import ValidationError
from gistcad.store import make_engine, migrations, session_scope
from gistcad.store.exports import csv_text
from gistcad.store.models import Center, Job
from tests.conftest import BACKENDS


def test_csv_cells_that_a_spreadsheet_would_run_are_defused() -> None:
    table = pd.DataFrame(
        {
            "note": ['=HYPERLINK("http://x")', "+1", "-cmd", "@SUM(A1)", "\tx", "plain"],
            "value": [-1.5, 2.0, -3.0, 4.0, 5.0, 6.0],
        }
    )
    lines = csv_text(table).splitlines()
    assert lines[1].startswith("\"'=HYPERLINK")
    assert [line.split(",")[0] for line in lines[2:5]] == ["'+1", "'-cmd", "'@SUM(A1)"]
    assert lines[6] == "plain,6.0"
    assert lines[1].endswith(",-1.5")  # numbers stay numbers, negative ones too


def test_a_new_sqlite_database_is_readable_by_its_owner_only(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'new.sqlite'}")
    migrations.upgrade(engine)
    engine.dispose()
    for path in tmp_path.glob("new.sqlite*"):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path


@pytest.mark.parametrize("engine", BACKENDS, indirect=True)
def test_values_the_schema_cannot_hold_are_refused_alike_on_every_backend(
    engine: Engine,
) -> None:
    too_long = pytest.raises(ValidationError, match=r"centers\.name: 300 characters, at most 120")
    with too_long, session_scope(engine) as session:
        session.add(Center(name="C" * 300))
    too_big = pytest.raises(ValidationError, match=r"jobs\.id: 2147483648 is outside the range")
    with too_big, session_scope(engine) as session:
        session.add(Job(id=2**31, kind="predict", parameters={}))
    with session_scope(engine) as session:  # and the limits themselves are fine
        session.add(Center(name="C" * 120))


def test_categorical_and_string_cells_and_headers_are_defused_too() -> None:
    table = pd.DataFrame(
        {
            "=cmd": pd.Categorical(["=1+1", "a"]),
            "s": pd.Series(["@x", "b"], dtype="string"),
            "n": [-1, 2],
            "flag": [True, False],
        }
    )
    lines = csv_text(table).splitlines()
    assert lines[0] == "'=cmd,s,n,flag"
    assert lines[1] == "'=1+1,'@x,-1,True"

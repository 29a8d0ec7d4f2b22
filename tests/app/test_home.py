"""AppTest smoke of the home page: empty database, seeded database, outdated schema."""

from __future__ import annotations

from sqlalchemy import Engine
from sqlalchemy.orm import Session
from streamlit.testing.v1 import AppTest

from gistcad.store import migrations
from tests.app.conftest import APP
from tests.factories import add_center, add_patient


def _run() -> AppTest:
    at = AppTest.from_file(APP, default_timeout=30)
    at.run()
    assert not at.exception, at.exception
    return at


def _metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def test_empty_database_says_how_to_load_data(app_db: Engine) -> None:
    at = _run()
    assert _metrics(at) == {
        "Patients": "0",
        "Centers": "0",
        "CT series": "0",
        "Model versions": "0",
    }
    assert any("holds no patients yet" in i.value for i in at.info)


def test_seeded_database_shows_counts_and_centers(app_db: Engine) -> None:
    with Session(app_db) as s:
        a, b = add_center(s, "Alpha"), add_center(s, "Beta")
        add_patient(s, a, "A-1", with_series=True)
        add_patient(s, a, "A-2")
        add_patient(s, b, "B-1", with_series=True)
        s.commit()
    at = _run()
    assert _metrics(at) == {
        "Patients": "3",
        "Centers": "2",
        "CT series": "2",
        "Model versions": "0",
    }
    assert not at.info
    table = at.dataframe[0].value
    assert list(table["Center"]) == ["Alpha", "Beta"]
    assert list(table["Patients"]) == [2, 1]


def test_outdated_schema_tells_the_user_what_to_run(app_db: Engine) -> None:
    migrations.downgrade(app_db, "base")
    at = _run()
    assert any("gistcad db upgrade" in e.value for e in at.error)
    assert not at.metric

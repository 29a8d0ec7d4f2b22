"""AppTest fixtures: the dashboard on a temporary data folder."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import streamlit as st
from sqlalchemy import Engine
from sqlalchemy.orm import Session
from streamlit.testing.v1 import AppTest

from gistcad.store import make_engine
from tests.conftest import upgraded_sqlite
from tests.factories import seed_cohort

ROOT = Path(__file__).resolve().parents[2]
APP = str(ROOT / "app.py")


@pytest.fixture
def app_db(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, migrated_sqlite: Path
) -> Iterator[Engine]:
    """A migrated SQLite database in a fresh data folder the app will open."""
    monkeypatch.setenv("GISTCAD_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("GISTCAD_DB_URL", raising=False)
    monkeypatch.chdir(ROOT)
    st.cache_resource.clear()
    st.cache_data.clear()
    engine = make_engine(f"sqlite:///{tmp_path / 'gistcad.sqlite'}")
    upgraded_sqlite(migrated_sqlite, engine)
    yield engine
    engine.dispose()
    st.cache_resource.clear()


def open_page(page: str, query: dict[str, str] | None = None) -> AppTest:
    """Run the app, switch to ``page`` (with optional query parameters) and check no error."""
    at = AppTest.from_file(APP, default_timeout=60)
    for key, value in (query or {}).items():
        at.query_params[key] = value
    at.run()
    at.switch_page(page)
    at.run()
    assert not at.exception, at.exception
    return at


@pytest.fixture
def seeded(app_db: Engine) -> dict[str, list[int]]:
    """The app's database with :func:`tests.factories.seed_cohort`'s 60 patients."""
    with Session(app_db) as s:
        truth = seed_cohort(s)
        s.commit()
    return truth

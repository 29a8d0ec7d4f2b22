"""Shared fixtures: a migrated database on SQLite and, when configured, on PostgreSQL.

PostgreSQL tests need ``GISTCAD_TEST_POSTGRES_URL`` (e.g.
``postgresql+psycopg://postgres@127.0.0.1:5432/test``); without it they are reported as
skipped with that reason. Each PostgreSQL test runs in a schema of its own that is dropped
afterwards, so tests never see each other's rows.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from gistcad.store import make_engine, migrations

POSTGRES_URL_VAR = "GISTCAD_TEST_POSTGRES_URL"
BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]


def postgres_url() -> str:
    url = os.environ.get(POSTGRES_URL_VAR, "").strip()
    if not url:
        pytest.skip(f"{POSTGRES_URL_VAR} is not set: PostgreSQL store tests not run")
    return url


@pytest.fixture
def empty_engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """An engine on an empty database of the backend named by the test's parameter."""
    backend = getattr(request, "param", "sqlite")
    if backend == "sqlite":
        engine = make_engine(f"sqlite:///{tmp_path / 'test.sqlite'}")
        yield engine
        engine.dispose()
        return
    url = postgres_url()
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = make_engine(url)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    engine = make_engine(url, connect_args={"options": f"-csearch_path={schema}"})
    try:
        yield engine
    finally:
        engine.dispose()
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture
def engine(empty_engine: Engine) -> Engine:
    """A database upgraded to the newest schema."""
    migrations.upgrade(empty_engine)
    return empty_engine

"""The store fixtures give each test the backend its parameter names: a test marked
``[postgresql]`` runs on PostgreSQL (once it silently ran on SQLite, the parameter not
reaching the fixture that made the database), at the newest schema, in a database of its own."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, inspect, text

from gistcad.store import migrations
from tests.conftest import BACKENDS


@pytest.mark.parametrize("engine", BACKENDS, indirect=True)
def test_the_engine_is_of_its_parameter_s_backend_at_the_newest_schema(
    engine: Engine, request: pytest.FixtureRequest
) -> None:
    assert engine.dialect.name == request.node.callspec.params["engine"]
    assert migrations.status(engine).is_current
    assert "patients" in inspect(engine).get_table_names()


@pytest.mark.parametrize("empty_engine", BACKENDS, indirect=True)
def test_the_empty_engine_is_of_its_parameter_s_backend_and_empty(
    empty_engine: Engine, request: pytest.FixtureRequest
) -> None:
    assert empty_engine.dialect.name == request.node.callspec.params["empty_engine"]
    assert migrations.status(empty_engine).current is None
    assert inspect(empty_engine).get_table_names() == []


@pytest.mark.postgres
@pytest.mark.parametrize("engine", ["postgresql"], indirect=True)
def test_each_postgresql_test_has_a_database_of_its_own(engine: Engine) -> None:
    with engine.connect() as connection:
        database = connection.scalar(text("SELECT current_database()"))
    assert str(database).startswith("gistcad_test_")
    assert engine.url.database == database

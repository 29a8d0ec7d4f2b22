"""Migrations: empty → head → empty on both backends; the ORM and migrations agree."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, inspect

from gistcad.store import migrations
from gistcad.store.models import Base
from tests.conftest import BACKENDS

TABLES = {
    "centers",
    "patients",
    "tumours",
    "treatments",
    "outcomes",
    "studies",
    "series",
    "segmentations",
    "model_versions",
    "predictions",
    "jobs",
    "audit_events",
    "pseudonym_links",
}


@pytest.mark.parametrize("empty_engine", BACKENDS, indirect=True)
def test_upgrade_to_head_and_back_down(empty_engine: Engine) -> None:
    assert migrations.status(empty_engine).current is None

    migrations.upgrade(empty_engine)
    state = migrations.status(empty_engine)
    assert state.is_current
    assert set(inspect(empty_engine).get_table_names()) >= TABLES

    migrations.downgrade(empty_engine, "base")
    assert migrations.status(empty_engine).current is None
    assert not TABLES & set(inspect(empty_engine).get_table_names())


@pytest.mark.parametrize("empty_engine", BACKENDS, indirect=True)
def test_upgrade_twice_is_a_no_op(empty_engine: Engine) -> None:
    migrations.upgrade(empty_engine)
    migrations.upgrade(empty_engine)
    assert migrations.status(empty_engine).is_current


@pytest.mark.parametrize("empty_engine", BACKENDS, indirect=True)
def test_orm_and_migrations_agree(empty_engine: Engine) -> None:
    migrations.upgrade(empty_engine)
    with empty_engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        diff = compare_metadata(context, Base.metadata)
    assert diff == []


def test_status_describes_where_the_schema_stands(empty_engine: Engine) -> None:
    empty = migrations.status(empty_engine)
    assert empty.describe() == f"empty database (no schema); the newest revision is {empty.head}"
    assert "gistcad" not in empty.describe()  # the command or the page says how to upgrade
    with pytest.raises(migrations.SchemaNotReady, match="not ready: empty database") as info:
        migrations.ready_engine(empty_engine.url)
    assert info.value.status == empty
    migrations.upgrade(empty_engine)
    assert "up to date" in migrations.status(empty_engine).describe()
    migrations.ready_engine(empty_engine.url).dispose()


@pytest.mark.parametrize("empty_engine", BACKENDS, indirect=True)
def test_the_scale_indexes_come_and_go_keeping_the_rows(empty_engine: Engine) -> None:
    from sqlalchemy import func, select

    from gistcad.store.models import Patient, Prediction
    from gistcad.store.seeding import seed_cohort

    def indexes(table: str) -> set[str]:
        return {str(i["name"]) for i in inspect(empty_engine).get_indexes(table)}

    def patients() -> int:
        with empty_engine.connect() as conn:
            return int(conn.scalar(select(func.count()).select_from(Patient)) or 0)

    migrations.upgrade(empty_engine, "0004_follow_up")
    seed_cohort(empty_engine, 50)  # an existing database with rows
    assert "ix_tumours_genotype_detail" not in indexes("tumours")
    migrations.upgrade(empty_engine, "0005_scale_indexes")
    assert "ix_tumours_genotype_detail" in indexes("tumours")
    assert "ix_predictions_patient_model" in indexes("predictions")
    assert patients() == 50
    with empty_engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(Prediction)) == 50
    migrations.downgrade(empty_engine, "0004_follow_up")
    assert "ix_tumours_genotype_detail" not in indexes("tumours")
    assert "ix_predictions_patient_model" not in indexes("predictions")
    assert patients() == 50

"""Migrations: empty → head → empty on both backends; the ORM and migrations agree."""

from __future__ import annotations

import datetime as dt

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


@pytest.mark.parametrize("empty_engine", BACKENDS, indirect=True)
def test_the_probability_columns_are_back_filled_from_the_json(empty_engine: Engine) -> None:
    import json

    from sqlalchemy import insert, select

    from gistcad.store.models import Prediction
    from gistcad.store.seeding import seed_cohort

    migrations.upgrade(empty_engine, "0006_semi_automatic_outline")
    seed_cohort(empty_engine, 30)  # predictions written before the columns existed
    predictions = Prediction.__table__
    with empty_engine.begin() as conn:
        model_id, patient_id = conn.execute(
            select(predictions.c.model_version_id, predictions.c.patient_id).limit(1)
        ).one()
        conn.execute(  # a binary model's row: no kit9, pdgfra or wild-type probability
            insert(predictions).values(
                patient_id=patient_id,
                model_version_id=model_id,
                series_id=None,
                probabilities={"not_kit11": 0.375, "kit11": 0.625},
                predicted_class="kit11",
                created_at=dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
            )
        )
    columns = ["p_kit11", "p_kit9", "p_pdgfra", "p_wt_other"]
    assert not set(columns) & {c["name"] for c in inspect(empty_engine).get_columns("predictions")}

    migrations.upgrade(empty_engine, "0007_prediction_probabilities")
    with empty_engine.connect() as conn:
        rows = conn.execute(
            select(predictions.c.probabilities, *(predictions.c[c] for c in columns))
        ).all()
    assert len(rows) == 31
    for stored, *numbers in rows:
        probabilities = stored if isinstance(stored, dict) else json.loads(stored)
        expected = [probabilities.get(c.removeprefix("p_")) for c in columns]
        assert numbers == expected  # exactly the JSON's numbers; NULL where a class is absent
    assert [0.625, None, None, None] in [list(r[1:]) for r in rows]

    migrations.downgrade(empty_engine, "0006_semi_automatic_outline")
    assert not set(columns) & {c["name"] for c in inspect(empty_engine).get_columns("predictions")}
    with empty_engine.connect() as conn:
        assert len(conn.execute(select(predictions.c.id)).all()) == 31


@pytest.mark.parametrize("empty_engine", BACKENDS, indirect=True)
def test_imported_outlines_keep_their_maker_and_fall_back_to_manual_going_down(
    empty_engine: Engine,
) -> None:
    from sqlalchemy import select, text
    from sqlalchemy.exc import IntegrityError
    from sqlalchemy.orm import Session

    from gistcad.store.models import Segmentation, Series
    from tests.factories import add_center, add_patient

    segmentations = Segmentation.__table__
    migrations.upgrade(empty_engine, "0008_non_cr_non_pd")
    with Session(empty_engine) as s:
        add_patient(s, add_center(s, "A"), "P-001", with_series=True)
        series_id = s.scalars(select(Series.id)).one()
        s.commit()

    def add(source: str) -> None:  # plain SQL: the database's CHECK decides, not the ORM
        with empty_engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO segmentations (series_id, label, source, path, sha256) "
                    "VALUES (:series, :source, :source, :source, :sha)"
                ),
                {"series": series_id, "source": source, "sha": "0" * 64},
            )

    add("manual")
    with pytest.raises(IntegrityError):
        add("imported_automatic")  # not a source before the revision
    migrations.upgrade(empty_engine, "0009_imported_outline_provenance")
    add("imported_automatic")
    add("imported_semi_automatic")
    with pytest.raises(IntegrityError):
        add("automatic")

    def sources() -> dict[str, str]:
        with empty_engine.connect() as conn:
            rows = conn.execute(select(segmentations.c.label, segmentations.c.source)).all()
        return {str(label): str(source) for label, source in rows}

    assert sources() == {
        "manual": "manual",
        "imported_automatic": "imported_automatic",
        "imported_semi_automatic": "imported_semi_automatic",
    }
    migrations.downgrade(empty_engine, "0008_non_cr_non_pd")
    assert set(sources().values()) == {"manual"}  # what the older schema stored them as
    with pytest.raises(IntegrityError):
        add("imported_automatic")  # and its constraint is back

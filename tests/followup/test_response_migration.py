"""Migration 0008: the category "non_cr_non_pd" (RECIST 1.1 Table 2) on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import Engine, insert, select, text, update
from sqlalchemy.exc import DataError, IntegrityError
from sqlalchemy.orm import Session

from gistcad.domain import MeasurementSource, ResponseCategory, ResponseCriteria
from gistcad.store import migrations
from gistcad.store.models import Patient, ResponseAssessment, Study, Timepoint
from tests.conftest import BACKENDS
from tests.factories import add_center

BEFORE = "0007_prediction_probabilities"
TABLE = ResponseAssessment.__table__


def _timepoint(engine: Engine) -> int:
    with Session(engine) as s:
        patient = Patient(pseudonym="P-001", center_id=add_center(s, "Alpha").id)
        s.add(patient)
        s.flush()
        study = Study(patient_id=patient.id, study_instance_uid="1.2.3", study_date=dt.date.today())
        s.add(study)
        s.flush()
        tp = Timepoint(
            patient_id=patient.id, study_id=study.id, number=1, study_date=study.study_date
        )
        s.add(tp)
        s.commit()
        return tp.id


def _row(timepoint_id: int, category: str, criteria: str = "recist_1_1") -> dict[str, object]:
    return {
        "timepoint_id": timepoint_id,
        "criteria": criteria,
        "category": category,
        "reason": "non-target disease only",
        "source": MeasurementSource.AUTOMATIC.value,
        "assessed_by": "gistcad",
        "assessed_at": dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
    }


@pytest.mark.parametrize("empty_engine", BACKENDS, indirect=True)
def test_non_cr_non_pd_is_stored_after_the_upgrade_and_ne_after_the_downgrade(
    empty_engine: Engine,
) -> None:
    migrations.upgrade(empty_engine)
    timepoint_id = _timepoint(empty_engine)
    with Session(empty_engine) as s:  # the ORM writes the new category
        s.add(
            ResponseAssessment(
                timepoint_id=timepoint_id,
                criteria=ResponseCriteria.RECIST_1_1,
                category=ResponseCategory.NON_CR_NON_PD,
                reason="non-target disease only",
                source=MeasurementSource.AUTOMATIC,
                assessed_by="gistcad",
            )
        )
        s.commit()

    migrations.downgrade(empty_engine, BEFORE)
    with empty_engine.connect() as conn:
        assert conn.execute(select(TABLE.c.category)).scalars().all() == ["ne"]
    with pytest.raises((IntegrityError, DataError)), empty_engine.begin() as conn:
        conn.execute(insert(TABLE).values(_row(timepoint_id, "non_cr_non_pd", "choi")))

    migrations.upgrade(empty_engine)
    with empty_engine.begin() as conn:
        conn.execute(update(TABLE).values(category="non_cr_non_pd"))
        conn.execute(insert(TABLE).values(_row(timepoint_id, "pd", "choi")))
        with pytest.raises(IntegrityError), conn.begin_nested():  # the new CHECK still checks
            conn.execute(text("UPDATE response_assessments SET category = 'unknown'"))
    with empty_engine.connect() as conn:
        stored = conn.execute(select(TABLE.c.criteria, TABLE.c.category)).all()
    assert sorted(stored) == [("choi", "pd"), ("recist_1_1", "non_cr_non_pd")]

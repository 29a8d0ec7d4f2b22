"""The database itself refuses bad rows, on SQLite and PostgreSQL alike."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import IntegrityError, StatementError
from sqlalchemy.orm import Session

from gistcad.store.models import Patient, Series, Study, Tumour
from tests.conftest import BACKENDS
from tests.factories import add_center, add_patient

pytestmark = pytest.mark.parametrize("engine", BACKENDS, indirect=True)


def _patient_id(engine: Engine) -> int:
    with Session(engine) as s:
        center = add_center(s, "A")
        patient = add_patient(s, center, "GIST-0001", with_series=True)
        s.commit()
        return patient.id


BAD_SQL = {
    "rfs event not 0/1": "INSERT INTO outcomes (patient_id, rfs_months, rfs_event) "
    "VALUES (:pid, 10, 2)",
    "negative rfs time": "INSERT INTO outcomes (patient_id, rfs_months, rfs_event) "
    "VALUES (:pid, -1, 0)",
    "negative os time": "INSERT INTO outcomes (patient_id, os_months, os_event) "
    "VALUES (:pid, -0.5, 1)",
    "time without event": "INSERT INTO outcomes (patient_id, rfs_months) VALUES (:pid, 3)",
    "zero size": "INSERT INTO tumours (patient_id, lesion, size_cm, genotype_detail) "
    "VALUES (:pid, 2, 0, 'unknown')",
    "unknown genotype": "INSERT INTO tumours (patient_id, lesion, genotype_detail) "
    "VALUES (:pid, 2, 'kit_exon_99')",
    "unknown site": "INSERT INTO tumours (patient_id, lesion, site, genotype_detail) "
    "VALUES (:pid, 2, 'liver', 'unknown')",
    "mitoses without unit": "INSERT INTO tumours (patient_id, lesion, mitotic_count, "
    "genotype_detail) VALUES (:pid, 2, 4, 'unknown')",
    "negative mitoses": "INSERT INTO tumours (patient_id, lesion, mitotic_count, mitotic_unit, "
    "genotype_detail) VALUES (:pid, 2, -1, 'per_50hpf', 'unknown')",
    "second primary lesion": "INSERT INTO tumours (patient_id, lesion, genotype_detail) "
    "VALUES (:pid, 1, 'unknown')",
    "tumour of a missing patient": "INSERT INTO tumours (patient_id, lesion, genotype_detail) "
    "VALUES (:pid + 1000, 1, 'unknown')",
    "job progress above 1": "INSERT INTO jobs (kind, parameters, status, progress, created_at) "
    "VALUES ('predict', '{}', 'running', 1.5, CURRENT_TIMESTAMP)",
    "unknown job status": "INSERT INTO jobs (kind, parameters, status, progress, created_at) "
    "VALUES ('predict', '{}', 'sleeping', 0, CURRENT_TIMESTAMP)",
}


@pytest.mark.parametrize("case", sorted(BAD_SQL))
def test_bad_rows_are_refused(engine: Engine, case: str) -> None:
    pid = _patient_id(engine)
    with pytest.raises(IntegrityError), engine.begin() as conn:
        conn.execute(text(BAD_SQL[case]), {"pid": pid})


def test_a_good_row_is_accepted(engine: Engine) -> None:
    pid = _patient_id(engine)
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO tumours (patient_id, lesion, site, size_cm, mitotic_count, "
                "mitotic_unit, genotype_detail) VALUES (:pid, 2, 'rectum', 2.0, 0, "
                "'per_5mm2', 'pdgfra_d842v')"
            ),
            {"pid": pid},
        )


def test_pseudonym_unique_within_a_center_only(engine: Engine) -> None:
    with Session(engine) as s:
        a, b = add_center(s, "A"), add_center(s, "B")
        add_patient(s, a, "P1")
        add_patient(s, b, "P1")  # the same pseudonym in another center is fine
        s.commit()
        s.add(Patient(pseudonym="P1", center_id=a.id))
        with pytest.raises(IntegrityError):
            s.commit()


def test_series_instance_uid_is_unique(engine: Engine) -> None:
    with Session(engine) as s:
        center = add_center(s, "A")
        patient = add_patient(s, center, "P1", with_series=True)
        uid = patient.studies[0].series[0].series_instance_uid
        study = Study(patient_id=patient.id, study_instance_uid="1.2.3.999")
        study.series.append(
            Series(
                series_instance_uid=uid,
                modality="CT",
                spacing_mm=[1, 1, 1],
                shape=[1, 1, 1],
                orientation=[1, 0, 0, 0, 1, 0],
                volume_path="x.nii",
                volume_sha256="1" * 64,
            )
        )
        s.add(study)
        with pytest.raises(IntegrityError):
            s.commit()


def test_deleting_a_patient_cascades_to_its_records(engine: Engine) -> None:
    pid = _patient_id(engine)
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM patients WHERE id = :pid"), {"pid": pid})
    with engine.connect() as conn:
        for table in ("tumours", "outcomes", "studies", "series"):
            assert conn.execute(text(f"SELECT count(*) FROM {table}")).scalar() == 0


def test_a_center_with_patients_cannot_be_deleted(engine: Engine) -> None:
    _patient_id(engine)
    with pytest.raises(IntegrityError), engine.begin() as conn:
        conn.execute(text("DELETE FROM centers"))


def test_orm_refuses_values_outside_an_enum(engine: Engine) -> None:
    with Session(engine) as s:
        center = add_center(s, "A")
        s.add(Tumour(patient=Patient(pseudonym="X", center=center), site="liver"))
        with pytest.raises(StatementError, match="liver"):
            s.commit()

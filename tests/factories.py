"""Small builders of store rows for tests (tiny, explicit, seeded by the caller)."""

from __future__ import annotations

from sqlalchemy.orm import Session

from gistcad.domain import GenotypeDetail, MitosisUnit, Sex, Site
from gistcad.store.models import Center, Outcome, Patient, Series, Study, Tumour


def add_center(session: Session, name: str, country: str = "NL") -> Center:
    center = Center(name=name, country=country, scanner_notes=f"{name} scanner")
    session.add(center)
    session.flush()
    return center


def add_patient(
    session: Session,
    center: Center,
    pseudonym: str,
    *,
    site: Site = Site.STOMACH,
    size_cm: float = 5.0,
    genotype: GenotypeDetail = GenotypeDetail.KIT11_DEL_557_558,
    sex: Sex = Sex.FEMALE,
    age: float = 60.0,
    rfs: tuple[float, int] = (24.0, 0),
    with_series: bool = False,
) -> Patient:
    patient = Patient(pseudonym=pseudonym, center=center, sex=sex, age_at_diagnosis=age)
    patient.tumours.append(
        Tumour(
            lesion=1,
            site=site,
            size_cm=size_cm,
            mitotic_count=3,
            mitotic_unit=MitosisUnit.PER_50_HPF,
            rupture=0,
            genotype_detail=genotype,
        )
    )
    patient.outcome = Outcome(rfs_months=rfs[0], rfs_event=rfs[1], os_months=rfs[0] + 6, os_event=0)
    if with_series:
        study = Study(study_instance_uid=f"1.2.826.0.1.{abs(hash(pseudonym)) % 10**9}")
        study.series.append(
            Series(
                series_instance_uid=f"{study.study_instance_uid}.1",
                modality="CT",
                spacing_mm=[0.8, 0.8, 2.5],
                shape=[512, 512, 80],
                orientation=[1, 0, 0, 0, 1, 0],
                volume_path=f"volumes/{pseudonym}.nii",
                volume_sha256="0" * 64,
            )
        )
        patient.studies.append(study)
    session.add(patient)
    session.flush()
    return patient

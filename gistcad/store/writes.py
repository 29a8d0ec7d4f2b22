"""Write functions of the store: upserts used by the importers (never commit)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection
from dataclasses import dataclass, fields
from enum import StrEnum
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from gistcad.domain import GenotypeDetail, MitosisUnit, SegmentationSource, Sex, Site
from gistcad.errors import NotFoundError, ValidationError
from gistcad.store.models import (
    Center,
    ModelVersion,
    Outcome,
    Patient,
    Prediction,
    PseudonymLink,
    Segmentation,
    Series,
    Study,
    Treatment,
    Tumour,
)
from gistcad.store.scope import AccessScope


class Change(StrEnum):
    CREATED = "created"
    UPDATED = "updated"
    UNCHANGED = "unchanged"


@dataclass(frozen=True)
class ClinicalRecord:
    """One patient's clinical data, validated, in store units (cm, months, 0/1)."""

    sex: Sex | None = None
    age_at_diagnosis: float | None = None
    site: Site | None = None
    sub_site: str | None = None
    size_cm: float | None = None
    mitotic_count: float | None = None
    mitotic_unit: MitosisUnit | None = None
    rupture: int | None = None
    histology: str | None = None
    genotype_detail: GenotypeDetail = GenotypeDetail.UNKNOWN
    genotype_text: str | None = None
    surgery_date: dt.date | None = None
    neoadjuvant_imatinib: int = 0
    adjuvant_imatinib: int = 0
    imatinib_dose_mg_per_day: float | None = None
    imatinib_duration_months: float | None = None
    rfs_months: float | None = None
    rfs_event: int | None = None
    os_months: float | None = None
    os_event: int | None = None
    last_follow_up: dt.date | None = None


_PATIENT = ("sex", "age_at_diagnosis")
_TUMOUR = (
    "site",
    "sub_site",
    "size_cm",
    "mitotic_count",
    "mitotic_unit",
    "rupture",
    "histology",
    "genotype_detail",
    "genotype_text",
)
_TREATMENT = (
    "surgery_date",
    "neoadjuvant_imatinib",
    "adjuvant_imatinib",
    "imatinib_dose_mg_per_day",
    "imatinib_duration_months",
)
_OUTCOME = ("rfs_months", "rfs_event", "os_months", "os_event", "last_follow_up")
assert {f.name for f in fields(ClinicalRecord)} == {*_PATIENT, *_TUMOUR, *_TREATMENT, *_OUTCOME}


def find_center(session: Session, name: str) -> Center | None:
    """The center whose name equals ``name`` ignoring case, if any."""
    return session.scalars(
        select(Center).where(func.lower(Center.name) == name.lower()).order_by(Center.id)
    ).first()


def get_or_create_center(session: Session, name: str) -> tuple[Center, bool]:
    """The center called ``name`` (ignoring case), created if missing; the flag says whether
    it was created. ``name`` must already be a valid center name (:func:`domain.center_name`).
    """
    center = find_center(session, name)
    if center is not None:
        return center, False
    center = Center(name=name)
    session.add(center)
    session.flush()
    return center, True


def _assign(target: Any, record: ClinicalRecord, names: tuple[str, ...]) -> bool:
    changed = False
    for name in names:
        value = getattr(record, name)
        if getattr(target, name) != value:
            setattr(target, name, value)
            changed = True
    return changed


def upsert_clinical(
    session: Session,
    center: Center,
    pseudonym: str,
    record: ClinicalRecord,
    *,
    original_id: str | None = None,
) -> Change:
    """Create or update a patient's clinical data (primary tumour = lesion 1).

    ``original_id`` is stored in :class:`PseudonymLink` only when given (the user asked to
    keep the mapping).
    """
    patient = session.scalar(
        select(Patient).where(Patient.center_id == center.id, Patient.pseudonym == pseudonym)
    )
    created = patient is None
    if patient is None:
        patient = Patient(pseudonym=pseudonym, center=center)
        session.add(patient)
    changed = _assign(patient, record, _PATIENT)
    tumour = next((t for t in patient.tumours if t.lesion == 1), None)
    if tumour is None:
        tumour = Tumour(lesion=1)
        patient.tumours.append(tumour)
    changed |= _assign(tumour, record, _TUMOUR)
    if patient.treatment is None:
        patient.treatment = Treatment()
    changed |= _assign(patient.treatment, record, _TREATMENT)
    if patient.outcome is None:
        patient.outcome = Outcome()
    changed |= _assign(patient.outcome, record, _OUTCOME)
    session.flush()
    if original_id is not None:
        link = session.scalar(select(PseudonymLink).where(PseudonymLink.patient_id == patient.id))
        if link is None:
            session.add(PseudonymLink(patient_id=patient.id, original_id=original_id))
    if created:
        return Change.CREATED
    return Change.UPDATED if changed else Change.UNCHANGED


def get_or_create_patient(session: Session, center: Center, pseudonym: str) -> tuple[Patient, bool]:
    """The patient ``pseudonym`` of ``center``, created (with no clinical data) if missing."""
    patient = session.scalar(
        select(Patient).where(Patient.center_id == center.id, Patient.pseudonym == pseudonym)
    )
    if patient is not None:
        return patient, False
    patient = Patient(pseudonym=pseudonym, center=center)
    session.add(patient)
    session.flush()
    return patient, True


def find_series(session: Session, series_instance_uid: str) -> Series | None:
    return session.scalar(select(Series).where(Series.series_instance_uid == series_instance_uid))


def find_study(session: Session, study_instance_uid: str) -> Study | None:
    return session.scalar(select(Study).where(Study.study_instance_uid == study_instance_uid))


def add_series(
    session: Session,
    patient: Patient,
    *,
    study_instance_uid: str,
    study_date: dt.date | None,
    series: Series,
) -> Series:
    """Attach a new series (and its study, if new) to ``patient``.

    Raises
    ------
    ValidationError
        When the study already belongs to another patient.
    """
    study = find_study(session, study_instance_uid)
    if study is None:
        study = Study(study_instance_uid=study_instance_uid, study_date=study_date)
        patient.studies.append(study)
    elif study.patient_id != patient.id:
        raise ValidationError(
            f"StudyInstanceUID {study_instance_uid} already belongs to another patient; the "
            "export mixes patients within one study"
        )
    study.series.append(series)
    session.flush()
    return series


def patient_ct_series(session: Session, patient: Patient) -> list[Series]:
    return list(
        session.scalars(
            select(Series)
            .join(Study, Series.study_id == Study.id)
            .where(Study.patient_id == patient.id, Series.modality == "CT")
            .order_by(Series.id)
        )
    )


def set_genotype(
    session: Session, patient: Patient, detail: GenotypeDetail, text: str | None
) -> bool:
    """Set the primary tumour's genotype (creating the tumour row if needed); True if changed.

    Leaves every other clinical field as it is, for sources that know only the genotype.
    """
    tumour = next((t for t in patient.tumours if t.lesion == 1), None)
    if tumour is None:
        tumour = Tumour(lesion=1)
        patient.tumours.append(tumour)
    changed = tumour.genotype_detail != detail or tumour.genotype_text != text
    tumour.genotype_detail, tumour.genotype_text = detail, text
    session.flush()
    return changed


class NameTakenError(ValidationError):
    """A model version of that name exists already."""


def ensure_name_free(session: Session, name: str) -> None:
    """Refuse a model version name that is taken (:class:`NameTakenError`)."""
    if session.scalar(select(ModelVersion.id).where(ModelVersion.name == name)):
        raise NameTakenError(f"a model version called {name!r} exists already")


def add_model_version(session: Session, version: ModelVersion) -> ModelVersion:
    """Register a trained model; refuses a name that is taken."""
    ensure_name_free(session, version.name)
    session.add(version)
    session.flush()
    return version


def get_model_version(session: Session, model_version_id: int) -> ModelVersion:
    version = session.get(ModelVersion, model_version_id)
    if version is None:
        raise ValidationError(f"no model version with id {model_version_id}")
    return version


def replace_predictions(
    session: Session,
    version: ModelVersion,
    rows: list[Prediction],
    *,
    stale: Collection[int] = (),
) -> int:
    """Store ``rows`` for ``version``, replacing its earlier predictions for those patients;
    its predictions for the ``stale`` patients (ids) are removed too."""
    patient_ids = {row.patient_id for row in rows} | {int(p) for p in stale}
    if patient_ids:
        session.execute(
            delete(Prediction).where(
                Prediction.model_version_id == version.id,
                Prediction.patient_id.in_(sorted(patient_ids)),
            )
        )
    for row in rows:
        row.model_version_id = version.id
        session.add(row)
    session.flush()
    return len(rows)


def referenced_data_files(session: Session) -> set[str]:
    """Every data-folder path (relative) that a series or segmentation row points to."""
    volumes = session.scalars(select(Series.volume_path)).all()
    masks = session.scalars(select(Segmentation.path)).all()
    return {*volumes, *masks}


def is_data_file_referenced(session: Session, relative: str) -> bool:
    """Whether a series or segmentation row points to ``relative``."""
    return (
        session.scalar(select(Series.id).where(Series.volume_path == relative).limit(1)) is not None
        or session.scalar(select(Segmentation.id).where(Segmentation.path == relative).limit(1))
        is not None
    )


def add_segmentation(
    session: Session,
    series: Series,
    *,
    label: str,
    source: SegmentationSource,
    volume_ml: float,
    path: str,
    sha256: str,
    created_by: str | None = None,
) -> Segmentation:
    """Add a segmentation row to ``series`` (flushed, not committed)."""
    row = Segmentation(
        label=label[:80],
        source=source,
        volume_ml=round(float(volume_ml), 3),
        path=path,
        sha256=sha256,
        created_by=None if created_by is None else created_by[:120],
        created_at=dt.datetime.now(dt.UTC),
    )
    series.segmentations.append(row)
    session.flush()
    return row


def patient_ct_series_in_scope(
    session: Session, scope: AccessScope, pseudonym: str
) -> tuple[Patient, Series]:
    """The first CT series of the patient ``pseudonym`` in ``scope``.

    Raises
    ------
    NotFoundError
        When no patient in scope has that pseudonym, or the patient has no CT series.
    """
    from gistcad.store.followup import find_patient

    found = find_patient(session, scope, pseudonym)
    patient = session.get_one(Patient, found.patient_id)
    series = patient_ct_series(session, patient)
    if not series:
        raise NotFoundError(f"patient {pseudonym} has no CT series: import the scan first")
    return patient, series[0]

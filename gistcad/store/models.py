"""The schema: SQLAlchemy 2 typed ORM models.

Rules kept by the database itself, not only by Python (so that an importer bug or a
manual SQL session cannot break them): coded values are CHECK-constrained to their enum,
event flags are 0 or 1, times are non-negative, sizes positive, a pseudonym is unique within
its center, a SeriesInstanceUID is unique, and foreign keys cascade from a patient to
everything that describes the patient. A center or a model version that still has rows
pointing at it cannot be deleted (``RESTRICT``).

The schema is created by the Alembic migrations in ``db/``; a test checks that the
migrations and these models agree.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Column,
    Date,
    DateTime,
    Enum,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    SmallInteger,
    String,
    Table,
    Text,
    UniqueConstraint,
    event,
    func,
    inspect,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, relationship, validates

from gistcad.domain import (
    ContrastPhase,
    Drug,
    GenotypeClass,
    GenotypeDetail,
    JobStatus,
    LesionOrgan,
    LesionRole,
    MeasurementSource,
    MitosisUnit,
    ModelKind,
    ResponseCategory,
    ResponseCriteria,
    Role,
    SegmentationSource,
    Sex,
    Site,
    Split,
)
from gistcad.errors import ValidationError

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


#: the largest id the INTEGER primary keys hold on every backend (PostgreSQL's int4)
MAX_RECORD_ID = 2**31 - 1


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {dict[str, Any]: JSON, list[Any]: JSON}


def coded(enum: type[StrEnum], name: str) -> Enum:
    """A string column restricted to ``enum``'s values by a CHECK constraint."""
    return Enum(
        enum,
        name=name,
        native_enum=False,
        create_constraint=True,
        length=max(len(m.value) for m in enum) + 8,
        values_callable=lambda e: [m.value for m in e],
        validate_strings=True,
    )


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class Center(Base):
    __tablename__ = "centers"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    country: Mapped[str | None] = mapped_column(String(80))
    scanner_notes: Mapped[str | None] = mapped_column(Text)

    patients: Mapped[list[Patient]] = relationship(back_populates="center")


class Patient(Base):
    __tablename__ = "patients"
    __table_args__ = (
        UniqueConstraint("center_id", "pseudonym"),
        CheckConstraint("age_at_diagnosis >= 0 AND age_at_diagnosis <= 120", name="age_range"),
        CheckConstraint("fold IS NULL OR fold >= 0", name="fold_nonnegative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    pseudonym: Mapped[str] = mapped_column(String(64), index=True)
    center_id: Mapped[int] = mapped_column(
        ForeignKey("centers.id", ondelete="RESTRICT"), index=True
    )
    sex: Mapped[Sex | None] = mapped_column(coded(Sex, "sex"))
    age_at_diagnosis: Mapped[float | None] = mapped_column(Float)
    split: Mapped[Split | None] = mapped_column(coded(Split, "split"))
    fold: Mapped[int | None] = mapped_column(Integer)

    center: Mapped[Center] = relationship(back_populates="patients")
    tumours: Mapped[list[Tumour]] = relationship(
        back_populates="patient", cascade="all, delete-orphan", passive_deletes=True
    )
    treatment: Mapped[Treatment | None] = relationship(
        back_populates="patient", cascade="all, delete-orphan", passive_deletes=True
    )
    outcome: Mapped[Outcome | None] = relationship(
        back_populates="patient", cascade="all, delete-orphan", passive_deletes=True
    )
    studies: Mapped[list[Study]] = relationship(
        back_populates="patient", cascade="all, delete-orphan", passive_deletes=True
    )


class Tumour(Base):
    """The clinical record of one lesion; lesion 1 is the primary tumour."""

    __tablename__ = "tumours"
    __table_args__ = (
        UniqueConstraint("patient_id", "lesion"),
        CheckConstraint("lesion >= 1", name="lesion_positive"),
        CheckConstraint("size_cm IS NULL OR size_cm > 0", name="size_positive"),
        CheckConstraint("mitotic_count IS NULL OR mitotic_count >= 0", name="mitoses_nonnegative"),
        CheckConstraint(
            "mitotic_count IS NULL OR mitotic_unit IS NOT NULL", name="mitoses_have_unit"
        ),
        CheckConstraint("rupture IS NULL OR rupture IN (0, 1)", name="rupture_flag"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(
        ForeignKey("patients.id", ondelete="CASCADE"), index=True
    )
    lesion: Mapped[int] = mapped_column(SmallInteger, default=1)
    site: Mapped[Site | None] = mapped_column(coded(Site, "site"))
    sub_site: Mapped[str | None] = mapped_column(String(80))
    size_cm: Mapped[float | None] = mapped_column(Float, comment="largest diameter, cm")
    mitotic_count: Mapped[float | None] = mapped_column(Float)
    mitotic_unit: Mapped[MitosisUnit | None] = mapped_column(coded(MitosisUnit, "mitotic_unit"))
    rupture: Mapped[int | None] = mapped_column(SmallInteger)
    histology: Mapped[str | None] = mapped_column(String(80))
    genotype_detail: Mapped[GenotypeDetail] = mapped_column(
        coded(GenotypeDetail, "genotype_detail"), default=GenotypeDetail.UNKNOWN, index=True
    )
    genotype_text: Mapped[str | None] = mapped_column(
        String(200), comment="the mutation as reported, e.g. p.W557_K558del"
    )

    patient: Mapped[Patient] = relationship(back_populates="tumours")


class Treatment(Base):
    __tablename__ = "treatments"
    __table_args__ = (
        CheckConstraint(
            "imatinib_dose_mg_per_day IS NULL OR imatinib_dose_mg_per_day > 0", name="dose_positive"
        ),
        CheckConstraint(
            "imatinib_duration_months IS NULL OR imatinib_duration_months >= 0",
            name="duration_nonnegative",
        ),
        CheckConstraint("neoadjuvant_imatinib IN (0, 1)", name="neoadjuvant_flag"),
        CheckConstraint("adjuvant_imatinib IN (0, 1)", name="adjuvant_flag"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(
        ForeignKey("patients.id", ondelete="CASCADE"), unique=True
    )
    surgery_date: Mapped[dt.date | None] = mapped_column(Date)
    neoadjuvant_imatinib: Mapped[int] = mapped_column(SmallInteger, default=0)
    adjuvant_imatinib: Mapped[int] = mapped_column(SmallInteger, default=0)
    imatinib_dose_mg_per_day: Mapped[float | None] = mapped_column(Float)
    imatinib_duration_months: Mapped[float | None] = mapped_column(Float)

    patient: Mapped[Patient] = relationship(back_populates="treatment")


class Outcome(Base):
    """Recurrence-free and overall survival, in months from surgery (or diagnosis)."""

    __tablename__ = "outcomes"
    __table_args__ = (
        CheckConstraint("rfs_months IS NULL OR rfs_months >= 0", name="rfs_time_nonnegative"),
        CheckConstraint("os_months IS NULL OR os_months >= 0", name="os_time_nonnegative"),
        CheckConstraint("rfs_event IS NULL OR rfs_event IN (0, 1)", name="rfs_event_flag"),
        CheckConstraint("os_event IS NULL OR os_event IN (0, 1)", name="os_event_flag"),
        CheckConstraint(
            "(rfs_months IS NULL) = (rfs_event IS NULL)", name="rfs_time_and_event_together"
        ),
        CheckConstraint(
            "(os_months IS NULL) = (os_event IS NULL)", name="os_time_and_event_together"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(
        ForeignKey("patients.id", ondelete="CASCADE"), unique=True
    )
    rfs_months: Mapped[float | None] = mapped_column(Float)
    rfs_event: Mapped[int | None] = mapped_column(SmallInteger)
    os_months: Mapped[float | None] = mapped_column(Float)
    os_event: Mapped[int | None] = mapped_column(SmallInteger)
    last_follow_up: Mapped[dt.date | None] = mapped_column(Date)

    patient: Mapped[Patient] = relationship(back_populates="outcome")


class Study(Base):
    __tablename__ = "studies"

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(
        ForeignKey("patients.id", ondelete="CASCADE"), index=True
    )
    study_instance_uid: Mapped[str] = mapped_column(String(64), unique=True)
    study_date: Mapped[dt.date | None] = mapped_column(Date)
    description: Mapped[str | None] = mapped_column(String(200))

    patient: Mapped[Patient] = relationship(back_populates="studies")
    series: Mapped[list[Series]] = relationship(
        back_populates="study", cascade="all, delete-orphan", passive_deletes=True
    )


class Series(Base):
    """One image series, converted at import to a canonical volume in the data folder.

    Geometry is stored so that pages and models never open a file to learn it: ``shape`` is
    (columns, rows, slices) of the canonical volume, ``spacing_mm`` its voxel size in mm and
    ``orientation`` the six direction cosines (DICOM ImageOrientationPatient).
    """

    __tablename__ = "series"
    __table_args__ = (
        CheckConstraint(
            "slice_thickness_mm IS NULL OR slice_thickness_mm > 0", name="thickness_positive"
        ),
        CheckConstraint("kvp IS NULL OR kvp > 0", name="kvp_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    study_id: Mapped[int] = mapped_column(ForeignKey("studies.id", ondelete="CASCADE"), index=True)
    series_instance_uid: Mapped[str] = mapped_column(String(64), unique=True)
    modality: Mapped[str] = mapped_column(String(16))
    phase: Mapped[ContrastPhase] = mapped_column(
        coded(ContrastPhase, "phase"), default=ContrastPhase.UNKNOWN
    )
    acquisition_date: Mapped[dt.date | None] = mapped_column(Date)
    manufacturer: Mapped[str | None] = mapped_column(String(120))
    kvp: Mapped[float | None] = mapped_column(Float)
    slice_thickness_mm: Mapped[float | None] = mapped_column(Float)
    spacing_mm: Mapped[list[Any]] = mapped_column(JSON)
    shape: Mapped[list[Any]] = mapped_column(JSON)
    orientation: Mapped[list[Any]] = mapped_column(JSON)
    volume_path: Mapped[str] = mapped_column(String(500))
    volume_sha256: Mapped[str] = mapped_column(String(64))

    study: Mapped[Study] = relationship(back_populates="series")
    segmentations: Mapped[list[Segmentation]] = relationship(
        back_populates="series", cascade="all, delete-orphan", passive_deletes=True
    )


class Segmentation(Base):
    __tablename__ = "segmentations"
    __table_args__ = (
        CheckConstraint("volume_ml IS NULL OR volume_ml >= 0", name="volume_nonnegative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    series_id: Mapped[int] = mapped_column(ForeignKey("series.id", ondelete="CASCADE"), index=True)
    label: Mapped[str] = mapped_column(String(80))
    source: Mapped[SegmentationSource] = mapped_column(coded(SegmentationSource, "seg_source"))
    volume_ml: Mapped[float | None] = mapped_column(Float)
    path: Mapped[str] = mapped_column(String(500))
    sha256: Mapped[str] = mapped_column(String(64))
    lesion_id: Mapped[int | None] = mapped_column(
        ForeignKey("lesions.id", ondelete="SET NULL"),
        index=True,
        comment="the tracked lesion this mask outlines (follow-up imaging)",
    )
    created_by: Mapped[str | None] = mapped_column(
        String(120), comment="the account that drew or grew it (none for imported masks)"
    )
    created_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), default=_now)

    series: Mapped[Series] = relationship(back_populates="segmentations")


class TreatmentLine(Base):
    """One line of systemic therapy: drug, daily dose, start and stop."""

    __tablename__ = "treatment_lines"
    __table_args__ = (
        UniqueConstraint("patient_id", "line"),
        CheckConstraint("line >= 1", name="line_positive"),
        CheckConstraint("dose_mg_per_day IS NULL OR dose_mg_per_day > 0", name="dose_positive"),
        CheckConstraint("stop_date IS NULL OR stop_date >= start_date", name="stops_after_start"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(
        ForeignKey("patients.id", ondelete="CASCADE"), index=True
    )
    line: Mapped[int] = mapped_column(SmallInteger)
    drug: Mapped[Drug] = mapped_column(coded(Drug, "drug"))
    dose_mg_per_day: Mapped[float | None] = mapped_column(Float)
    start_date: Mapped[dt.date] = mapped_column(Date)
    stop_date: Mapped[dt.date | None] = mapped_column(Date)
    stop_reason: Mapped[str | None] = mapped_column(String(200))


class Timepoint(Base):
    """One imaging timepoint of a patient: a study, dated relative to the treatment start."""

    __tablename__ = "timepoints"
    __table_args__ = (
        UniqueConstraint("patient_id", "study_id"),
        UniqueConstraint("patient_id", "number"),
        CheckConstraint("number >= 0", name="number_nonnegative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(
        ForeignKey("patients.id", ondelete="CASCADE"), index=True
    )
    study_id: Mapped[int] = mapped_column(ForeignKey("studies.id", ondelete="CASCADE"))
    number: Mapped[int] = mapped_column(SmallInteger, comment="0 = baseline, then in date order")
    study_date: Mapped[dt.date] = mapped_column(Date)
    days_from_treatment_start: Mapped[int | None] = mapped_column(
        Integer, comment="negative before the start; none when untreated"
    )


class Lesion(Base):
    """A lesion tracked across a patient's timepoints."""

    __tablename__ = "lesions"
    __table_args__ = (
        UniqueConstraint("patient_id", "number"),
        CheckConstraint("number >= 1", name="number_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(
        ForeignKey("patients.id", ondelete="CASCADE"), index=True
    )
    number: Mapped[int] = mapped_column(SmallInteger)
    organ: Mapped[LesionOrgan] = mapped_column(coded(LesionOrgan, "lesion_organ"))
    role: Mapped[LesionRole] = mapped_column(coded(LesionRole, "lesion_role"))
    is_node: Mapped[bool] = mapped_column(Boolean, default=False)
    first_timepoint_id: Mapped[int | None] = mapped_column(
        ForeignKey("timepoints.id", ondelete="CASCADE"), comment="where it was first seen"
    )


class LesionMeasurement(Base):
    """A lesion measured at one timepoint, automatically or by a reader (both kept)."""

    __tablename__ = "lesion_measurements"
    __table_args__ = (
        UniqueConstraint("lesion_id", "timepoint_id", "source"),
        CheckConstraint(
            "longest_diameter_mm IS NULL OR longest_diameter_mm >= 0", name="diameter_nonneg"
        ),
        CheckConstraint("short_axis_mm IS NULL OR short_axis_mm >= 0", name="short_axis_nonneg"),
        CheckConstraint("volume_ml IS NULL OR volume_ml >= 0", name="volume_nonneg"),
        CheckConstraint("source = 'automatic' OR reason IS NOT NULL", name="reader_gives_reason"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    lesion_id: Mapped[int] = mapped_column(ForeignKey("lesions.id", ondelete="CASCADE"), index=True)
    timepoint_id: Mapped[int] = mapped_column(
        ForeignKey("timepoints.id", ondelete="CASCADE"), index=True
    )
    segmentation_id: Mapped[int | None] = mapped_column(
        ForeignKey("segmentations.id", ondelete="SET NULL")
    )
    longest_diameter_mm: Mapped[float | None] = mapped_column(
        Float, comment="longest axial diameter (RECIST 1.1)"
    )
    short_axis_mm: Mapped[float | None] = mapped_column(Float, comment="nodes: short axis")
    volume_ml: Mapped[float | None] = mapped_column(Float)
    mean_hu: Mapped[float | None] = mapped_column(Float, comment="whole lesion (Choi density)")
    solid_mean_hu: Mapped[float | None] = mapped_column(Float, comment="its solid part")
    source: Mapped[MeasurementSource] = mapped_column(
        coded(MeasurementSource, "measurement_source")
    )
    measured_by: Mapped[str] = mapped_column(String(120))
    measured_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=_now)
    reason: Mapped[str | None] = mapped_column(Text, comment="why a reader overrode it")


class ResponseAssessment(Base):
    """A timepoint's response category by one set of criteria, automatic or by a reader."""

    __tablename__ = "response_assessments"
    __table_args__ = (
        UniqueConstraint("timepoint_id", "criteria", "source"),
        CheckConstraint(
            "source = 'automatic' OR override_reason IS NOT NULL", name="reader_gives_reason"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    timepoint_id: Mapped[int] = mapped_column(
        ForeignKey("timepoints.id", ondelete="CASCADE"), index=True
    )
    criteria: Mapped[ResponseCriteria] = mapped_column(coded(ResponseCriteria, "criteria"))
    category: Mapped[ResponseCategory] = mapped_column(coded(ResponseCategory, "response_category"))
    reason: Mapped[str] = mapped_column(Text, comment='what decided it, e.g. "density -22 %"')
    source: Mapped[MeasurementSource] = mapped_column(coded(MeasurementSource, "assessment_source"))
    assessed_by: Mapped[str] = mapped_column(String(120))
    assessed_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=_now)
    override_reason: Mapped[str | None] = mapped_column(Text)


class ModelVersion(Base):
    __tablename__ = "model_versions"
    __table_args__ = (UniqueConstraint("name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    kind: Mapped[ModelKind] = mapped_column(coded(ModelKind, "model_kind"))
    target: Mapped[str] = mapped_column(String(40))
    parameters: Mapped[dict[str, Any]] = mapped_column(default=dict)
    training_fingerprint: Mapped[str | None] = mapped_column(String(64))
    metrics: Mapped[dict[str, Any]] = mapped_column(default=dict)
    weights_path: Mapped[str | None] = mapped_column(String(500))
    weights_sha256: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=_now)


#: per genotype class (a :class:`~gistcad.domain.GenotypeClass` value, as a prediction's
#: ``probabilities`` names it), the column of ``predictions`` that holds its probability
PROBABILITY_COLUMNS: dict[str, str] = {c.value: f"p_{c.value}" for c in GenotypeClass}
_PROBABILITY_COMMENT = "copy of the class probability in probabilities; null when it has none"


def probability_columns(probabilities: dict[str, Any]) -> dict[str, float | None]:
    """The values of :data:`PROBABILITY_COLUMNS` for a prediction's ``probabilities``: the
    class's probability as a float, None for a class the prediction does not carry.

    >>> probability_columns({"not_kit11": 0.25, "kit11": 0.75})["p_kit11"]
    0.75
    """
    return {
        column: None if probabilities.get(name) is None else float(probabilities[name])
        for name, column in PROBABILITY_COLUMNS.items()
    }


class Prediction(Base):
    __tablename__ = "predictions"
    __table_args__ = (
        UniqueConstraint("model_version_id", "patient_id", "series_id"),
        # a patient's prediction from one model: the cohort filter's EXISTS test
        Index("ix_predictions_patient_model", "patient_id", "model_version_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(
        ForeignKey("patients.id", ondelete="CASCADE"), index=True
    )
    series_id: Mapped[int | None] = mapped_column(ForeignKey("series.id", ondelete="CASCADE"))
    model_version_id: Mapped[int] = mapped_column(
        ForeignKey("model_versions.id", ondelete="RESTRICT"), index=True
    )
    probabilities: Mapped[dict[str, Any]] = mapped_column(
        comment="class name -> probability; sums to 1"
    )
    predicted_class: Mapped[str] = mapped_column(String(40))
    risk_score: Mapped[float | None] = mapped_column(Float)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=_now)
    # the genotype class probabilities of ``probabilities`` as numbers, filled on write (see
    # PROBABILITY_COLUMNS): a large cohort is grouped by predicted status without parsing JSON
    p_kit11: Mapped[float | None] = mapped_column(Float, comment=_PROBABILITY_COMMENT)
    p_kit9: Mapped[float | None] = mapped_column(Float, comment=_PROBABILITY_COMMENT)
    p_pdgfra: Mapped[float | None] = mapped_column(Float, comment=_PROBABILITY_COMMENT)
    p_wt_other: Mapped[float | None] = mapped_column(Float, comment=_PROBABILITY_COMMENT)

    @validates("probabilities")
    def _fill_probability_columns(self, _key: str, value: dict[str, Any]) -> dict[str, Any]:
        """Copy the genotype class probabilities into their columns as they are written."""
        for column, number in probability_columns(value).items():
            setattr(self, column, number)
        return value


class Job(Base):
    __tablename__ = "jobs"
    __table_args__ = (CheckConstraint("progress >= 0 AND progress <= 1", name="progress_range"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(40))
    parameters: Mapped[dict[str, Any]] = mapped_column(default=dict)
    status: Mapped[JobStatus] = mapped_column(
        coded(JobStatus, "job_status"), default=JobStatus.QUEUED
    )
    progress: Mapped[float] = mapped_column(Float, default=0.0)
    message: Mapped[str | None] = mapped_column(Text)
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=_now)
    started_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    submitted_by: Mapped[str | None] = mapped_column(
        String(120), comment="account that started the job; NULL: the operator"
    )
    center_ids: Mapped[list[Any] | None] = mapped_column(
        comment="centers the job may read and write; NULL: every center"
    )


class AuditEvent(Base):
    """Who did what to which patient, model or account, and when.

    Append-only: the application has no update or delete path, and the migration adds
    database triggers that refuse UPDATE and DELETE on this table.
    """

    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    actor: Mapped[str] = mapped_column(String(120), index=True)
    action: Mapped[str] = mapped_column(String(60), index=True)
    target: Mapped[str | None] = mapped_column(String(200))
    target_kind: Mapped[str | None] = mapped_column(
        String(20), comment="patient, model, user, job, import or export"
    )
    detail: Mapped[dict[str, Any] | None] = mapped_column()
    at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), default=_now, server_default=func.now(), index=True
    )


user_centers = Table(
    "user_centers",
    Base.metadata,
    Column("user_id", ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("center_id", ForeignKey("centers.id", ondelete="CASCADE"), primary_key=True),
)


class User(Base):
    """A local dashboard account: role, centers, password hash and login throttling state."""

    __tablename__ = "users"
    __table_args__ = (CheckConstraint("failed_logins >= 0", name="failed_logins_nonneg"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(80), unique=True)
    role: Mapped[Role] = mapped_column(coded(Role, "role"))
    password_hash: Mapped[str] = mapped_column(String(255))
    must_change_password: Mapped[bool] = mapped_column(Boolean, default=True)
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=_now)
    last_login_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    password_changed_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))

    centers: Mapped[list[Center]] = relationship(secondary=user_centers, lazy="selectin")


class PseudonymLink(Base):
    """Pseudonym → the center's original patient id; written only when the user asks.

    This is the import's own re-identification table: no page and no query of
    :mod:`gistcad.store.queries` reads it.
    """

    __tablename__ = "pseudonym_links"

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(
        ForeignKey("patients.id", ondelete="CASCADE"), unique=True
    )
    original_id: Mapped[str] = mapped_column(String(120))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=_now)


def _out_of_bounds(column: Column[Any], value: object) -> str | None:
    """Why ``value`` does not fit ``column`` on every backend, or ``None`` when it does."""
    kind = column.type
    if isinstance(kind, String) and isinstance(value, str):
        if kind.length is not None and len(value) > kind.length:
            return f"{len(value)} characters, at most {kind.length} are stored"
        return None
    if isinstance(kind, Integer) and isinstance(value, int):
        limit = 2**15 - 1 if isinstance(kind, SmallInteger) else MAX_RECORD_ID
        if not -limit - 1 <= value <= limit:
            return f"{value} is outside the range stored ({-limit - 1} to {limit})"
    return None


@event.listens_for(Session, "before_flush")
def _check_bounds(session: Session, _context: Any, _instances: Any) -> None:
    """Refuse, identically on SQLite and PostgreSQL, a value the schema cannot hold.

    PostgreSQL refuses a string longer than its VARCHAR or an int4 overflow; SQLite stores
    either silently. The importers and commands validate their inputs with messages that name
    the file, row or option; this is the last guard, for whatever they missed.
    """
    for obj in (*session.new, *session.dirty):
        mapper = inspect(obj).mapper
        for prop in mapper.column_attrs:
            column = prop.columns[0]
            if not isinstance(column, Column):
                continue
            reason = _out_of_bounds(column, getattr(obj, prop.key))
            if reason is not None:
                raise ValidationError(
                    f"{mapper.local_table.name}.{column.name}: {reason}; shorten or correct "
                    "the value"
                )

"""Read functions of the store: a session and an access scope in, data frames out.

Every function here filters through :class:`~gistcad.store.scope.AccessScope`, so a caller
restricted to some centers never sees a row, a count or an aggregate of another center. The
functions never commit; the caller owns the session.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeAlias

import pandas as pd
from sqlalchemy import Select, and_, exists, func, select
from sqlalchemy.orm import Session

from gistcad.domain import GenotypeDetail, GenotypeGroup, SegmentationSource, Sex, Site
from gistcad.errors import NotFoundError, ValidationError
from gistcad.store.models import (
    Center,
    Job,
    ModelVersion,
    Outcome,
    Patient,
    Prediction,
    Segmentation,
    Series,
    Study,
    Treatment,
    Tumour,
)
from gistcad.store.scope import AccessScope

AnySelect: TypeAlias = Select[*tuple[Any, ...]]

COHORT_COLUMNS = [
    "patient_id",
    "pseudonym",
    "center",
    "sex",
    "age_at_diagnosis",
    "split",
    "fold",
    "site",
    "sub_site",
    "size_cm",
    "mitotic_count",
    "mitotic_unit",
    "rupture",
    "histology",
    "genotype_detail",
    "genotype_group",
    "adjuvant_imatinib",
    "rfs_months",
    "rfs_event",
    "os_months",
    "os_event",
    "n_series",
]


@dataclass(frozen=True)
class CohortCounts:
    """How much the store holds, within the caller's scope (models are shared)."""

    patients: int
    centers: int
    series: int
    models: int

    @property
    def is_empty(self) -> bool:
        return self.patients == 0


@dataclass(frozen=True)
class CohortFilter:
    """Filters of the cohort table; empty collections and ``None`` mean "no filter"."""

    centers: frozenset[str] = frozenset()
    sites: frozenset[Site] = frozenset()
    genotype_groups: frozenset[GenotypeGroup] = frozenset()
    sexes: frozenset[Sex] = frozenset()
    age_range: tuple[float, float] | None = None
    size_range_cm: tuple[float, float] | None = None
    min_follow_up_months: float | None = None
    has_scan: bool | None = None
    has_prediction_from: int | None = field(default=None)  # a model version id

    def to_query(self) -> dict[str, str]:
        """The filter as URL query parameters (only those that filter), for a shareable link."""
        query: dict[str, str] = {}
        for name in ("centers", "sites", "genotype_groups", "sexes"):
            values = getattr(self, name)
            if values:
                query[name] = ",".join(sorted(str(v) for v in values))
        for name in ("age_range", "size_range_cm"):
            bounds = getattr(self, name)
            if bounds is not None:
                query[name] = f"{bounds[0]:g}-{bounds[1]:g}"
        if self.min_follow_up_months is not None:
            query["min_follow_up_months"] = f"{self.min_follow_up_months:g}"
        if self.has_scan is not None:
            query["has_scan"] = "yes" if self.has_scan else "no"
        if self.has_prediction_from is not None:
            query["has_prediction_from"] = str(self.has_prediction_from)
        return query

    @classmethod
    def from_query(cls, query: Mapping[str, str]) -> CohortFilter:
        """Read :meth:`to_query`'s parameters back; unknown or malformed ones raise."""
        try:
            return cls(
                centers=_split(query.get("centers"), str),
                sites=_split(query.get("sites"), Site),
                genotype_groups=_split(query.get("genotype_groups"), GenotypeGroup),
                sexes=_split(query.get("sexes"), Sex),
                age_range=_bounds(query.get("age_range")),
                size_range_cm=_bounds(query.get("size_range_cm")),
                min_follow_up_months=_number(query.get("min_follow_up_months")),
                has_scan={"yes": True, "no": False, None: None}[query.get("has_scan")],
                has_prediction_from=(
                    int(query["has_prediction_from"]) if query.get("has_prediction_from") else None
                ),
            )
        except (ValueError, KeyError) as exc:
            raise ValidationError(
                f"the link's cohort filter is malformed ({exc}); clear the filters and set them "
                "again"
            ) from None


def _split(text: str | None, kind: Callable[[str], Any]) -> frozenset[Any]:
    return frozenset(kind(v) for v in text.split(",") if v) if text else frozenset()


def _bounds(text: str | None) -> tuple[float, float] | None:
    if not text:
        return None
    low, high = (float(v) for v in text.split("-", 1))
    return (low, high)


def _number(text: str | None) -> float | None:
    return float(text) if text else None


def cohort_counts(session: Session, scope: AccessScope) -> CohortCounts:
    """Patients, centers and series visible in ``scope``, and all model versions."""
    patients = session.scalar(select(func.count(Patient.id)).where(scope.clause(Patient.center_id)))
    centers = session.scalar(select(func.count(Center.id)).where(scope.clause(Center.id)))
    series = session.scalar(
        select(func.count(Series.id))
        .join(Study, Series.study_id == Study.id)
        .join(Patient, Study.patient_id == Patient.id)
        .where(scope.clause(Patient.center_id))
    )
    models = session.scalar(select(func.count(ModelVersion.id)))
    return CohortCounts(
        patients=patients or 0, centers=centers or 0, series=series or 0, models=models or 0
    )


def list_centers(session: Session, scope: AccessScope) -> pd.DataFrame:
    """Centers in scope with their patient counts."""
    stmt = (
        select(
            Center.id.label("center_id"),
            Center.name.label("center"),
            Center.country,
            Center.scanner_notes,
            func.count(Patient.id).label("patients"),
        )
        .outerjoin(Patient, Patient.center_id == Center.id)
        .where(scope.clause(Center.id))
        .group_by(Center.id, Center.name, Center.country, Center.scanner_notes)
        .order_by(Center.name)
    )
    return _frame(session, stmt)


def _series_count() -> Any:
    return (
        select(func.count(Series.id))
        .join(Study, Series.study_id == Study.id)
        .where(Study.patient_id == Patient.id)
        .correlate(Patient)
        .scalar_subquery()
    )


def _cohort_select() -> AnySelect:
    return (
        select(
            Patient.id.label("patient_id"),
            Patient.pseudonym,
            Center.name.label("center"),
            Patient.sex,
            Patient.age_at_diagnosis,
            Patient.split,
            Patient.fold,
            Tumour.site,
            Tumour.sub_site,
            Tumour.size_cm,
            Tumour.mitotic_count,
            Tumour.mitotic_unit,
            Tumour.rupture,
            Tumour.histology,
            Tumour.genotype_detail,
            Treatment.adjuvant_imatinib,
            Outcome.rfs_months,
            Outcome.rfs_event,
            Outcome.os_months,
            Outcome.os_event,
            _series_count().label("n_series"),
        )
        .join(Center, Patient.center_id == Center.id)
        .outerjoin(Tumour, and_(Tumour.patient_id == Patient.id, Tumour.lesion == 1))
        .outerjoin(Treatment, Treatment.patient_id == Patient.id)
        .outerjoin(Outcome, Outcome.patient_id == Patient.id)
    )


def _apply_filter(stmt: AnySelect, flt: CohortFilter) -> AnySelect:
    if flt.centers:
        stmt = stmt.where(Center.name.in_(sorted(flt.centers)))
    if flt.sites:
        stmt = stmt.where(Tumour.site.in_(sorted(flt.sites)))
    if flt.genotype_groups:
        details = [d for d in GenotypeDetail if d.group in flt.genotype_groups]
        stmt = stmt.where(Tumour.genotype_detail.in_(details))
    if flt.sexes:
        stmt = stmt.where(Patient.sex.in_(sorted(flt.sexes)))
    if flt.age_range is not None:
        stmt = stmt.where(Patient.age_at_diagnosis.between(*flt.age_range))
    if flt.size_range_cm is not None:
        stmt = stmt.where(Tumour.size_cm.between(*flt.size_range_cm))
    if flt.min_follow_up_months is not None:
        stmt = stmt.where(Outcome.os_months >= flt.min_follow_up_months)
    if flt.has_scan is not None:
        has = exists().where(Study.patient_id == Patient.id)
        stmt = stmt.where(has if flt.has_scan else ~has)
    if flt.has_prediction_from is not None:
        stmt = stmt.where(
            exists().where(
                Prediction.patient_id == Patient.id,
                Prediction.model_version_id == flt.has_prediction_from,
            )
        )
    return stmt


def cohort_table(
    session: Session, scope: AccessScope, flt: CohortFilter | None = None
) -> pd.DataFrame:
    """One row per patient in scope (primary tumour, treatment, outcome), filtered.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`COHORT_COLUMNS`; coded values as their string values; sizes in cm,
        times in months, event flags 0/1 (nullable).
    """
    stmt = _cohort_select().where(scope.clause(Patient.center_id))
    if flt is not None:
        stmt = _apply_filter(stmt, flt)
    stmt = stmt.order_by(Center.name, Patient.pseudonym)
    frame = _frame(session, stmt, [c for c in COHORT_COLUMNS if c != "genotype_group"])
    frame["genotype_group"] = [
        GenotypeDetail(d).group.value if d is not None else None for d in frame["genotype_detail"]
    ]
    return frame[COHORT_COLUMNS]


@dataclass(frozen=True)
class PatientRecord:
    """One patient as the case view shows it (primary tumour first)."""

    patient_id: int
    pseudonym: str
    center: str
    sex: str | None
    age_at_diagnosis: float | None
    tumours: pd.DataFrame
    treatment: dict[str, Any] | None
    outcome: dict[str, Any] | None


def patient_record(session: Session, scope: AccessScope, pseudonym: str) -> PatientRecord:
    """The record of the patient called ``pseudonym`` in scope.

    Raises
    ------
    NotFoundError
        When no patient in scope has that pseudonym (a patient of another center is
        reported exactly like a missing one).
    """
    rows = session.execute(
        select(Patient, Center.name)
        .join(Center, Patient.center_id == Center.id)
        .where(Patient.pseudonym == pseudonym, scope.clause(Patient.center_id))
    ).all()
    if not rows:
        raise NotFoundError(f"no patient with pseudonym {pseudonym!r} in your scope")
    if len(rows) > 1:
        raise NotFoundError(
            f"pseudonym {pseudonym!r} exists in several centers "
            f"({', '.join(sorted(r[1] for r in rows))}); filter by center"
        )
    patient, center = rows[0]
    tumours = pd.DataFrame(
        [
            {c.key: getattr(t, c.key) for c in Tumour.__table__.columns}
            for t in sorted(patient.tumours, key=lambda t: t.lesion)
        ],
        columns=[c.key for c in Tumour.__table__.columns],
    )
    return PatientRecord(
        patient_id=patient.id,
        pseudonym=patient.pseudonym,
        center=center,
        sex=patient.sex,
        age_at_diagnosis=patient.age_at_diagnosis,
        tumours=tumours,
        treatment=_row_dict(patient.treatment),
        outcome=_row_dict(patient.outcome),
    )


def patient_series(session: Session, scope: AccessScope, patient_id: int) -> pd.DataFrame:
    """The image series of one patient in scope, newest first (empty if out of scope)."""
    stmt = (
        select(
            Series.id.label("series_id"),
            Series.series_instance_uid,
            Study.study_instance_uid,
            Series.modality,
            Series.phase,
            Series.acquisition_date,
            Series.manufacturer,
            Series.kvp,
            Series.slice_thickness_mm,
            Series.spacing_mm,
            Series.shape,
            Series.volume_path,
            Series.volume_sha256,
        )
        .join(Study, Series.study_id == Study.id)
        .join(Patient, Study.patient_id == Patient.id)
        .where(Patient.id == patient_id, scope.clause(Patient.center_id))
        .order_by(Series.acquisition_date.desc(), Series.id)
    )
    return _frame(session, stmt)


def list_model_versions(session: Session) -> pd.DataFrame:
    """All model versions, newest first (model versions are not center data)."""
    stmt = select(
        ModelVersion.id.label("model_version_id"),
        ModelVersion.name,
        ModelVersion.kind,
        ModelVersion.target,
        ModelVersion.created_at,
        ModelVersion.weights_sha256,
    ).order_by(ModelVersion.created_at.desc(), ModelVersion.id.desc())
    return _frame(session, stmt)


def model_predictions(session: Session, scope: AccessScope, model_version_id: int) -> pd.DataFrame:
    """Predictions of one model version for the patients in scope."""
    stmt = (
        select(
            Prediction.id.label("prediction_id"),
            Patient.id.label("patient_id"),
            Patient.pseudonym,
            Center.name.label("center"),
            Prediction.series_id,
            Prediction.probabilities,
            Prediction.predicted_class,
            Prediction.risk_score,
            Prediction.created_at,
        )
        .join(Patient, Prediction.patient_id == Patient.id)
        .join(Center, Patient.center_id == Center.id)
        .where(Prediction.model_version_id == model_version_id, scope.clause(Patient.center_id))
        .order_by(Center.name, Patient.pseudonym)
    )
    return _frame(session, stmt)


def _frame(session: Session, stmt: AnySelect, columns: list[str] | None = None) -> pd.DataFrame:
    """The statement's rows as a frame; column names from the select's labels by default."""
    names = columns or [str(c.key) for c in stmt.selected_columns]
    rows = session.execute(stmt).all()
    data = [[_plain(v) for v in row] for row in rows]
    return pd.DataFrame(data, columns=names)


def _plain(value: Any) -> Any:
    """Enum members as their string values, everything else unchanged."""
    return value.value if hasattr(value, "value") and isinstance(value.value, str) else value


def _row_dict(row: Any) -> dict[str, Any] | None:
    if row is None:
        return None
    return {
        c.key: _plain(getattr(row, c.key))
        for c in row.__table__.columns
        if c.key not in ("id", "patient_id")
    }


def find_model_version(session: Session, key: str) -> tuple[int, str]:
    """The (id, name) of the model version whose id or name is ``key``.

    Raises
    ------
    NotFoundError
        With the names of the model versions that do exist.
    """
    clause = ModelVersion.name == key
    if key.isdigit():
        clause = clause | (ModelVersion.id == int(key))
    row = session.execute(select(ModelVersion.id, ModelVersion.name).where(clause)).first()
    if row is None:
        names = session.scalars(select(ModelVersion.name).order_by(ModelVersion.name)).all()
        known = ", ".join(names) if names else "none yet: train one first"
        raise NotFoundError(f"no model version {key!r}; known model versions: {known}")
    return int(row[0]), str(row[1])


def patient_predictions(session: Session, scope: AccessScope, patient_id: int) -> pd.DataFrame:
    """Every prediction for one patient in scope, newest first, with its model version."""
    stmt = (
        select(
            ModelVersion.id.label("model_version_id"),
            ModelVersion.name.label("model"),
            ModelVersion.kind,
            ModelVersion.created_at.label("model_created_at"),
            Prediction.series_id,
            Prediction.probabilities,
            Prediction.predicted_class,
            Prediction.risk_score,
            Prediction.created_at,
        )
        .join(ModelVersion, Prediction.model_version_id == ModelVersion.id)
        .join(Patient, Prediction.patient_id == Patient.id)
        .where(Patient.id == patient_id, scope.clause(Patient.center_id))
        .order_by(Prediction.created_at.desc(), Prediction.id.desc())
    )
    return _frame(session, stmt)


def find_pseudonyms(session: Session, scope: AccessScope, text: str, limit: int = 50) -> list[str]:
    """Pseudonyms in scope that contain ``text`` (case-insensitive), sorted."""
    stmt = (
        select(Patient.pseudonym)
        .where(scope.clause(Patient.center_id), Patient.pseudonym.ilike(f"%{text.strip()}%"))
        .order_by(Patient.pseudonym)
        .limit(limit)
    )
    return list(session.scalars(stmt).all())


MODELLING_COLUMNS = [
    "patient_id",
    "pseudonym",
    "center",
    "sex",
    "age_at_diagnosis",
    "site",
    "size_cm",
    "mitotic_count",
    "mitotic_unit",
    "rupture",
    "genotype_detail",
    "rfs_months",
    "rfs_event",
    "series_id",
    "volume_path",
    "volume_sha256",
    "mask_path",
    "mask_sha256",
]


def modelling_table(session: Session, scope: AccessScope) -> pd.DataFrame:
    """One row per patient in scope with a CT series: clinical columns, image and mask files.

    Per patient the first CT series (lowest id) and its first manual segmentation are used;
    ``mask_path`` is missing when the series has no manual segmentation. Paths are relative to
    the data folder.
    """
    first_series = (
        select(Study.patient_id, func.min(Series.id).label("series_id"))
        .join(Series, Series.study_id == Study.id)
        .where(Series.modality == "CT")
        .group_by(Study.patient_id)
        .subquery()
    )
    first_mask = (
        select(Segmentation.series_id, func.min(Segmentation.id).label("segmentation_id"))
        .where(Segmentation.source == SegmentationSource.MANUAL)
        .group_by(Segmentation.series_id)
        .subquery()
    )
    stmt = (
        select(
            Patient.id,
            Patient.pseudonym,
            Center.name,
            Patient.sex,
            Patient.age_at_diagnosis,
            Tumour.site,
            Tumour.size_cm,
            Tumour.mitotic_count,
            Tumour.mitotic_unit,
            Tumour.rupture,
            Tumour.genotype_detail,
            Outcome.rfs_months,
            Outcome.rfs_event,
            Series.id,
            Series.volume_path,
            Series.volume_sha256,
            Segmentation.path,
            Segmentation.sha256,
        )
        .join(Center, Patient.center_id == Center.id)
        .join(first_series, first_series.c.patient_id == Patient.id)
        .join(Series, Series.id == first_series.c.series_id)
        .outerjoin(first_mask, first_mask.c.series_id == Series.id)
        .outerjoin(Segmentation, Segmentation.id == first_mask.c.segmentation_id)
        .outerjoin(Tumour, and_(Tumour.patient_id == Patient.id, Tumour.lesion == 1))
        .outerjoin(Outcome, Outcome.patient_id == Patient.id)
        .where(scope.clause(Patient.center_id))
        .order_by(Center.name, Patient.pseudonym)
    )
    return _frame(session, stmt, MODELLING_COLUMNS)


@dataclass(frozen=True)
class ModelVersionDetail:
    """A model version as the performance page shows it (out-of-fold rows in scope only)."""

    model_version_id: int
    name: str
    kind: str
    target: str
    created_at: Any
    parameters: dict[str, Any]
    card: str
    oof: pd.DataFrame
    n_patients: int


def model_version_detail(
    session: Session, scope: AccessScope, model_version_id: int
) -> ModelVersionDetail:
    """One model version; its out-of-fold predictions limited to the centers in scope."""
    version = session.get(ModelVersion, model_version_id)
    if version is None:
        raise NotFoundError(f"no model version with id {model_version_id}")
    oof = pd.DataFrame(version.metrics.get("oof", []))
    if not scope.is_unrestricted and not oof.empty:
        allowed = set(session.scalars(select(Center.name).where(scope.clause(Center.id))).all())
        oof = oof[oof["center"].isin(allowed)].reset_index(drop=True)
    return ModelVersionDetail(
        model_version_id=version.id,
        name=version.name,
        kind=_plain(version.kind),
        target=version.target,
        created_at=version.created_at,
        parameters=dict(version.parameters),
        card=str(version.metrics.get("card", "")),
        oof=oof,
        n_patients=int(version.metrics.get("n_patients", 0)),
    )


def series_segmentations(session: Session, scope: AccessScope, series_id: int) -> pd.DataFrame:
    """The segmentations of one series in scope (empty when out of scope)."""
    stmt = (
        select(
            Segmentation.id.label("segmentation_id"),
            Segmentation.label,
            Segmentation.source,
            Segmentation.volume_ml,
            Segmentation.path,
            Segmentation.sha256,
        )
        .join(Series, Segmentation.series_id == Series.id)
        .join(Study, Series.study_id == Study.id)
        .join(Patient, Study.patient_id == Patient.id)
        .where(Series.id == series_id, scope.clause(Patient.center_id))
        .order_by(Segmentation.id)
    )
    return _frame(session, stmt)


def list_jobs(session: Session, limit: int = 50) -> pd.DataFrame:
    """The newest jobs first."""
    stmt = (
        select(
            Job.id.label("job_id"),
            Job.kind,
            Job.status,
            Job.progress,
            Job.message,
            Job.error,
            Job.parameters,
            Job.created_at,
            Job.started_at,
            Job.finished_at,
        )
        .order_by(Job.id.desc())
        .limit(limit)
    )
    return _frame(session, stmt)

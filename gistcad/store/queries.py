"""Read functions of the store: a session and an access scope in, data frames out.

Every function here filters through :class:`~gistcad.store.scope.AccessScope`, so a caller
restricted to some centers never sees a row, a count or an aggregate of another center. The
functions never commit; the caller owns the session.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
from sqlalchemy import and_, exists, func, select, text
from sqlalchemy.orm import Session

from gistcad.analysis.grouping import RISK_INPUTS, risk_classes
from gistcad.domain import (
    REFERENCE_OUTLINES,
    RISK_UNKNOWN,
    GenotypeDetail,
    GenotypeGroup,
    Permission,
    RiskClass,
    RiskScheme,
    Sex,
    Site,
    parse_risk_choice,
)
from gistcad.errors import NotFoundError, ValidationError
from gistcad.store import audit
from gistcad.store.cohort_columns import cohort_column_expressions
from gistcad.store.frames import AnySelect, frame, plain
from gistcad.store.model_queries import patient_predictions
from gistcad.store.models import (
    Center,
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

#: A case reopened by the same user within this window is not recorded again.
CASE_VIEW_WINDOW = dt.timedelta(minutes=10)

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
    "neoadjuvant_imatinib",
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
    """Filters of the cohort table; empty collections and ``None`` mean "no filter".

    ``risk_classes`` keeps the patients whose primary tumour has one of these classes under
    ``risk_scheme`` (``None`` among them: the tumours that cannot be classified); the scheme
    alone filters nothing.
    """

    centers: frozenset[str] = frozenset()
    sites: frozenset[Site] = frozenset()
    genotype_groups: frozenset[GenotypeGroup] = frozenset()
    sexes: frozenset[Sex] = frozenset()
    age_range: tuple[float, float] | None = None
    size_range_cm: tuple[float, float] | None = None
    min_follow_up_months: float | None = None
    has_scan: bool | None = None
    has_prediction_from: int | None = field(default=None)  # a model version id
    risk_scheme: RiskScheme = RiskScheme.MODIFIED_NIH_2008
    risk_classes: frozenset[RiskClass | None] = frozenset()

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
        if self.risk_classes:
            query["risk_scheme"] = self.risk_scheme.value
            query["risk"] = ",".join(
                sorted(RISK_UNKNOWN if c is None else c.value for c in self.risk_classes)
            )
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
                risk_scheme=RiskScheme(query.get("risk_scheme") or RiskScheme.MODIFIED_NIH_2008),
                risk_classes=_split(query.get("risk"), parse_risk_choice),
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
    return frame(session, stmt)


def center_names(session: Session, scope: AccessScope) -> list[str]:
    """The names of the centers in scope, sorted: what a filter offers (without counting
    each center's patients, as :func:`list_centers` does)."""
    return list(
        session.scalars(select(Center.name).where(scope.clause(Center.id)).order_by(Center.name))
    )


def _series_counts() -> Any:
    """Series per patient, one aggregate joined once (not a subquery per patient)."""
    return (
        select(Study.patient_id.label("patient_id"), func.count(Series.id).label("n"))
        .join(Series, Series.study_id == Study.id)
        .group_by(Study.patient_id)
        .subquery("series_counts")
    )


def _cohort_select(names: list[str]) -> AnySelect:
    """The cohort's joins, selecting ``names`` (stored columns and ``n_series``) only."""
    available = cohort_column_expressions()
    counts = _series_counts() if "n_series" in names else None
    selected = [
        func.coalesce(counts.c.n, 0).label("n_series")
        if name == "n_series" and counts is not None
        else available[name]
        for name in names
    ]
    stmt = (
        select(*selected)
        .select_from(Patient)
        .join(Center, Patient.center_id == Center.id)
        .outerjoin(Tumour, and_(Tumour.patient_id == Patient.id, Tumour.lesion == 1))
        .outerjoin(Treatment, Treatment.patient_id == Patient.id)
        .outerjoin(Outcome, Outcome.patient_id == Patient.id)
    )
    if counts is not None:
        stmt = stmt.outerjoin(counts, counts.c.patient_id == Patient.id)
    return stmt


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
    session: Session,
    scope: AccessScope,
    flt: CohortFilter | None = None,
    *,
    columns: Sequence[str] | None = None,
    ordered: bool = True,
) -> pd.DataFrame:
    """One row per patient in scope (primary tumour, treatment, outcome), filtered.

    The risk classes of ``flt`` are computed from each primary tumour's site, size and
    mitoses (:func:`~gistcad.analysis.grouping.risk_classes`), not stored.

    Parameters
    ----------
    columns
        Only these of :data:`COHORT_COLUMNS` (``patient_id`` always comes along): a caller
        that needs a few columns of a large cohort reads only those. Default: all.
    ordered
        Rows by center and pseudonym, as shown (default); False: by patient id, which the
        database sorts several times faster, for callers that compute on the rows without
        showing their order (the survival statistics).

    Returns
    -------
    pandas.DataFrame
        Columns :data:`COHORT_COLUMNS` (or ``columns``, in that order); coded values as their
        string values; sizes in cm, times in months, event flags 0/1 (nullable).

    Raises
    ------
    ValidationError
        For a column that is not one of :data:`COHORT_COLUMNS`.
    """
    wanted = _wanted_columns(columns)
    risk_filter = flt is not None and bool(flt.risk_classes)
    stored = _stored_columns(wanted, risk_filter)
    sort_in_memory(session)
    stmt = _filtered(scope, flt, stored)
    if not ordered:
        stmt = stmt.order_by(None).order_by(Patient.id)
    table = frame(session, stmt, stored)
    table = _with_genotype_group(table, wanted)
    if risk_filter and flt is not None and not table.empty:
        found = risk_classes(table, flt.risk_scheme)
        table = table[[c in flt.risk_classes for c in found]].reset_index(drop=True)
    return table[wanted]


#: PostgreSQL's memory for sorting a whole cohort (its 4 MB default spills 100,000 rows to disk)
SORT_WORK_MEM = "64MB"


def sort_in_memory(session: Session) -> None:
    """Let this transaction sort a large cohort in memory (PostgreSQL; no-op elsewhere)."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text(f"SET LOCAL work_mem = '{SORT_WORK_MEM}'"))


def _stored_columns(wanted: list[str], risk_filter: bool) -> list[str]:
    stored = [c for c in wanted if c != "genotype_group"]
    if risk_filter:
        stored += [c for c in RISK_INPUTS if c not in stored]
    if "genotype_group" in wanted and "genotype_detail" not in stored:
        stored.append("genotype_detail")
    return stored


def _filtered(scope: AccessScope, flt: CohortFilter | None, stored: list[str]) -> AnySelect:
    """The cohort's rows in scope, filtered (not by risk class), in the table's order."""
    stmt = _cohort_select(stored).where(scope.clause(Patient.center_id))
    if flt is not None:
        stmt = _apply_filter(stmt, flt)
    return stmt.order_by(Center.name, Patient.pseudonym)


def _with_genotype_group(table: pd.DataFrame, wanted: list[str]) -> pd.DataFrame:
    if "genotype_group" in wanted:
        groups = {d.value: d.group.value for d in GenotypeDetail}
        table["genotype_group"] = table["genotype_detail"].map(groups).astype(object)
        table.loc[table["genotype_detail"].isna(), "genotype_group"] = None
    return table


@dataclass(frozen=True)
class CohortPage:
    """One page of the cohort table and where it lies in the whole selection.

    Attributes
    ----------
    rows
        The page's rows, columns :data:`COHORT_COLUMNS`.
    total
        Patients in the whole (filtered) selection.
    page
        1-based page number (a page past the end is moved to the last page).
    page_size
        Rows per page.
    """

    rows: pd.DataFrame
    total: int
    page: int
    page_size: int

    @property
    def pages(self) -> int:
        """Number of pages (at least 1, also for an empty selection)."""
        return max(1, -(-self.total // self.page_size))

    @property
    def first_row(self) -> int:
        """1-based number of the page's first row within the selection (0 when empty)."""
        return 0 if self.total == 0 else (self.page - 1) * self.page_size + 1


def cohort_count(session: Session, scope: AccessScope, flt: CohortFilter | None = None) -> int:
    """How many patients :func:`cohort_table` would return, counted by the database (the risk
    classes of ``flt``, computed in Python, need the rows: then they are read)."""
    if flt is not None and flt.risk_classes:
        return len(cohort_table(session, scope, flt, columns=["patient_id"]))
    counted = _filtered(scope, flt, ["patient_id"]).order_by(None).subquery()
    return int(session.scalar(select(func.count()).select_from(counted)) or 0)


def cohort_page(
    session: Session,
    scope: AccessScope,
    flt: CohortFilter | None = None,
    *,
    page: int = 1,
    page_size: int = 50,
) -> CohortPage:
    """Page ``page`` of :func:`cohort_table`, ``page_size`` rows, read with LIMIT/OFFSET.

    The order is the table's (center, pseudonym: unique), so pages never overlap. With risk
    classes in ``flt`` (computed, not stored) the filtered table is read and sliced.

    Raises
    ------
    ValidationError
        For a page size or page number below 1.
    """
    if page_size < 1 or page < 1:
        raise ValidationError(
            f"page {page} of {page_size} rows: the page and the page size must be at least 1"
        )
    if flt is not None and flt.risk_classes:
        table = cohort_table(session, scope, flt)
        total = len(table)
        page = min(page, max(1, -(-total // page_size)))
        start = (page - 1) * page_size
        rows = table.iloc[start : start + page_size].reset_index(drop=True)
        return CohortPage(rows, total, page, page_size)
    total = cohort_count(session, scope, flt)
    page = min(page, max(1, -(-total // page_size)))
    wanted = list(COHORT_COLUMNS)
    stored = _stored_columns(wanted, False)
    # the page's patients first (the filter's joins only; without a filter on them the
    # database drops the other joins and reads the patients in order), then the rows of
    # those patients alone: not every row of the selection joined, sorted and cut
    ids = (
        _filtered(scope, flt, ["patient_id"])
        .limit(page_size)
        .offset((page - 1) * page_size)
        .subquery("page_ids")
    )
    stmt = (
        _cohort_select(stored)
        .join(ids, ids.c.patient_id == Patient.id)
        .order_by(Center.name, Patient.pseudonym)
    )
    rows = _with_genotype_group(frame(session, stmt, stored), wanted)
    return CohortPage(rows[wanted], total, page, page_size)


def _wanted_columns(columns: Sequence[str] | None) -> list[str]:
    if columns is None:
        return list(COHORT_COLUMNS)
    unknown = sorted(set(columns) - set(COHORT_COLUMNS))
    if unknown:
        raise ValidationError(
            f"unknown cohort column(s) {unknown}; choose among {', '.join(COHORT_COLUMNS)}"
        )
    return [c for c in COHORT_COLUMNS if c == "patient_id" or c in columns]


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

    Opening a case is accountable: the look is appended to the audit trail (once per user and
    patient within :data:`CASE_VIEW_WINDOW`, as the page redraws on every click), and written
    when the caller's session commits.
    """
    scope.require(Permission.VIEW_CASE)
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
    if not audit.seen_recently(session, scope.user, "case.view", pseudonym, CASE_VIEW_WINDOW):
        audit.record(session, scope.user, "case.view", target_kind="patient", target=pseudonym)
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


@dataclass(frozen=True)
class CaseRows:
    """The stored rows of one case: the patient, the primary tumour, the outcome, every
    model's prediction and the image series (the rows :func:`gistcad.analysis.case.case_card`
    makes the case card from).

    ``primary_tumour`` maps the tumour table's columns to plain values (``None`` where
    missing), empty when no tumour is recorded; ``predictions`` is
    :func:`~gistcad.store.model_queries.patient_predictions`, ``series``
    :func:`patient_series`.
    """

    patient_id: int
    pseudonym: str
    center: str
    sex: str | None
    age_at_diagnosis: float | None
    primary_tumour: dict[str, Any]
    outcome: dict[str, Any] | None
    predictions: pd.DataFrame
    series: pd.DataFrame


def case_rows(session: Session, scope: AccessScope, pseudonym: str) -> CaseRows:
    """The rows of the case called ``pseudonym`` in scope; opening it is audited as
    :func:`patient_record` says.

    Raises
    ------
    NotFoundError
        As :func:`patient_record`.
    """
    record = patient_record(session, scope, pseudonym)
    tumour = record.tumours.iloc[0].to_dict() if not record.tumours.empty else {}
    return CaseRows(
        patient_id=record.patient_id,
        pseudonym=record.pseudonym,
        center=record.center,
        sex=record.sex,
        age_at_diagnosis=record.age_at_diagnosis,
        primary_tumour={k: None if _is_missing(v) else plain(v) for k, v in tumour.items()},
        outcome=record.outcome,
        predictions=patient_predictions(session, scope, record.patient_id),
        series=patient_series(session, scope, record.patient_id),
    )


def _is_missing(value: Any) -> bool:
    return value is None or value is pd.NA or (isinstance(value, float) and value != value)


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
    return frame(session, stmt)


def _row_dict(row: Any) -> dict[str, Any] | None:
    if row is None:
        return None
    return {
        c.key: plain(getattr(row, c.key))
        for c in row.__table__.columns
        if c.key not in ("id", "patient_id")
    }


def find_pseudonyms(session: Session, scope: AccessScope, text: str, limit: int = 50) -> list[str]:
    """Pseudonyms in scope that contain ``text`` (case-insensitive), sorted."""
    stmt = (
        select(Patient.pseudonym)
        .where(scope.clause(Patient.center_id), Patient.pseudonym.ilike(f"%{text.strip()}%"))
        .order_by(Patient.pseudonym)
        .limit(limit)
    )
    return list(session.scalars(stmt).all())


def shown_outline(masks: pd.DataFrame) -> pd.Series | None:
    """The outline of a series to show beside its predictions (``masks`` as
    :func:`series_segmentations` returns them): the one the models read (the first of the first
    of ``REFERENCE_OUTLINES`` the series has, as :func:`modelling_table` picks it), else the
    first outline of any source; None for none."""
    if masks.empty:
        return None
    sources = masks["source"].astype(str)
    for source in REFERENCE_OUTLINES:
        found = masks[sources == source.value]
        if not found.empty:
            return found.iloc[0]
    return masks.iloc[0]


def series_segmentations(session: Session, scope: AccessScope, series_id: int) -> pd.DataFrame:
    """The segmentations of one series in scope (empty when out of scope), oldest first."""
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
    return frame(session, stmt)

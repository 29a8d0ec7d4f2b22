"""Read functions about models: versions, their predictions, the modelling table, jobs.

Like :mod:`gistcad.store.queries`, every function that returns patient data takes an
:class:`~gistcad.store.scope.AccessScope`; none commits.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Text, and_, case, cast, func, or_, select
from sqlalchemy.orm import Session

from gistcad.analysis.cohort_explorer import ANALYSED_COLUMNS
from gistcad.analysis.prediction_source import PredictionKind, probability_column
from gistcad.domain import (
    REFERENCE_OUTLINES,
    MeasurementSource,
    ModelKind,
    Permission,
    ResponseCategory,
    ResponseCriteria,
    RiskScoreSource,
)
from gistcad.errors import NotFoundError, ValidationError
from gistcad.store.cohort_columns import cohort_column_expressions
from gistcad.store.frames import frame, plain
from gistcad.store.models import (
    MAX_RECORD_ID,
    PROBABILITY_COLUMNS,
    Center,
    Job,
    ModelVersion,
    Outcome,
    Patient,
    Prediction,
    ResponseAssessment,
    Segmentation,
    Series,
    Study,
    Timepoint,
    Tumour,
)
from gistcad.store.scope import AccessScope


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
    return frame(session, stmt)


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
    return frame(session, stmt)


def find_model_version(
    session: Session, key: str, scope: AccessScope | None = None
) -> tuple[int, str]:
    """The (id, name) of the model version whose id or name is ``key``.

    Raises
    ------
    NotFoundError
        With the names of the model versions the caller can see: every one for an
        unrestricted ``scope`` (or none given), else those that predicted patients of the
        caller's centers.
    """
    clause = ModelVersion.name == key
    if key.isdigit() and int(key) <= MAX_RECORD_ID:
        clause = clause | (ModelVersion.id == int(key))
    row = session.execute(select(ModelVersion.id, ModelVersion.name).where(clause)).first()
    if row is None:
        names = select(ModelVersion.name).distinct().order_by(ModelVersion.name)
        if scope is not None and not scope.is_unrestricted:
            names = (
                names.join(Prediction, Prediction.model_version_id == ModelVersion.id)
                .join(Patient, Prediction.patient_id == Patient.id)
                .where(scope.clause(Patient.center_id))
            )
        known = ", ".join(session.scalars(names).all()) or "none yet: train one first"
        raise NotFoundError(f"no model version {key!r}; known model versions: {known}")
    return int(row[0]), str(row[1])


def patient_predictions(session: Session, scope: AccessScope, patient_id: int) -> pd.DataFrame:
    """Every prediction for one patient in scope, newest first, with its model version.

    Besides the final model's prediction: ``trained_on`` (whether that model was fitted on
    this patient, so that its prediction is in-sample; None when the version does not
    record it), ``out_of_fold`` (the patient's out-of-fold probabilities, or None) and
    ``validation`` (the version's validation scheme); ``target`` is the version's target;
    ``pooled`` (per evaluation task, the version's out-of-fold AUC over all centers: ``auc``,
    ``ci_lower``, ``ci_upper`` (None when not estimable) and ``n`` patients; empty when the
    version records no evaluation); for a survival version (an imaging risk score),
    ``training_risk_scores`` (the out-of-fold risk scores of its training cohort) and
    ``out_of_fold_risk_score`` (this patient's, when the version was trained on them), both
    None for other versions.
    """
    stmt = (
        select(
            ModelVersion.id.label("model_version_id"),
            ModelVersion.name.label("model"),
            ModelVersion.kind,
            ModelVersion.target,
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
    table = frame(session, stmt)
    extra = [_own_validation(session, int(v), patient_id) for v in table["model_version_id"]]
    table["trained_on"] = [e[0] for e in extra]
    table["out_of_fold"] = [e[1] for e in extra]
    table["validation"] = [e[2] for e in extra]
    table["pooled"] = [_pooled_auc(session, int(v)) for v in table["model_version_id"]]
    scores = [_oof_risk_scores(session, int(v), patient_id) for v in table["model_version_id"]]
    table["training_risk_scores"] = [s[0] for s in scores]
    table["out_of_fold_risk_score"] = [s[1] for s in scores]
    return table


def _oof_risk_scores(
    session: Session, model_version_id: int, patient_id: int
) -> tuple[list[float] | None, float | None]:
    """A survival version's out-of-fold risk scores of its training cohort, and this
    patient's among them (None: not a survival version, or the patient has none)."""
    version = session.get(ModelVersion, model_version_id)
    rows = [] if version is None else version.metrics.get("oof") or []
    scored = [r for r in rows if r.get("risk_score") is not None]
    if not scored:
        return None, None
    own = [float(r["risk_score"]) for r in scored if r.get("patient_id") == patient_id]
    return [float(r["risk_score"]) for r in scored], (own[-1] if own else None)


@dataclass(frozen=True)
class ModelRiskScores:
    """A deep model version's risk score of the patients in scope, none of them in-sample.

    Attributes
    ----------
    model_version_id, name
        The version.
    scores : pandas.DataFrame
        One row per patient in scope with an honest score: ``patient_id``, ``risk_score``
        (log relative hazard; higher = earlier recurrence) and ``source`` (a
        :class:`~gistcad.domain.RiskScoreSource` value).
    in_sample : int
        Patients in scope whose only score is the final model's on a patient it was trained on
        (or may have been: the version records no training patients), left out.
    """

    model_version_id: int
    name: str
    scores: pd.DataFrame
    in_sample: int


def deep_risk_scores(session: Session, scope: AccessScope, key: str) -> ModelRiskScores:
    """The risk scores of deep model version ``key`` (id or name) without in-sample leakage.

    A patient the version was trained on gets its out-of-fold score (``metrics["oof"]``: the
    fold model that did not see the patient); any other patient the final model's stored
    prediction (:attr:`~gistcad.store.models.Prediction.risk_score`, the newest when there are
    several). A trained patient without an out-of-fold score (a hold-out version's training
    part) is left out, as is every patient without an out-of-fold score when the version does
    not record which patients it was trained on: the final model's score of a patient it was
    fitted on is in-sample, optimistic by construction.

    Raises
    ------
    NotFoundError
        No version ``key`` (with the known names).
    ValidationError
        The version is not a deep model, or holds no risk score at all (with the deep model
        versions that do).
    """
    version = _deep_version(session, scope, key)
    name = version.name
    in_scope = set(session.scalars(select(Patient.id).where(scope.clause(Patient.center_id))))
    oof = {
        int(r["patient_id"]): float(r["risk_score"])
        for r in version.metrics.get("oof") or []
        if r.get("risk_score") is not None
    }
    final = _final_risk_scores(session, scope, version.id)
    trained = _training_patients(version, _validation(version))
    rows: list[tuple[int, float, str]] = []
    in_sample = 0
    for patient_id in sorted(in_scope & (set(oof) | set(final))):
        if patient_id in oof:
            rows.append((patient_id, oof[patient_id], RiskScoreSource.OUT_OF_FOLD.value))
        elif trained is not None and patient_id not in trained:
            rows.append((patient_id, final[patient_id], RiskScoreSource.FINAL_MODEL.value))
        else:
            in_sample += 1
    scores = pd.DataFrame(rows, columns=["patient_id", "risk_score", "source"])
    return ModelRiskScores(version.id, name, scores.astype({"risk_score": float}), in_sample)


def deep_final_risk_scores(session: Session, scope: AccessScope, key: str) -> ModelRiskScores:
    """The final model's stored risk score of deep model version ``key`` (id or name) for each
    patient in scope it predicted (the newest when several): what a model that takes the deep
    score as an input reads when it predicts. ``in_sample`` is 0: whether the deep model was
    trained on a patient is not asked here.

    Raises
    ------
    NotFoundError, ValidationError
        As :func:`deep_risk_scores`.
    """
    version = _deep_version(session, scope, key)
    final = _final_risk_scores(session, scope, version.id)
    scores = pd.DataFrame(
        {
            "patient_id": list(final),
            "risk_score": list(final.values()),
            "source": RiskScoreSource.FINAL_MODEL.value,
        },
        columns=["patient_id", "risk_score", "source"],
    )
    return ModelRiskScores(version.id, version.name, scores.astype({"risk_score": float}), 0)


def _deep_version(session: Session, scope: AccessScope, key: str) -> ModelVersion:
    """Deep model version ``key`` (id or name), checked to be deep and to hold risk scores."""
    version_id, name = find_model_version(session, key, scope)
    version = session.get(ModelVersion, version_id)
    assert version is not None
    if ModelKind(version.kind) is not ModelKind.DL:
        raise ValidationError(
            f"model version {name!r} is a {ModelKind(version.kind).label} model, not a deep "
            f"model; the deep risk score comes from one of: {_deep_choices(session)}"
        )
    if not _has_risk_scores(session, version):
        raise ValidationError(
            f"deep model version {name!r} holds no risk score (it was registered before the "
            f"risk head, or never predicted); choose one that does: {_deep_choices(session)}"
        )
    return version


def _final_risk_scores(
    session: Session, scope: AccessScope, model_version_id: int
) -> dict[int, float]:
    """Per patient in scope, the version's newest stored risk score."""
    stmt = (
        select(Prediction.patient_id, Prediction.risk_score)
        .join(Patient, Prediction.patient_id == Patient.id)
        .where(
            Prediction.model_version_id == model_version_id,
            Prediction.risk_score.is_not(None),
            scope.clause(Patient.center_id),
        )
        .order_by(Prediction.patient_id, Prediction.id)
    )
    return {int(p): float(r) for p, r in session.execute(stmt) if r is not None}  # newest last


def _has_risk_scores(session: Session, version: ModelVersion) -> bool:
    """Whether a version holds a risk score: out-of-fold, or a prediction of any patient."""
    if any(r.get("risk_score") is not None for r in version.metrics.get("oof") or []):
        return True
    stmt = select(Prediction.id).where(
        Prediction.model_version_id == version.id, Prediction.risk_score.is_not(None)
    )
    return session.execute(stmt.limit(1)).first() is not None


def deep_models_with_risk_scores(session: Session) -> list[str]:
    """The names of the deep model versions that hold risk scores, newest first."""
    stmt = (
        select(ModelVersion)
        .where(ModelVersion.kind == ModelKind.DL)
        .order_by(ModelVersion.created_at.desc(), ModelVersion.id.desc())
    )
    return [v.name for v in session.scalars(stmt) if _has_risk_scores(session, v)]


def _deep_choices(session: Session) -> str:
    names = deep_models_with_risk_scores(session)
    return ", ".join(names) or "none yet: train one first (gistcad train --model dl)"


#: the row of a version's evaluation that pools every center (as
#: :data:`gistcad.modelling.evaluation.POOLED` writes it)
POOLED_CENTER = "All centers"


def _pooled_auc(session: Session, model_version_id: int) -> dict[str, dict[str, Any]]:
    """Per task, the version's AUC over all centers pooled (see :func:`patient_predictions`)."""
    version = session.get(ModelVersion, model_version_id)
    tasks = {} if version is None else version.metrics.get("evaluation", {}).get("tasks", {})
    pooled: dict[str, dict[str, Any]] = {}
    for task, rows in tasks.items():
        for row in rows:
            if row.get("center") == POOLED_CENTER:
                pooled[task] = {
                    "auc": row.get("auc"),
                    "ci_lower": row.get("auc_ci_lower"),
                    "ci_upper": row.get("auc_ci_upper"),
                    "n": row.get("n"),
                }
    return pooled


def _own_validation(
    session: Session, model_version_id: int, patient_id: int
) -> tuple[bool | None, dict[str, float] | None, str | None]:
    """Whether the version was trained on the patient, the patient's out-of-fold
    probabilities (None without), and the version's validation."""
    version = session.get(ModelVersion, model_version_id)
    if version is None:
        return None, None, None
    validation = _validation(version)
    trained = _training_patients(version, validation)
    oof = _out_of_fold_probabilities(version, {patient_id})
    own = None if oof.empty else dict(oof["probabilities"].iloc[-1])
    return None if trained is None else patient_id in trained, own, validation


def _validation(version: ModelVersion) -> str | None:
    """The validation a version's out-of-fold predictions come from (None without any)."""
    scheme = version.parameters.get("scheme") if version.metrics.get("oof") else None
    return None if scheme is None else str(scheme)


@dataclass(frozen=True)
class ModelPredictionSet:
    """One model version's predictions of the patients in scope, final and out-of-fold.

    Attributes
    ----------
    model_version_id, name
    validation
        The validation the model was registered with (``kfold``, ``loco``, ``holdout``), or
        None when it records none.
    predictions
        ``patient_id``; the probabilities: ``probabilities`` (class name to probability),
        or, when only some classes were asked for, one float column per class
        (:func:`~gistcad.analysis.prediction_source.probability_column`, e.g. ``p_kit11``;
        NaN where a row has no such class); ``kind`` ("final model" or "out-of-fold") and
        ``trained_on`` (whether the model was fitted on the patient; None when the version
        does not record it). See
        :func:`gistcad.analysis.prediction_source.choose_predictions`.
    """

    model_version_id: int
    name: str
    validation: str | None
    predictions: pd.DataFrame


def model_prediction_set(
    session: Session,
    scope: AccessScope,
    model_version_id: int,
    *,
    classes: Sequence[str] | None = None,
) -> ModelPredictionSet:
    """The final model's predictions and the out-of-fold predictions, for patients in scope.

    ``classes``: the class names whose probabilities the caller needs; only those are read
    (the genotype classes from their float columns, :data:`PROBABILITY_COLUMNS`; any other
    class extracted by the database from the stored JSON: a number per row, not the whole
    JSON), as one float column per class (NaN where a row has no such class), without a
    mapping per row. None: every class, as a mapping per row (``probabilities``).

    Which patients the model was trained on: the list the version records (versions
    registered since it is recorded); for older k-fold and leave-one-center-out versions,
    the patients with an out-of-fold prediction (those folds cover every training patient);
    otherwise not known (None).
    """
    version = session.get(ModelVersion, model_version_id)
    if version is None:
        raise NotFoundError(f"no model version with id {model_version_id}")
    if classes is None:
        read: list[Any] = [cast(Prediction.probabilities, Text).label("probabilities")]
    else:
        read = [_probability(name).label(probability_column(name)) for name in classes]
    stmt = select(
        Prediction.patient_id.label("patient_id"), Prediction.id.label("prediction_id"), *read
    ).where(Prediction.model_version_id == model_version_id)
    if not scope.is_unrestricted:  # every prediction's patient is in an unrestricted scope
        stmt = stmt.join(Patient, Prediction.patient_id == Patient.id).where(
            scope.clause(Patient.center_id)
        )
    # by patient, a patient's newest prediction last: sorted here, not by the database
    final = _by_patient(frame(session, stmt))
    if classes is None:
        # the JSON of every row parsed in one call, not one call per row
        final["probabilities"] = json.loads("[" + ",".join(final["probabilities"]) + "]")
    else:
        for name in classes:  # NULL (no such class) as NaN, not None
            final[probability_column(name)] = final[probability_column(name)].astype(float)
    in_scope: set[int] = set()
    if version.metrics.get("oof"):
        in_scope = set(
            session.scalars(select(Patient.id).where(scope.clause(Patient.center_id))).all()
        )
    oof = _out_of_fold_probabilities(version, in_scope, classes)
    validation = _validation(version)
    trained = _training_patients(version, validation)
    if trained is None:
        trained_on: Any = None
    else:
        ids = final["patient_id"].to_numpy(dtype=np.int64)
        members = np.isin(ids, np.fromiter(trained, dtype=np.int64, count=len(trained)))
        trained_on = members.astype(object)  # Python bools, as before
    predictions = pd.concat(
        [final.assign(trained_on=trained_on), oof.assign(trained_on=True)], ignore_index=True
    )
    # two kinds, coded (final model 0, out-of-fold 1): compared as codes, not as strings
    codes = np.repeat(np.array([0, 1], dtype=np.int8), [len(final), len(oof)])
    kinds = pd.Categorical.from_codes(codes, categories=[k.value for k in PredictionKind])
    predictions.insert(len(predictions.columns) - 1, "kind", kinds)
    return ModelPredictionSet(
        model_version_id=version.id,
        name=version.name,
        validation=validation,
        predictions=predictions,
    )


def _by_patient(rows: pd.DataFrame) -> pd.DataFrame:
    """The prediction rows ordered by patient id, then prediction id (a patient's newest
    last), without the prediction id: one integer sort of both ids, skipped when the rows
    come in that order."""
    patients = rows["patient_id"].to_numpy(dtype=np.int64)
    ids = rows.pop("prediction_id").to_numpy(dtype=np.int64)
    step, id_step = np.diff(patients), np.diff(ids)
    if bool(np.all((step > 0) | ((step == 0) & (id_step > 0)))):
        return rows
    return rows.take(np.lexsort((ids, patients))).reset_index(drop=True)


def _probability(name: str) -> Any:
    """The probability of class ``name`` per prediction row: its float column, else the
    number in the JSON (NULL where a row has no such class)."""
    column = PROBABILITY_COLUMNS.get(name)
    if column is not None:
        return Prediction.__table__.c[column]
    return Prediction.probabilities[name].as_float()


def _out_of_fold_probabilities(
    version: ModelVersion, in_scope: set[int], wanted: Sequence[str] | None = None
) -> pd.DataFrame:
    rows = [r for r in version.metrics.get("oof", []) if int(r["patient_id"]) in in_scope]
    classes = version.parameters.get("classes") or sorted(
        {key[2:] for row in rows for key in row if key.startswith("p_")}
    )
    patient_ids = [int(r["patient_id"]) for r in rows]
    if wanted is None:
        return pd.DataFrame(
            {
                "patient_id": patient_ids,
                "probabilities": [{c: float(r[f"p_{c}"]) for c in classes} for r in rows],
            },
            columns=["patient_id", "probabilities"],
        )
    # a wanted class the version does not have: NaN in every row
    columns = {
        probability_column(c): np.array(
            [float(r[f"p_{c}"]) if c in classes else np.nan for r in rows], dtype=float
        )
        for c in wanted
    }
    return pd.DataFrame(
        {"patient_id": np.array(patient_ids, dtype=np.int64), **columns},
        columns=["patient_id", *columns],
    )


def _training_patients(version: ModelVersion, validation: Any) -> set[int] | None:
    recorded = version.metrics.get("training_patients")
    if recorded is not None:
        return {int(p) for p in recorded}
    if validation in ("kfold", "loco"):
        return {int(r["patient_id"]) for r in version.metrics.get("oof", [])}
    return None


#: the patient's record in the modelling table: the columns the cohort explorer analyses
#: (one list, :data:`~gistcad.analysis.cohort_explorer.ANALYSED_COLUMNS`) and the outcome
CLINICAL_MODELLING_COLUMNS = ["patient_id", "pseudonym", *ANALYSED_COLUMNS, "rfs_event"]
MODELLING_COLUMNS = [
    *CLINICAL_MODELLING_COLUMNS,
    "series_id",
    "volume_path",
    "volume_sha256",
    "mask_path",
    "mask_sha256",
    "kvp",
]
#: The response label columns of :func:`modelling_table` (see :func:`response_labels`).
RESPONSE_LABEL_COLUMNS = ["choi_pr_fu1", "progression_6m"]
#: The follow-up CT "nearest 6 months" must lie in this window of days from the start.
SIX_MONTHS_DAYS = 182.6
SIX_MONTHS_WINDOW = (122, 274)


def outline_rank(source: Any) -> Any:
    """A SQL expression ranking a segmentation's ``source`` column: the place of its source
    in ``REFERENCE_OUTLINES`` (a reader's outline first), the others after them."""
    return case(
        {made_by.value: rank for rank, made_by in enumerate(REFERENCE_OUTLINES)},
        value=source,
        else_=len(REFERENCE_OUTLINES),
    )


def modelling_table(session: Session, scope: AccessScope) -> pd.DataFrame:
    """One row per patient in scope with a CT series: clinical columns, image and mask files.

    Per patient the baseline CT is used, never a follow-up one: the first CT series (lowest id)
    of the study of timepoint 0 when the patient has timepoints, else the patient's first CT
    series; and that series' first outline of the first of ``REFERENCE_OUTLINES`` it has: a
    manual segmentation, else a semi-automatic outline grown in gistcad from a reader's click
    (a patient brought in without a mask can be predicted once outlined), else an imported
    semi-automatic one; an algorithm's outline alone is not read (``mask_path`` is missing
    when there is no reference outline); ``kvp``: that series' tube voltage (DICOM KVP;
    missing when not stored), read by the radiomics harmonisation. Paths are relative to the
    data folder. The response labels of
    :func:`response_labels` (``choi_pr_fu1``, ``progression_6m``: 1, 0, or missing) are
    added: they are targets, never features.
    """
    record = cohort_column_expressions()
    baseline = (
        select(Timepoint.patient_id, Timepoint.study_id).where(Timepoint.number == 0).subquery()
    )
    first_series = (
        select(Study.patient_id, func.min(Series.id).label("series_id"))
        .join(Series, Series.study_id == Study.id)
        .outerjoin(baseline, baseline.c.patient_id == Study.patient_id)
        .where(
            Series.modality == "CT",
            or_(baseline.c.study_id.is_(None), baseline.c.study_id == Study.id),
        )
        .group_by(Study.patient_id)
        .subquery()
    )
    firsts = [  # each series' first outline of each reference source, in preference order
        select(Segmentation.series_id, func.min(Segmentation.id).label("segmentation_id"))
        .where(Segmentation.source == source)
        .group_by(Segmentation.series_id)
        .subquery()
        for source in REFERENCE_OUTLINES
    ]
    stmt = (
        select(
            *(record[name] for name in CLINICAL_MODELLING_COLUMNS),
            Series.id,
            Series.volume_path,
            Series.volume_sha256,
            Segmentation.path,
            Segmentation.sha256,
            Series.kvp,
        )
        .join(Center, Patient.center_id == Center.id)
        .join(first_series, first_series.c.patient_id == Patient.id)
        .join(Series, Series.id == first_series.c.series_id)
    )
    for first in firsts:
        stmt = stmt.outerjoin(first, first.c.series_id == Series.id)
    stmt = (
        stmt.outerjoin(
            Segmentation,
            Segmentation.id == func.coalesce(*(first.c.segmentation_id for first in firsts)),
        )
        .outerjoin(Tumour, and_(Tumour.patient_id == Patient.id, Tumour.lesion == 1))
        .outerjoin(Outcome, Outcome.patient_id == Patient.id)
        .where(scope.clause(Patient.center_id))
        .order_by(Center.name, Patient.pseudonym)
    )
    table = frame(session, stmt, MODELLING_COLUMNS)
    labels = response_labels(session, scope).set_index("patient_id")
    for column in RESPONSE_LABEL_COLUMNS:
        table[column] = table["patient_id"].map(labels[column]).astype(float)
    return table


def response_labels(session: Session, scope: AccessScope) -> pd.DataFrame:
    """Per treated patient in scope with a response assessment: the response labels.

    The effective category of a timepoint is the reader's when present, else the automatic
    one. ``choi_pr_fu1``: 1 when the effective Choi category at the first follow-up CT
    (timepoint 1) is a partial or complete response, 0 when stable or progressive, missing
    when not evaluable or not assessed. ``progression_6m``: 1 when the effective RECIST 1.1
    category is a progression at any follow-up CT up to the one nearest 6 months after the
    start (within 4–9 months); 0 when that CT is assessed, evaluable and nothing before it
    progressed; missing otherwise.

    Returns
    -------
    pandas.DataFrame
        ``patient_id`` and :data:`RESPONSE_LABEL_COLUMNS` (floats: 1.0, 0.0 or NaN).
    """
    stmt = (
        select(
            Timepoint.patient_id,
            Timepoint.number,
            Timepoint.days_from_treatment_start,
            ResponseAssessment.criteria,
            ResponseAssessment.source,
            ResponseAssessment.category,
        )
        .join(ResponseAssessment, ResponseAssessment.timepoint_id == Timepoint.id)
        .join(Patient, Patient.id == Timepoint.patient_id)
        .where(
            Timepoint.number > 0,
            Timepoint.days_from_treatment_start.is_not(None),
            scope.clause(Patient.center_id),
        )
    )
    rows = frame(session, stmt, ["patient_id", "number", "days", "criteria", "source", "category"])
    if rows.empty:
        return pd.DataFrame(columns=["patient_id", *RESPONSE_LABEL_COLUMNS])
    rows["reader"] = rows["source"].map(lambda v: str(v) == MeasurementSource.READER.value)
    effective = (
        rows.sort_values("reader")
        .drop_duplicates(["patient_id", "number", "criteria"], keep="last")
        .assign(
            category=lambda f: f["category"].map(str), criteria=lambda f: f["criteria"].map(str)
        )
    )
    result = []
    for patient_id, visits in effective.groupby("patient_id"):
        result.append(
            {
                "patient_id": int(patient_id),
                "choi_pr_fu1": _choi_pr_fu1(visits),
                "progression_6m": _progression_6m(visits),
            }
        )
    return pd.DataFrame(result, columns=["patient_id", *RESPONSE_LABEL_COLUMNS])


def _choi_pr_fu1(visits: pd.DataFrame) -> float:
    first = visits[(visits["number"] == 1) & (visits["criteria"] == ResponseCriteria.CHOI.value)]
    if first.empty or first["category"].iloc[0] == ResponseCategory.NOT_EVALUABLE.value:
        return float("nan")
    responded = {ResponseCategory.PARTIAL.value, ResponseCategory.COMPLETE.value}
    return float(first["category"].iloc[0] in responded)


def _progression_6m(visits: pd.DataFrame) -> float:
    recist = visits[visits["criteria"] == ResponseCriteria.RECIST_1_1.value]
    low, high = SIX_MONTHS_WINDOW
    window = recist[recist["days"].between(low, high)]
    if window.empty:
        early = recist[recist["days"] <= high]
        progressed = (early["category"] == ResponseCategory.PROGRESSION.value).any()
        return 1.0 if progressed else float("nan")
    nearest = window.loc[(window["days"] - SIX_MONTHS_DAYS).abs().idxmin()]
    upto = recist[recist["number"] <= nearest["number"]]
    if (upto["category"] == ResponseCategory.PROGRESSION.value).any():
        return 1.0
    if nearest["category"] == ResponseCategory.NOT_EVALUABLE.value:
        return float("nan")
    return 0.0


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
    """One model version; its out-of-fold predictions limited to the centers in scope.

    A caller restricted to some centers sees nothing computed from other centers: the
    out-of-fold rows of their centers (from which every figure of the performance page and of
    ``gistcad evaluate`` is computed), their own patient count, and the model card without its
    data and per-center lines.
    """
    scope.require(Permission.VIEW_PERFORMANCE)
    version = session.get(ModelVersion, model_version_id)
    if version is None:
        raise NotFoundError(f"no model version with id {model_version_id}")
    oof = pd.DataFrame(version.metrics.get("oof", []))
    card = str(version.metrics.get("card", ""))
    n_patients = int(version.metrics.get("n_patients", 0))
    if not scope.is_unrestricted:
        allowed = set(session.scalars(select(Center.name).where(scope.clause(Center.id))).all())
        if not oof.empty:
            oof = oof[oof["center"].isin(allowed)].reset_index(drop=True)
        n_patients = len(oof)
        card = _card_in_scope(card, n_patients)
    return ModelVersionDetail(
        model_version_id=version.id,
        name=version.name,
        kind=plain(version.kind),
        target=version.target,
        created_at=version.created_at,
        parameters=dict(version.parameters),
        card=card,
        oof=oof,
        n_patients=n_patients,
    )


def _card_in_scope(card: str, n_in_scope: int) -> str:
    """The model card's description and limits, without its all-center data and metrics."""
    head, _, rest = card.partition("**Data:**")
    _, _, limits = rest.partition("**Limitations:**")
    lines = [
        head.rstrip(),
        "",
        f"**Data and validation:** {n_in_scope} patients of your centers have out-of-fold "
        "predictions; the figures on this page are computed from them alone. The figures of "
        "other centers are visible to administrators only.",
    ]
    if limits:
        lines += ["", f"**Limitations:**{limits}"]
    return "\n".join(lines)


def list_jobs(session: Session, scope: AccessScope, limit: int = 50) -> pd.DataFrame:
    """The newest jobs first: only jobs whose centers all lie in the caller's scope."""
    scope.require(Permission.RUN_JOBS)
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
            Job.submitted_by,
            Job.center_ids,
        )
    ).order_by(Job.id.desc())
    table = frame(session, stmt)
    # center lists are JSON (portable across SQLite and PostgreSQL): filtered here, not in SQL
    visible = pd.Series(
        [scope.covers(None if ids is None else frozenset(ids)) for ids in table["center_ids"]],
        index=table.index,
        dtype=bool,
    )
    return table.loc[visible].drop(columns="center_ids").head(limit).reset_index(drop=True)

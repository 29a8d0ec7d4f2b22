"""Treatment response of a selected cohort: the one call of the Response page.

:func:`response_cohort` reads the selected patients with follow-up imaging (within the
caller's scope), their best response by RECIST 1.1 and Choi, their treatment lines and
outcome, and computes with :mod:`gistcad.analysis.response_statistics`:

- the waterfall's bars (best change of size and density) and the swimmer's lanes;
- the objective response rate (CR or PR) with its confidence interval, by true genotype group
  and by a model's predicted KIT exon 11 status (out-of-fold where the model was trained on
  the patient, see :mod:`gistcad.analysis.prediction_source`);
- the agreement of RECIST 1.1 and Choi (cross-table, Cohen's kappa);
- survival by the response at the first follow-up CT, as a landmark analysis: counted from a
  landmark after that CT, never from the start of treatment.

Time zero is the start of the first treatment line. Outcomes are stored in months from
surgery, so the endpoint is moved to the treatment start with the surgery date; patients
without a treatment start or a surgery date are left out of the landmark analysis, and the
notes say how many.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy.orm import Session

from gistcad.analysis.grouping import (
    NO_PREDICTION,
    SPLIT_LABELS,
    genotype_groups,
    needed_classes,
    predicted_groups,
)
from gistcad.analysis.prediction_source import PredictionSource, choose_predictions
from gistcad.analysis.response_statistics import (
    CATEGORY_ORDER,
    RATE_COLUMNS,
    Agreement,
    IntervalMethod,
    LandmarkSurvival,
    cohen_kappa,
    landmark_survival,
    response_rates,
)
from gistcad.domain import (
    RESPONSE_CATEGORY_LABELS,
    RESPONSE_CRITERIA_LABELS,
    Drug,
    Endpoint,
    GenotypeGroup,
    Permission,
    ResponseCategory,
    ResponseCriteria,
    StatusSplit,
)
from gistcad.errors import ValidationError
from gistcad.followup.report import cohort_assessments, cohort_response
from gistcad.store.model_queries import find_model_version, model_prediction_set
from gistcad.store.queries import CohortFilter, cohort_table
from gistcad.store.scope import AccessScope
from gistcad.store.timeline import surgery_dates, treatment_lines

DAYS_PER_MONTH = 365.25 / 12
TRUE_GENOTYPE = "True genotype"
PREDICTED_STATUS = "Predicted KIT exon 11 status"
#: steps of the number-at-risk table (months after the landmark): the first with at most 8 times
AT_RISK_STEPS = (6.0, 12.0, 24.0, 60.0, 120.0)


def at_risk_times(longest: float) -> tuple[float, ...]:
    """0, then every 6, 12, 24, 60 or 120 months (the first step giving at most 8 times) up to
    ``longest`` months of follow-up after the landmark."""
    step = next((s for s in AT_RISK_STEPS if longest / s <= 7), AT_RISK_STEPS[-1])
    return tuple(float(t) for t in np.arange(0.0, max(longest, 0.0) + 1e-9, step))


PATIENT_COLUMNS = [
    "patient_id",
    "pseudonym",
    "center",
    "genotype",
    "predicted_status",
    "prediction_source",
    "best_size_change",
    "best_density_change",
    "best_recist",
    "best_choi",
    "first_recist",
    "first_choi",
    "first_follow_up_months",
    "endpoint_months",
    "endpoint_event",
]


@dataclass(frozen=True)
class ResponseCohort:
    """The treatment response of a selection (see the module docstring).

    Attributes
    ----------
    patients
        One row per selected patient with follow-up imaging, columns :data:`PATIENT_COLUMNS`:
        changes as fractions, categories as codes, times in months from the treatment start.
    rates
        ``criteria`` and ``grouping`` (labels), then :data:`~gistcad.analysis.
        response_statistics.RATE_COLUMNS`.
    agreement
        Best response by RECIST 1.1 (rows) against Choi (columns); None when no patient has
        both.
    landmark
        Survival by the response at the first follow-up; None when it cannot be computed
        (the notes say why).
    lines
        The swimmer's bars: ``pseudonym``, ``line``, ``drug``, ``dose_mg_per_day``,
        ``start_months``, ``stop_months`` (from the first line's start; an open line ends at
        the last timepoint or the end of follow-up).
    assessments
        The swimmer's markers and the spider plot's points: ``pseudonym``, ``months``,
        ``criteria`` and ``category`` (codes), ``size_change`` and ``density_change``
        (fractions, from baseline) of every categorised follow-up timepoint.
    """

    patients: pd.DataFrame
    rates: pd.DataFrame
    agreement: Agreement | None
    landmark: LandmarkSurvival | None
    lines: pd.DataFrame
    assessments: pd.DataFrame
    endpoint: Endpoint
    criteria: ResponseCriteria
    model_name: str | None
    notes: tuple[str, ...]


def _months(days: Any) -> float:
    return float("nan") if days is None or pd.isna(days) else float(days) / DAYS_PER_MONTH


def _first(table: pd.DataFrame, criteria: ResponseCriteria) -> pd.DataFrame:
    rows = table[(table["criteria"] == criteria.value) & table["category"].notna()]
    rows = rows.sort_values("timepoint").drop_duplicates("pseudonym", keep="first")
    return rows.set_index("pseudonym")[["category", "days_from_treatment_start"]]


def _predicted(
    session: Session, scope: AccessScope, cohort: pd.DataFrame, model: str | int | None
) -> tuple[pd.Series, pd.Series, str | None, list[str]]:
    none = pd.Series([NO_PREDICTION] * len(cohort), index=cohort.index, dtype=object)
    source = pd.Series([PredictionSource.NONE.value] * len(cohort), index=cohort.index)
    if model is None or cohort.empty:
        return none, source, None, []
    model_id, name = find_model_version(session, str(model), scope)
    # only the probabilities the KIT exon 11 split reads, from their float columns
    predictions = model_prediction_set(
        session, scope, model_id, classes=needed_classes(StatusSplit.KIT11)
    )
    try:
        chosen = choose_predictions(cohort["patient_id"], predictions.predictions)
        chosen.index = cohort.index
        labels = predicted_groups(
            cohort, chosen[chosen["source"] != PredictionSource.NONE], StatusSplit.KIT11
        )
    except ValidationError as exc:
        return none, source, name, [f"Rates by predicted status not shown: {exc}"]
    return labels, chosen["source"].astype(str), name, []


def _rates(patients: pd.DataFrame, alpha: float, method: IntervalMethod) -> pd.DataFrame:
    genotype_order = [g.label for g in GenotypeGroup]
    tables = []
    for criteria, column in (
        (ResponseCriteria.RECIST_1_1, "best_recist"),
        (ResponseCriteria.CHOI, "best_choi"),
    ):
        categories = [ResponseCategory(c) if isinstance(c, str) else None for c in patients[column]]
        for grouping, groups, order in (
            (TRUE_GENOTYPE, patients["genotype"], genotype_order),
            (PREDICTED_STATUS, patients["predicted_status"], list(SPLIT_LABELS[StatusSplit.KIT11])),
        ):
            if grouping == PREDICTED_STATUS and (groups == NO_PREDICTION).all():
                continue
            table = response_rates(
                categories, groups.tolist(), order=order, alpha=alpha, method=method
            )
            table.insert(0, "grouping", grouping)
            table.insert(0, "criteria", RESPONSE_CRITERIA_LABELS[criteria])
            tables.append(table)
    if not tables:
        return pd.DataFrame(columns=["criteria", "grouping", *RATE_COLUMNS])
    return pd.concat(tables, ignore_index=True)


def _agreement(patients: pd.DataFrame, alpha: float) -> Agreement | None:
    both = patients[patients["best_recist"].notna() & patients["best_choi"].notna()]
    if both.empty:
        return None
    return cohen_kappa(
        [ResponseCategory(c) for c in both["best_recist"]],
        [ResponseCategory(c) for c in both["best_choi"]],
        alpha=alpha,
    )


def _landmark(
    patients: pd.DataFrame,
    criteria: ResponseCriteria,
    landmark_months: float | None,
) -> tuple[LandmarkSurvival | None, list[str]]:
    column = "first_recist" if criteria is ResponseCriteria.RECIST_1_1 else "first_choi"
    usable = patients[patients["endpoint_months"].notna()]
    notes = []
    missing = len(patients) - len(usable)
    if missing:
        notes.append(
            f"{missing} patient(s) without a treatment start, a surgery date or the endpoint "
            "after the treatment start are left out of the landmark analysis."
        )
    assessed = usable["first_follow_up_months"].dropna()
    if usable.empty or assessed.empty:
        return None, [*notes, "No patient has both an assessed follow-up CT and the endpoint."]
    time = float(math.ceil(assessed.max())) if landmark_months is None else landmark_months
    labels = [
        RESPONSE_CATEGORY_LABELS[ResponseCategory(c)] if isinstance(c, str) else None
        for c in usable[column]
    ]
    try:
        result = landmark_survival(
            usable["endpoint_months"].to_numpy(float),
            usable["endpoint_event"].to_numpy(int),
            labels,
            usable["first_follow_up_months"].to_numpy(float),
            time,
            times=at_risk_times(float(usable["endpoint_months"].max()) - time),
            order=[RESPONSE_CATEGORY_LABELS[c] for c in CATEGORY_ORDER],
        )
    except ValidationError as exc:
        return None, [*notes, str(exc)]
    if result.n_event_or_censored_before:
        notes.append(
            f"{result.n_event_or_censored_before} patient(s) with the event or the end of "
            f"follow-up before the {result.title} are left out."
        )
    if result.n_unassessed:
        notes.append(
            f"{result.n_unassessed} patient(s) without a response assessed by the landmark are "
            "left out."
        )
    return result, notes


def _lines(lines: pd.DataFrame, cohort: pd.DataFrame, ends: dict[int, float]) -> pd.DataFrame:
    starts = lines.groupby("patient_id")["start_date"].min().to_dict()
    names = dict(zip(cohort["patient_id"], cohort["pseudonym"], strict=True))
    records = []
    for row in lines.itertuples(index=False):
        if row.patient_id not in names:
            continue
        zero = starts[row.patient_id]
        stop = (
            _months((row.stop_date - zero).days)
            if row.stop_date is not None and not pd.isna(row.stop_date)
            else ends.get(row.patient_id, float("nan"))
        )
        records.append(
            {
                "pseudonym": names[row.patient_id],
                "line": int(row.line),
                "drug": Drug(row.drug).value,
                "dose_mg_per_day": row.dose_mg_per_day,
                "start_months": _months((row.start_date - zero).days),
                "stop_months": stop,
            }
        )
    columns = ["pseudonym", "line", "drug", "dose_mg_per_day", "start_months", "stop_months"]
    return pd.DataFrame(records, columns=columns)


def response_cohort(
    session: Session,
    scope: AccessScope,
    selection: CohortFilter | None = None,
    *,
    model: str | int | None = None,
    criteria: ResponseCriteria = ResponseCriteria.CHOI,
    endpoint: Endpoint = Endpoint.RFS,
    landmark_months: float | None = None,
    alpha: float = 0.05,
    method: IntervalMethod = IntervalMethod.WILSON,
) -> ResponseCohort:
    """The treatment response of the patients ``selection`` picks, in ``scope``.

    Parameters
    ----------
    selection
        The cohort filter (centers ...); None or the empty filter selects everyone.
    model
        A model version id or name: rates by its predicted KIT exon 11 status.
    criteria
        The criteria of the response grouping the landmark survival.
    endpoint
        Recurrence-free or overall survival.
    landmark_months
        Months from the treatment start; default the first follow-up CT of every patient
        (the latest one, rounded up to a whole month), so that every response is known then.
    alpha, method
        1 − confidence level, and the interval of the response rates.

    Raises
    ------
    AccessDenied
        When the role may not see the cohort.
    NotFoundError
        For an unknown model.
    """
    scope.require(Permission.VIEW_COHORT)
    cohort = cohort_table(session, scope, selection)
    best = cohort_response(session, scope)
    best = best[best["timepoints"] > 1]  # the baseline alone has no response
    merged = cohort.merge(best, on=["pseudonym", "center"], how="inner")
    merged = merged.reset_index(drop=True)
    predicted, sources, model_name, notes = _predicted(session, scope, merged, model)
    assessments = cohort_assessments(session, scope)
    assessments = assessments[assessments["pseudonym"].isin(merged["pseudonym"])]
    first_recist = _first(assessments, ResponseCriteria.RECIST_1_1)
    first_choi = _first(assessments, ResponseCriteria.CHOI)
    first_by = first_choi if criteria is ResponseCriteria.CHOI else first_recist

    lines = treatment_lines(session, scope, merged["patient_id"].tolist())
    starts = lines.groupby("patient_id")["start_date"].min().to_dict()
    surgery = surgery_dates(session, scope)
    months_column, event_column = f"{endpoint.value}_months", f"{endpoint.value}_event"
    endpoint_months, endpoint_event = [], []
    for row in merged.itertuples(index=False):
        start, operated = starts.get(row.patient_id), surgery.get(row.patient_id)
        value = getattr(row, months_column)
        if start is None or operated is None or value is None or pd.isna(value):
            endpoint_months.append(np.nan)
            endpoint_event.append(pd.NA)
            continue
        from_start = _months((operated - start).days) + float(value)
        if from_start < 0:  # the event or the end of follow-up came before the treatment
            endpoint_months.append(np.nan)
            endpoint_event.append(pd.NA)
            continue
        endpoint_months.append(from_start)
        endpoint_event.append(int(getattr(row, event_column)))
    patients = pd.DataFrame(
        {
            "patient_id": merged["patient_id"],
            "pseudonym": merged["pseudonym"],
            "center": merged["center"],
            "genotype": genotype_groups(merged) if not merged.empty else [],
            "predicted_status": predicted,
            "prediction_source": sources,
            "best_size_change": merged["best_size_change"],
            "best_density_change": merged["best_density_change"],
            "best_recist": merged["best_recist"],
            "best_choi": merged["best_choi"],
            "first_recist": merged["pseudonym"].map(first_recist["category"]),
            "first_choi": merged["pseudonym"].map(first_choi["category"]),
            "first_follow_up_months": merged["pseudonym"]
            .map(first_by["days_from_treatment_start"])
            .map(_months),
            "endpoint_months": endpoint_months,
            "endpoint_event": pd.array(endpoint_event, dtype="Int64"),
        },
        columns=PATIENT_COLUMNS,
    )
    landmark, landmark_notes = (
        (None, []) if patients.empty else _landmark(patients, criteria, landmark_months)
    )
    ends = {
        int(pid): float(m)
        for pid, m in zip(patients["patient_id"], patients["endpoint_months"], strict=True)
        if not pd.isna(m)
    }
    last_seen = assessments.groupby("pseudonym")["days_from_treatment_start"].max().map(_months)
    for pid, name in zip(patients["patient_id"], patients["pseudonym"], strict=True):
        ends.setdefault(int(pid), float(last_seen.get(name, float("nan"))))
    swim = _lines(lines, merged, ends)
    marks = assessments[assessments["category"].notna()]
    return ResponseCohort(
        patients=patients,
        rates=_rates(patients, alpha, method),
        agreement=_agreement(patients, alpha),
        landmark=landmark,
        lines=swim,
        assessments=pd.DataFrame(
            {
                "pseudonym": marks["pseudonym"],
                "months": marks["days_from_treatment_start"].map(_months),
                "criteria": marks["criteria"],
                "category": marks["category"],
                "size_change": marks["size_change"],
                "density_change": marks["density_change"],
            }
        ).reset_index(drop=True),
        endpoint=endpoint,
        criteria=criteria,
        model_name=model_name,
        notes=tuple([*notes, *landmark_notes]),
    )

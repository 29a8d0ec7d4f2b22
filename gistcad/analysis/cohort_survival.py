"""Survival of a cohort table by a chosen grouping: the one call the CLI and the pages make.

Takes the cohort table of :func:`gistcad.store.queries.cohort_table` (and, for a grouping by
prediction, one model's predictions), picks the endpoint, builds the groups and the Cox
covariates, applies a landmark if asked, and runs :func:`~gistcad.analysis.comparison
.compare_groups`. Everything left out on the way is said in ``notes``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pandas as pd

from gistcad.analysis.comparison import SurvivalComparison, compare_groups
from gistcad.analysis.grouping import (
    Grouping,
    StatusSplit,
    center_groups,
    genotype_groups,
    predicted_groups,
    risk_groups,
    true_status_groups,
)
from gistcad.analysis.landmark import landmark
from gistcad.domain import Endpoint, RiskScheme
from gistcad.errors import ValidationError

ADJUSTABLE = ("risk", "center", "age", "sex", "size")


@dataclass(frozen=True)
class SurvivalRequest:
    """What to compare.

    Attributes
    ----------
    endpoint
        RFS or OS (times in months).
    by
        Grouping; ``PREDICTED`` needs predictions.
    split, threshold
        How predicted (and, for the side-by-side view, true) genotype is split.
    scheme
        Risk scheme for ``by=RISK`` and for adjustment by risk.
    times
        Months for S(t) and the number-at-risk table (0 is always added).
    min_group_size
        Smaller groups are shown but left out of the tests.
    reference
        Reference group of the hazard ratios (default: the largest).
    adjust
        Cox covariates, from :data:`ADJUSTABLE`.
    landmark_months
        Start the clock here (patients event-free and followed beyond it).
    """

    endpoint: Endpoint = Endpoint.RFS
    by: Grouping = Grouping.GENOTYPE
    split: StatusSplit = StatusSplit.KIT11
    threshold: float = 0.5
    scheme: RiskScheme = RiskScheme.MODIFIED_NIH_2008
    times: tuple[float, ...] = (24.0, 60.0, 120.0)
    min_group_size: int = 10
    reference: str | None = None
    adjust: tuple[str, ...] = ()
    landmark_months: float | None = None

    def __post_init__(self) -> None:
        unknown = sorted(set(self.adjust) - set(ADJUSTABLE))
        if unknown:
            raise ValidationError(
                f"unknown covariate {', '.join(unknown)}; adjust for {', '.join(ADJUSTABLE)}"
            )
        if not self.times or any(t < 0 for t in self.times):
            raise ValidationError("times need at least one month >= 0")
        if self.min_group_size < 1:
            raise ValidationError("the minimum group size must be at least 1")


@dataclass(frozen=True)
class CohortSurvival:
    """A comparison and what was left out of it before it ran."""

    comparison: SurvivalComparison
    notes: tuple[str, ...]
    n_selected: int


def groups_for(
    cohort: pd.DataFrame, request: SurvivalRequest, predictions: pd.DataFrame | None = None
) -> pd.Series:
    """The label of each cohort row under ``request.by``."""
    if request.by is Grouping.GENOTYPE:
        return genotype_groups(cohort)
    if request.by is Grouping.CENTER:
        return center_groups(cohort)
    if request.by is Grouping.RISK:
        return risk_groups(cohort, request.scheme)
    if predictions is None:
        raise ValidationError("grouping by predicted status needs a model's predictions")
    return predicted_groups(cohort, predictions, request.split, threshold=request.threshold)


def _covariates(cohort: pd.DataFrame, request: SurvivalRequest) -> pd.DataFrame | None:
    if not request.adjust:
        return None
    columns: dict[str, Callable[[], pd.Series]] = {
        "risk": lambda: risk_groups(cohort, request.scheme),
        "center": lambda: cohort["center"],
        "age": lambda: cohort["age_at_diagnosis"].astype(float),
        "sex": lambda: cohort["sex"],
        "size": lambda: cohort["size_cm"].astype(float),
    }
    return pd.DataFrame({name: columns[name]().to_numpy() for name in request.adjust})


def cohort_survival(
    cohort: pd.DataFrame,
    request: SurvivalRequest,
    predictions: pd.DataFrame | None = None,
    *,
    groups: pd.Series | None = None,
) -> CohortSurvival:
    """Compare survival of the cohort's groups under ``request``.

    ``groups`` overrides the grouping (e.g. the true status beside the predicted one).
    """
    if cohort.empty:
        raise ValidationError("the selection holds no patients; load data or widen the filters")
    endpoint = request.endpoint.value
    time_col, event_col = f"{endpoint}_months", f"{endpoint}_event"
    labels = groups if groups is not None else groups_for(cohort, request, predictions)
    covariates = _covariates(cohort, request)
    has = (cohort[time_col].notna() & cohort[event_col].notna()).to_numpy()
    if covariates is not None:
        has &= covariates.notna().all(axis=1).to_numpy()
    notes = []
    if (~has).any():
        notes.append(
            f"{int((~has).sum())} patients without {endpoint.upper()} data (or a covariate) "
            "left out."
        )
    if not has.any():
        raise ValidationError(
            f"no patient in the selection has {endpoint.upper()} follow-up; load outcomes or "
            "widen the selection"
        )
    durations = cohort.loc[has, time_col].astype(float).to_numpy()
    events = cohort.loc[has, event_col].astype(int).to_numpy()
    kept = labels.to_numpy()[has]
    cov = None if covariates is None else covariates[has].reset_index(drop=True)
    if request.landmark_months is not None:
        lm = landmark(durations, events, request.landmark_months)
        notes.append(
            f"Landmark at {request.landmark_months:g} months: {int(lm.mask.sum())} patients "
            "event-free and under follow-up; the clock restarts there."
        )
        durations, events, kept = lm.durations, lm.event_observed, kept[lm.mask]
        cov = None if cov is None else cov[lm.mask].reset_index(drop=True)
    comparison = compare_groups(
        durations,
        events,
        kept,
        times=sorted({0.0, *request.times}),
        min_group_size=request.min_group_size,
        reference=request.reference,
        covariates=cov,
    )
    return CohortSurvival(comparison=comparison, notes=tuple(notes), n_selected=len(cohort))


def predicted_vs_true(
    cohort: pd.DataFrame, request: SurvivalRequest, predictions: pd.DataFrame
) -> tuple[CohortSurvival, CohortSurvival, pd.DataFrame]:
    """Survival by predicted status and by true status (same split), and their agreement.

    Returns
    -------
    predicted, true : CohortSurvival
    agreement : pandas.DataFrame
        Cross-table of predicted (rows) by true (columns) status, counts, with totals.
    """
    predicted_labels = predicted_groups(
        cohort, predictions, request.split, threshold=request.threshold
    )
    true_labels = true_status_groups(cohort, request.split)
    predicted = cohort_survival(cohort, request, groups=predicted_labels)
    true = cohort_survival(cohort, request, groups=true_labels)
    agreement = pd.crosstab(
        predicted_labels.rename("predicted"),
        true_labels.rename("true"),
        margins=True,
        margins_name="Total",
    )
    return predicted, true, agreement

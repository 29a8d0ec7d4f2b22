"""Survival of a cohort table by a chosen grouping: the one call the CLI and the pages make.

Takes the cohort table of :func:`gistcad.store.queries.cohort_table` (and, for a grouping by
prediction, one model's predictions), picks the endpoint, builds the groups and the Cox
covariates, applies a landmark if asked, and runs :func:`~gistcad.analysis.comparison
.compare_groups`. Everything left out on the way is said in ``notes``.

A grouping by predicted status uses, for every patient the model was trained on, that
patient's out-of-fold prediction; patients the model never saw use the final model's
(:mod:`~gistcad.analysis.prediction_source`). Times are stored in months and shown in the
request's unit.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field, replace

import pandas as pd

from gistcad.analysis.comparison import SurvivalComparison, compare_groups
from gistcad.analysis.grouping import (
    COLUMNS as GROUPING_COLUMNS,
)
from gistcad.analysis.grouping import (
    NO_PREDICTION,
    RISK_INPUTS,
    SPLIT_LABELS,
    Grouping,
    StatusSplit,
    is_unknown,
    predicted_groups,
    true_status_groups,
)
from gistcad.analysis.landmark import landmark
from gistcad.analysis.prediction_source import (
    PredictionSource,
    choose_predictions,
    describe_sources,
    source_counts,
)
from gistcad.analysis.time_to_event import TimeUnit
from gistcad.analysis.variables import Grouped, Variable, covariate, group_by, parse_variables
from gistcad.domain import Endpoint, GenotypeClass, RiskScheme
from gistcad.errors import ValidationError

ADJUSTABLE = tuple(g.value for g in Grouping)


@dataclass(frozen=True)
class SurvivalRequest:
    """What to compare.

    Attributes
    ----------
    endpoint
        RFS or OS (stored in months).
    by
        Grouping; ``PREDICTED`` needs predictions; a numeric one (age, size, mitoses) needs
        ``cuts`` or ``quantiles``.
    cuts, quantiles
        How a numeric ``by`` is cut (see :class:`~gistcad.analysis.variables.Variable`).
    split, threshold
        How predicted (and, for the side-by-side view, true) genotype is split.
    scheme
        Risk scheme for ``by=RISK`` and for adjustment by risk.
    times
        Times for S(t) and the number-at-risk table, in ``time_unit`` (0 is always added).
    time_unit
        Unit of ``times`` and of every time shown.
    min_group_size
        Smaller groups are shown but left out of the tests.
    reference
        Reference group of the hazard ratios (default: the lowest of ordered groups, else
        the largest).
    adjust
        Cox covariates, as text (``"age"``, ``"risk"``, ``"size:5,10"``; any variable).
    landmark_months
        Start the clock here, in months (patients event-free and followed beyond it).
    in_sample
        Group by the final model's predictions even of its own training patients (in-sample;
        labelled so). Default: out-of-fold predictions for them.
    test_unknown
        Include "Unknown", "No prediction" and "Not classifiable" groups in the tests.
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
    cuts: tuple[float, ...] = ()
    quantiles: int | None = None
    time_unit: TimeUnit = TimeUnit.MONTHS
    in_sample: bool = False
    test_unknown: bool = False
    covariates: tuple[Variable, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        covariates: list[Variable] = []
        for text in self.adjust:
            name = text.partition(":")[0].strip()
            try:
                covariates.extend(parse_variables(text))
            except ValidationError as error:
                if str(error).startswith("unknown variable"):
                    raise ValidationError(
                        f"unknown covariate {name}; adjust for any of {', '.join(ADJUSTABLE)}"
                    ) from None
                raise
        object.__setattr__(self, "covariates", tuple(covariates))
        Variable(self.by, self.cuts, self.quantiles)  # validates cuts and quantiles
        if not self.times or any(not math.isfinite(t) or t < 0 for t in self.times):
            shown = ",".join(f"{t:g}" for t in self.times)
            raise ValidationError(
                f"times must be {self.time_unit.value} >= 0, separated by commas (e.g. "
                f"24,60,120); got {shown!r}"
            )
        if self.min_group_size < 1:
            raise ValidationError("the minimum group size must be at least 1")

    @property
    def variable(self) -> Variable:
        return Variable(self.by, self.cuts, self.quantiles)


def build_request(
    *,
    by: str,
    endpoint: Endpoint | str = Endpoint.RFS,
    times: str | tuple[float, ...] | None = None,
    time_unit: TimeUnit | str = TimeUnit.MONTHS,
    adjust: str | tuple[str, ...] = "",
    **options: object,
) -> SurvivalRequest:
    """A request from the text a user types: ``by="size:5,10"``, ``times="2,5"``, ``adjust="age"``.

    ``times`` in ``time_unit``; none given: 24, 60 and 120 months in that unit.
    Used by ``gistcad survival`` and the survival page alike; ``options`` are the other
    fields of :class:`SurvivalRequest` (split, threshold, scheme, min_group_size, reference,
    landmark_months, in_sample, test_unknown).
    """
    variable = Variable.parse(by)
    unit = TimeUnit(time_unit)
    if times is None or (isinstance(times, str) and not times.strip()):
        parsed = default_times(unit)
    else:
        parsed = parse_times(times, unit) if isinstance(times, str) else tuple(times)
    texts = (adjust,) if isinstance(adjust, str) else adjust
    return SurvivalRequest(
        endpoint=Endpoint(endpoint),
        by=variable.grouping,
        cuts=variable.cuts,
        quantiles=variable.quantiles,
        times=parsed,
        time_unit=unit,
        adjust=tuple(text for text in texts if text.strip()),
        **options,  # type: ignore[arg-type]
    )


DEFAULT_TIMES_MONTHS = (24.0, 60.0, 120.0)


def default_times(unit: TimeUnit) -> tuple[float, ...]:
    """24, 60 and 120 months in ``unit`` (to 0.1)."""
    return tuple(round(float(t), 1) for t in unit.from_months(DEFAULT_TIMES_MONTHS))


#: Units a time may carry ("1y", "18 months"), by how they are written.
_TIME_SUFFIXES: dict[str, TimeUnit] = {
    **dict.fromkeys(("d", "day", "days"), TimeUnit.DAYS),
    **dict.fromkeys(("w", "wk", "week", "weeks"), TimeUnit.WEEKS),
    **dict.fromkeys(("m", "mo", "mon", "month", "months"), TimeUnit.MONTHS),
    **dict.fromkeys(("y", "yr", "yrs", "year", "years"), TimeUnit.YEARS),
}
_TIME = re.compile(r"^(?P<value>[+]?(?:\d+(?:\.\d*)?|\.\d+))\s*(?P<unit>[a-z]*)$")


def parse_times(text: str, unit: TimeUnit = TimeUnit.MONTHS) -> tuple[float, ...]:
    """The times a user types, as numbers in ``unit``, in increasing order, each once.

    The one reader of the times a user types, for ``gistcad survival --times`` and the
    Survival page alike. Times are separated by commas, semicolons or spaces; a time may
    carry its own unit (``1y``, ``6 months``, ``90d``, ``26w``), converted to ``unit``.

    >>> parse_times("24, 60,120")
    (24.0, 60.0, 120.0)
    >>> parse_times("12; 36; 60")
    (12.0, 36.0, 60.0)
    >>> parse_times("1y, 3y 5 years")
    (12.0, 36.0, 60.0)

    Raises
    ------
    ValidationError
        Naming what could not be read, and what the times must look like.
    """
    joined = re.sub(r"(\d)\s+([a-z])", r"\1\2", text.strip().lower())  # "1 y" is one time
    parts = [p for p in re.split(r"[,;\s]+", joined) if p]
    times: list[float] = []
    bad: list[str] = []
    for part in parts:
        found = _TIME.match(part)
        if found is None or (found["unit"] and found["unit"] not in _TIME_SUFFIXES):
            bad.append(part)
            continue
        value = float(found["value"])
        if found["unit"]:
            value = float(unit.from_months(_TIME_SUFFIXES[found["unit"]].to_months(value)))
        if not math.isfinite(value):
            bad.append(part)
        else:
            times.append(round(value, 6))
    if bad or not times:
        what = f"could not read {', '.join(repr(b) for b in bad)}" if bad else "no time given"
        raise ValidationError(
            f"times must be {unit.value} >= 0, separated by commas, semicolons or spaces "
            f"(e.g. 24, 60, 120 or 2y, 5y); {what} in {text!r}"
        )
    return tuple(sorted(set(times)))


@dataclass(frozen=True)
class CohortSurvival:
    """A comparison, what was left out of it before it ran, and where predictions came from.

    Attributes
    ----------
    comparison
    notes
    n_selected
        Patients in the selection, before any was left out.
    prediction_sources
        With a grouping by predicted status: patients per group and prediction source
        (``group``, ``source``, ``n``), counted over the patients analysed; else None.
    validation
        The validation of the model's out-of-fold predictions (``kfold``, ``loco``, ...).
    time_unit
    groups
        The group of every selected patient (aligned with the cohort table, those left out
        included), so that a caller lists a group's patients without grouping them again.
    """

    comparison: SurvivalComparison
    notes: tuple[str, ...]
    n_selected: int
    prediction_sources: pd.DataFrame | None = None
    validation: str | None = None
    time_unit: TimeUnit = TimeUnit.MONTHS
    groups: pd.Series | None = field(default=None, repr=False, compare=False)

    @property
    def in_sample(self) -> bool:
        """Whether any group's patients were grouped by in-sample predictions."""
        return self.prediction_sources is not None and bool(
            (self.prediction_sources["source"] == PredictionSource.IN_SAMPLE).any()
        )


def _predicted(
    cohort: pd.DataFrame, request: SurvivalRequest, predictions: pd.DataFrame | None
) -> tuple[Grouped, pd.Series]:
    """Predicted status of each patient, and the source of its prediction."""
    if predictions is None:
        raise ValidationError("grouping by predicted status needs a model's predictions")
    chosen = choose_predictions(cohort["patient_id"], predictions, in_sample=request.in_sample)
    labels = predicted_groups(
        cohort,
        chosen[chosen["source"] != PredictionSource.NONE],
        request.split,
        threshold=request.threshold,
    )
    if request.split is StatusSplit.FOUR_CLASS:
        levels: tuple[str, ...] = tuple(c.label for c in GenotypeClass)
    else:
        levels = SPLIT_LABELS[request.split]
    return Grouped(labels, (*levels, NO_PREDICTION), ordered=False), chosen["source"]


def _grouped(
    cohort: pd.DataFrame, request: SurvivalRequest, predictions: pd.DataFrame | None
) -> tuple[Grouped, pd.Series | None]:
    if request.by is Grouping.PREDICTED:
        return _predicted(cohort, request, predictions)
    return group_by(cohort, request.variable, request.scheme), None


def groups_for(
    cohort: pd.DataFrame, request: SurvivalRequest, predictions: pd.DataFrame | None = None
) -> pd.Series:
    """The label of each cohort row under ``request.by``."""
    return _grouped(cohort, request, predictions)[0].labels


def _covariates(
    cohort: pd.DataFrame, request: SurvivalRequest, predictions: pd.DataFrame | None
) -> pd.DataFrame | None:
    if not request.covariates:
        return None
    columns = {}
    for variable in request.covariates:
        if variable.grouping is Grouping.PREDICTED:
            labels = _predicted(cohort, request, predictions)[0].labels
            columns[str(variable)] = labels.where(~labels.map(is_unknown).astype(bool))
        else:
            columns[str(variable)] = covariate(cohort, variable, request.scheme)
    return pd.DataFrame({name: values.reset_index(drop=True) for name, values in columns.items()})


#: the cohort columns every survival comparison reads (the page lists patients by these)
BASE_COLUMNS = (
    "patient_id",
    "pseudonym",
    "center",
    "genotype_detail",
    "rfs_months",
    "rfs_event",
    "os_months",
    "os_event",
)


def _variable_columns(grouping: Grouping) -> tuple[str, ...]:
    if grouping is Grouping.RISK:
        return RISK_INPUTS
    if grouping in GROUPING_COLUMNS:
        return (GROUPING_COLUMNS[grouping],)
    return ()  # genotype, center and predicted status read the base columns


def survival_columns(request: SurvivalRequest) -> tuple[str, ...]:
    """The cohort columns :func:`cohort_survival` needs for ``request``, so that a large
    cohort is read with these only (:func:`gistcad.store.queries.cohort_table`)."""
    columns = list(BASE_COLUMNS)
    for grouping in (request.by, *(v.grouping for v in request.covariates)):
        columns += [c for c in _variable_columns(grouping) if c not in columns]
    return tuple(columns)


def cohort_survival(
    cohort: pd.DataFrame,
    request: SurvivalRequest,
    predictions: pd.DataFrame | None = None,
    *,
    groups: pd.Series | None = None,
    validation: str | None = None,
) -> CohortSurvival:
    """Compare survival of the cohort's groups under ``request``.

    ``predictions``: one model version's predictions (see
    :func:`~gistcad.analysis.prediction_source.choose_predictions`), for a grouping by
    predicted status; ``validation`` names the validation of its out-of-fold predictions.
    ``groups`` overrides the grouping (e.g. the true status beside the predicted one).
    """
    if cohort.empty:
        raise ValidationError("the selection holds no patients; load data or widen the filters")
    endpoint = request.endpoint.value
    time_col, event_col = f"{endpoint}_months", f"{endpoint}_event"
    sources: pd.Series | None = None
    if groups is not None:
        levels = sorted({str(g) for g in groups}, key=lambda g: (is_unknown(g), g))
        grouped = Grouped(groups, tuple(levels), ordered=False)
    else:
        grouped, sources = _grouped(cohort, request, predictions)
    covariates = _covariates(cohort, request, predictions)
    has = (cohort[time_col].notna() & cohort[event_col].notna()).to_numpy()
    if covariates is not None:
        has &= covariates.notna().all(axis=1).to_numpy()
    notes = list(grouped.notes)
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
    unit = request.time_unit
    durations = unit.from_months(cohort.loc[has, time_col].astype(float).to_numpy())
    events = cohort.loc[has, event_col].astype(int).to_numpy()
    kept = grouped.labels.to_numpy()[has]
    kept_sources = None if sources is None else sources.to_numpy()[has]
    cov = None if covariates is None else covariates[has].reset_index(drop=True)
    if request.landmark_months is not None:
        lm = landmark(durations, events, float(unit.from_months(request.landmark_months)))
        notes.append(
            f"Landmark at {request.landmark_months:g} months: {int(lm.mask.sum())} patients "
            "event-free and under follow-up; the clock restarts there."
        )
        durations, events, kept = lm.durations, lm.event_observed, kept[lm.mask]
        kept_sources = None if kept_sources is None else kept_sources[lm.mask]
        cov = None if cov is None else cov[lm.mask].reset_index(drop=True)
    if cov is not None:
        cov = _drop_unused_levels(cov)
    untested = (
        () if request.test_unknown else tuple(g for g in map(str, pd.unique(kept)) if is_unknown(g))
    )
    comparison = compare_groups(
        durations,
        events,
        kept,
        times=sorted({0.0, *request.times}),
        min_group_size=request.min_group_size,
        reference=request.reference,
        covariates=cov,
        order=grouped.levels,
        ordered=grouped.ordered,
        untested=untested,
    )
    counts = None
    if kept_sources is not None:
        counts = source_counts(pd.Series(kept), pd.Series(kept_sources))
        comparison = _with_sources(comparison, counts, validation)
        notes.append(_sources_note(counts, validation))
    return CohortSurvival(
        comparison=comparison,
        notes=tuple(notes),
        n_selected=len(cohort),
        prediction_sources=counts,
        validation=validation,
        time_unit=unit,
        groups=grouped.labels,
    )


def _drop_unused_levels(cov: pd.DataFrame) -> pd.DataFrame:
    for name in cov.columns:
        if isinstance(cov[name].dtype, pd.CategoricalDtype):
            cov[name] = cov[name].cat.remove_unused_categories()
    return cov


def _with_sources(
    comparison: SurvivalComparison, counts: pd.DataFrame, validation: str | None
) -> SurvivalComparison:
    """The summary with a ``prediction_source`` column (sources and patients per group)."""
    text = describe_sources(counts, validation)
    summary = comparison.summary.copy()
    summary["prediction_source"] = summary["group"].map(lambda g: text.get(str(g), ""))
    return replace(comparison, summary=summary)


def _sources_note(counts: pd.DataFrame, validation: str | None) -> str:
    rank = {source.value: i for i, source in enumerate(PredictionSource)}
    totals = counts.groupby("source")["n"].sum()
    totals = totals.iloc[sorted(range(len(totals)), key=lambda i: rank[totals.index[i]])]
    overall = totals.rename("n").reset_index().assign(group="all")
    described = describe_sources(overall, validation)["all"]
    note = f"Predicted status from: {described}."
    if PredictionSource.IN_SAMPLE.value in totals.index:
        note += (
            f" In-sample: {int(totals[PredictionSource.IN_SAMPLE.value])} patients are grouped "
            "by the final model that was trained on them, which overstates the separation."
        )
    return note


def predicted_vs_true(
    cohort: pd.DataFrame,
    request: SurvivalRequest,
    predictions: pd.DataFrame,
    *,
    validation: str | None = None,
) -> tuple[CohortSurvival, CohortSurvival, pd.DataFrame]:
    """Survival by predicted status and by true status (same split), and their agreement.

    Returns
    -------
    predicted, true : CohortSurvival
    agreement : pandas.DataFrame
        Cross-table of predicted (rows) by true (columns) status, counts, with totals.
    """
    predicted_request = _as_predicted(request)
    true_labels = true_status_groups(cohort, request.split)
    predicted = cohort_survival(cohort, predicted_request, predictions, validation=validation)
    true = cohort_survival(cohort, request, groups=true_labels)
    predicted_labels = predicted.groups
    if predicted_labels is None:  # never: cohort_survival keeps the labels it grouped by
        predicted_labels = groups_for(cohort, predicted_request, predictions)
    agreement = pd.crosstab(
        predicted_labels.rename("predicted"),
        true_labels.rename("true"),
        margins=True,
        margins_name="Total",
    )
    return predicted, true, agreement


def _as_predicted(request: SurvivalRequest) -> SurvivalRequest:
    if request.by is Grouping.PREDICTED:
        return request
    return replace(request, by=Grouping.PREDICTED, cuts=(), quantiles=None)


__all__ = [
    "ADJUSTABLE",
    "CohortSurvival",
    "SurvivalRequest",
    "build_request",
    "cohort_survival",
    "groups_for",
    "predicted_vs_true",
    "survival_columns",
]

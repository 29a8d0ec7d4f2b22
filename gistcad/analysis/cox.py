"""Cox proportional-hazards ratios of groups, optionally adjusted, with a PH check.

The model is fitted by lifelines' ``CoxPHFitter`` (Efron's handling of tied times); no
lifelines object leaves this module: results are a frozen dataclass of data frames.

References
----------
.. [Cox72] Cox DR. Regression models and life-tables. J R Stat Soc B 1972;34:187–220.
.. [Ef77] Efron B. The efficiency of Cox's likelihood function for censored data.
   J Am Stat Assoc 1977;72:557–565.
.. [GT94] Grambsch PM, Therneau TM. Proportional hazards tests and diagnostics based on
   weighted residuals. Biometrika 1994;81:515–526.
"""

from __future__ import annotations

import logging
import math
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from lifelines import CoxPHFitter
from lifelines.exceptions import ConvergenceError
from numpy.typing import ArrayLike
from scipy import stats

from gistcad.analysis.time_to_event import LabelArray, check_groups, check_survival_data
from gistcad.errors import ValidationError

logger = logging.getLogger(__name__)

TABLE_COLUMNS = [
    "term",
    "variable",
    "level",
    "reference",
    "coef",
    "se",
    "hr",
    "ci_lower",
    "ci_upper",
    "p",
]


@dataclass(frozen=True, eq=False)
class CoxResult:
    """Hazard ratios from a Cox model and the check of its proportional-hazards assumption.

    Attributes
    ----------
    table : pandas.DataFrame
        One row per model term: ``term`` (label, e.g. ``"group: placebo vs 6-MP"``),
        ``variable``, ``level`` and ``reference`` (empty for numeric covariates), ``coef``
        (log hazard ratio) and its ``se``, ``hr`` = exp(coef), Wald ``ci_lower``/``ci_upper``
        of the HR at level 1 − alpha, and the Wald ``p``.
    ph_test : pandas.DataFrame
        One row per term: ``term``, ``statistic`` and ``p`` of the Schoenfeld-residual test
        (Grambsch & Therneau [GT94]_, rank time transform), ``verdict`` in plain language.
    reference_levels : Mapping[str, str]
        Reference level of each categorical variable, ``"group"`` included.
    n, n_events : int
        Patients and events in the fit.
    alpha : float
    ties : str
        How tied event times were handled.
    notes : tuple of str
        Warnings raised while fitting (e.g. convergence), in plain words.
    """

    table: pd.DataFrame
    ph_test: pd.DataFrame
    reference_levels: Mapping[str, str]
    n: int
    n_events: int
    alpha: float
    ties: str = "efron"
    notes: tuple[str, ...] = field(default=())


@dataclass(frozen=True)
class _Term:
    column: str
    term: str
    variable: str
    level: str
    reference: str


def _require_events_in_every_group(labels: LabelArray, events: np.ndarray, reference: str) -> None:
    for name in np.unique(labels).tolist():
        member = labels == name
        if not events[member].any():
            raise ValidationError(
                f"group {name!r} has no events ({int(member.sum())} patients, all censored), "
                f"so its hazard ratio against {reference!r} cannot be estimated; merge it "
                "with a neighbouring group or leave it out"
            )


def _reference_level(values: pd.Series) -> str:
    """First category of a Categorical, else the most frequent level (ties: sorted first)."""
    if isinstance(values.dtype, pd.CategoricalDtype):
        return str(values.cat.categories[0])
    counts = values.astype(str).value_counts()
    return str(min(counts.index[counts == counts.max()]))


def _dummies(
    values: pd.Series, variable: str, reference: str, start: int
) -> tuple[dict[str, np.ndarray], list[_Term]]:
    as_text = values.astype(str).to_numpy()
    levels = sorted(set(as_text) - {reference})
    columns, terms = {}, []
    for offset, level in enumerate(levels):
        column = f"x{start + offset}"
        columns[column] = (as_text == level).astype(float)
        terms.append(
            _Term(column, f"{variable}: {level} vs {reference}", variable, level, reference)
        )
    return columns, terms


def _is_numeric(values: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(values) and not isinstance(
        values.dtype, pd.CategoricalDtype
    )


def _design(
    labels: LabelArray, reference: str, covariates: pd.DataFrame | None
) -> tuple[pd.DataFrame, list[_Term], dict[str, str]]:
    """Model matrix with neutral column names, the terms they stand for, reference levels."""
    columns, terms = _dummies(pd.Series(labels), "group", reference, 0)
    references = {"group": reference}
    table = pd.DataFrame() if covariates is None else covariates.reset_index(drop=True)
    for name in table.columns:
        values = table[name]
        _reject_missing(values, str(name))
        if _is_numeric(values):
            column = f"x{len(terms)}"
            columns[column] = values.to_numpy(dtype=float)
            terms.append(_Term(column, str(name), str(name), "", ""))
            continue
        if values.astype(str).nunique() < 2:
            raise ValidationError(
                f"covariate {str(name)!r} takes a single value in these patients and carries "
                "no information; leave it out"
            )
        references[str(name)] = _reference_level(values)
        more_columns, more_terms = _dummies(values, str(name), references[str(name)], len(terms))
        columns.update(more_columns)
        terms.extend(more_terms)
    design = pd.DataFrame(columns)
    constant = [term.term for term in terms if design[term.column].nunique() < 2]
    if constant:
        raise ValidationError(
            f"covariate term(s) {constant} take a single value in these "
            "patients and carry no information; leave them out"
        )
    return design, terms, references


def _reject_missing(values: pd.Series, name: str) -> None:
    missing = np.flatnonzero(values.isna().to_numpy())
    if missing.size:
        raise ValidationError(
            f"covariate {name!r} is missing at row(s) {', '.join(map(str, missing[:5]))}; "
            "the Cox model needs complete cases: impute or drop those patients"
        )


def _verdict(p_value: float, alpha: float) -> str:
    if not math.isfinite(p_value):
        return "not testable"
    p_text = "p < 0.001" if p_value < 0.001 else f"p = {p_value:.3f}"
    if p_value < alpha:
        return (
            f"hazards may not be proportional ({p_text}): the hazard ratio averages an effect "
            "that changes over time; consider stratifying or a time-varying effect"
        )
    return f"no evidence against proportional hazards ({p_text})"


def _batch_mode(durations: pd.Series) -> bool | None:
    """lifelines' batch computation (over distinct times, not patients) when times repeat.

    Follow-up in months to one decimal gives a large cohort a few thousand distinct times;
    lifelines' per-patient loop is then far slower than its batch one, with the same
    likelihood. Otherwise lifelines chooses.
    """
    return True if 2 * durations.nunique() <= len(durations) else None


def _fit(data: pd.DataFrame, alpha: float) -> tuple[CoxPHFitter, list[str]]:
    fitter = CoxPHFitter(alpha=alpha)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            fitter.fit(
                data,
                duration_col="duration",
                event_col="event",
                batch_mode=_batch_mode(data["duration"]),
            )
        except (ConvergenceError, np.linalg.LinAlgError) as error:
            raise ValidationError(
                "the Cox model could not be fitted (the likelihood did not converge, often "
                "because a group or covariate level has too few events or separates events "
                f"perfectly): {str(error).splitlines()[0]}"
            ) from None
    notes = [
        str(item.message).splitlines()[0]
        for item in caught
        if not issubclass(item.category, DeprecationWarning)
    ]
    for note in notes:
        logger.warning("Cox fit: %s", note)
    return fitter, notes


def _hazard_table(fitter: CoxPHFitter, terms: list[_Term], alpha: float) -> pd.DataFrame:
    z = stats.norm.ppf(1.0 - alpha / 2.0)
    summary = fitter.summary.loc[[term.column for term in terms]]
    coef = summary["coef"].to_numpy(dtype=float)
    se = summary["se(coef)"].to_numpy(dtype=float)
    with np.errstate(over="ignore"):
        table = pd.DataFrame(
            {
                "term": [term.term for term in terms],
                "variable": [term.variable for term in terms],
                "level": [term.level for term in terms],
                "reference": [term.reference for term in terms],
                "coef": coef,
                "se": se,
                "hr": np.exp(coef),
                "ci_lower": np.exp(coef - z * se),
                "ci_upper": np.exp(coef + z * se),
                "p": summary["p"].to_numpy(dtype=float),
            },
            columns=TABLE_COLUMNS,
        )
    infinite = table.loc[~np.isfinite(table[["hr", "ci_lower", "ci_upper"]]).all(axis=1), "term"]
    if not infinite.empty:
        raise ValidationError(
            f"the Cox model gives no finite hazard ratio for {infinite.tolist()}: events are "
            "(almost) perfectly separated by these terms; merge sparse groups or levels"
        )
    return table


def schoenfeld_residuals(
    design: np.ndarray, durations: np.ndarray, events: np.ndarray, beta: np.ndarray
) -> np.ndarray:
    r"""Schoenfeld residuals with Efron's handling of ties, one row per event, vectorised.

    ``design``, ``durations`` and ``events`` must be sorted by time. At a time :math:`t` with
    :math:`d` events :math:`D`, risk set :math:`R` and :math:`\phi_j = \exp(\beta^\top x_j)`,
    the residual of event :math:`i \in D` is :math:`x_i - \bar x(t)` with Efron's mean
    :math:`\bar x(t) = \frac1d \sum_{l=0}^{d-1} \frac{\sum_R \phi x - \frac ld \sum_D \phi x}
    {\sum_R \phi - \frac ld \sum_D \phi}` (as lifelines computes it, without its loop over
    rows: sums over risk sets are reverse cumulative sums, O(n log n) for the sort).

    Returns
    -------
    ndarray, shape (events, p)
        In the order of the events in the sorted input.
    """
    x = np.asarray(design, dtype=float)
    phi = np.exp(x @ beta)
    phi_x = phi[:, None] * x
    # risk-set sums at each row: everything at or after the first row of its time
    risk_phi_rows = np.cumsum(phi[::-1])[::-1]
    risk_phi_x_rows = np.cumsum(phi_x[::-1], axis=0)[::-1]
    times, first = np.unique(durations, return_index=True)
    group = np.searchsorted(times, durations)
    has_event = np.bincount(group, weights=events.astype(float), minlength=times.size)
    event_groups = np.flatnonzero(has_event > 0)
    tie_count = has_event[event_groups].astype(np.int64)
    tie_phi = np.bincount(group, weights=phi * events, minlength=times.size)[event_groups]
    tie_phi_x = np.stack(
        [
            np.bincount(group, weights=phi_x[:, k] * events, minlength=times.size)[event_groups]
            for k in range(x.shape[1])
        ],
        axis=1,
    ).reshape(event_groups.size, x.shape[1])
    risk_phi = risk_phi_rows[first[event_groups]]
    risk_phi_x = risk_phi_x_rows[first[event_groups]]
    # one row per (tie group, l = 0 .. d - 1)
    owner = np.repeat(np.arange(event_groups.size), tie_count)
    starts = np.concatenate(([0], np.cumsum(tie_count)[:-1]))
    fraction = (np.arange(owner.size) - starts[owner]) / tie_count[owner]
    numer = risk_phi_x[owner] - fraction[:, None] * tie_phi_x[owner]
    denom = risk_phi[owner] - fraction * tie_phi[owner]
    terms = numer / (denom * tie_count[owner])[:, None]
    mean = np.add.reduceat(terms, starts, axis=0) if owner.size else terms
    event_rows = np.flatnonzero(events)
    row_group = np.searchsorted(event_groups, group[event_rows])
    return np.asarray(x[event_rows] - mean[row_group])


def ph_test_statistics(
    design: np.ndarray,
    durations: np.ndarray,
    events: np.ndarray,
    beta: np.ndarray,
    variance: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    r"""Grambsch–Therneau test of proportional hazards per term, rank time transform [GT94]_.

    Data sorted by time. With the scaled Schoenfeld residuals
    :math:`s^*_k = D\, s_k V` (:math:`D` events, :math:`V` the variance matrix of
    :math:`\hat\beta`) and :math:`g_k` the rank of the k-th event time among the events,
    centred, the statistic of term :math:`j` is
    :math:`(\sum_k g_k s^*_{kj})^2 / (D\, V_{jj} \sum_k g_k^2)`, chi-square with 1 degree of
    freedom (the approximation lifelines' ``proportional_hazard_test`` uses).

    Returns
    -------
    statistic, p : ndarray, shape (p,)
    """
    n_events = float(events.sum())
    residuals = schoenfeld_residuals(design, durations, events, beta)
    scaled = n_events * residuals @ variance
    rank = np.cumsum(events)[events.astype(bool)].astype(float)
    centred = rank - rank.mean()
    statistic = (centred @ scaled) ** 2 / (n_events * np.diag(variance) * (centred**2).sum())
    return statistic, stats.chi2.sf(statistic, 1)


def _ph_table(
    fitter: CoxPHFitter, data: pd.DataFrame, terms: list[_Term], alpha: float
) -> pd.DataFrame:
    order = fitter.durations.index.to_numpy()  # lifelines' own (stable) order by time
    columns = [term.column for term in terms]
    statistic, p_values = ph_test_statistics(
        data.loc[order, columns].to_numpy(dtype=float),
        data.loc[order, "duration"].to_numpy(dtype=float),
        data.loc[order, "event"].to_numpy(dtype=bool),
        fitter.params_.loc[columns].to_numpy(dtype=float),
        fitter.variance_matrix_.loc[columns, columns].to_numpy(dtype=float),
    )
    rows = [
        {
            "term": term.term,
            "statistic": float(statistic[i]),
            "p": float(p_values[i]),
            "verdict": _verdict(float(p_values[i]), alpha),
        }
        for i, term in enumerate(terms)
    ]
    return pd.DataFrame(rows, columns=["term", "statistic", "p", "verdict"])


def cox_hazard_ratios(
    durations: ArrayLike,
    event_observed: ArrayLike,
    groups: ArrayLike,
    reference: object,
    covariates: pd.DataFrame | None = None,
    *,
    alpha: float = 0.05,
) -> CoxResult:
    r"""Hazard ratios of each group against a reference group, from a Cox model.

    The model is :math:`h(t \mid x) = h_0(t) \exp(\beta^\top x)` (Cox [Cox72]_), fitted by
    maximising the partial likelihood with Efron's approximation for tied times [Ef77]_.
    Groups enter as indicators against ``reference``; numeric covariates enter as they are
    (per unit), other covariates (risk class, centre…) as indicators against a stated
    reference level: the first category of a ``pandas.Categorical`` (order the categories
    to choose it), otherwise the most frequent level. HR = exp(β) with the Wald interval
    exp(β ± z₁₋α/₂ SE). Proportional hazards are checked per term with the
    Schoenfeld-residual test of Grambsch & Therneau [GT94]_ (rank time transform).

    Parameters
    ----------
    durations, event_observed : array_like, shape (n,)
    groups : array_like, shape (n,)
        Group label per patient.
    reference : label
        The reference group (HR = 1).
    covariates : pandas.DataFrame, optional
        n rows, aligned by position with ``durations``, no missing values.
    alpha : float, default 0.05

    Returns
    -------
    CoxResult

    Raises
    ------
    ValidationError
        Bad input, an unknown reference, a group without events, a covariate with a single
        value, or a model that cannot be fitted.
    """
    times, events = check_survival_data(durations, event_observed)
    labels = check_groups(groups, times.size)
    name = str(reference)
    present = sorted(set(labels.tolist()))
    if name not in present:
        raise ValidationError(f"reference group {name!r} is not among the groups {present}")
    if len(present) < 2:
        raise ValidationError(f"a hazard ratio needs at least two groups; got only {present}")
    if covariates is not None and len(covariates) != times.size:
        raise ValidationError(
            f"covariates has {len(covariates)} rows but there are "
            f"{times.size} durations; give one row per patient"
        )
    _require_events_in_every_group(labels, events, name)
    design, terms, references = _design(labels, name, covariates)
    data = design.assign(duration=times, event=events.astype(int))
    fitter, notes = _fit(data, alpha)
    return CoxResult(
        table=_hazard_table(fitter, terms, alpha),
        ph_test=_ph_table(fitter, data, terms, alpha),
        reference_levels=references,
        n=int(times.size),
        n_events=int(events.sum()),
        alpha=alpha,
        notes=tuple(notes),
    )

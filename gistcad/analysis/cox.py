"""Cox proportional-hazards ratios of groups, optionally adjusted, with a PH check.

The model is fitted by Newton–Raphson over the partial likelihood in numpy (:func:`fit_cox`,
Efron's handling of tied times by default, Breslow's on request), vectorised over patients so
that 100,000 of them take a fraction of a second; results are frozen dataclasses of arrays and
data frames.

References
----------
.. [Cox72] Cox DR. Regression models and life-tables. J R Stat Soc B 1972;34:187–220.
.. [Ef77] Efron B. The efficiency of Cox's likelihood function for censored data.
   J Am Stat Assoc 1977;72:557–565.
.. [Br74] Breslow N. Covariance analysis of censored survival data. Biometrics
   1974;30:89–99.
.. [GT94] Grambsch PM, Therneau TM. Proportional hazards tests and diagnostics based on
   weighted residuals. Biometrika 1994;81:515–526.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from scipy import stats

from gistcad.analysis.time_to_event import check_groups, check_survival_data, group_codes
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
        How tied event times were handled (``"efron"`` or ``"breslow"``).
    notes : tuple of str
        Remarks on the fit, in plain words.
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


def _require_events_in_every_group(
    names: tuple[str, ...], codes: np.ndarray, events: np.ndarray, reference: str
) -> None:
    patients = np.bincount(codes, minlength=len(names))
    with_events = np.bincount(codes, weights=events.astype(float), minlength=len(names))
    for code, name in enumerate(names):
        if with_events[code] == 0:
            raise ValidationError(
                f"group {name!r} has no events ({int(patients[code])} patients, all censored), "
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


def _group_dummies(
    names: tuple[str, ...], codes: np.ndarray, reference: str
) -> tuple[dict[str, np.ndarray], list[_Term]]:
    """The groups' indicators against ``reference`` (``codes``: positions in ``names``)."""
    columns: dict[str, np.ndarray] = {}
    terms: list[_Term] = []
    for code, level in enumerate(names):
        if level == reference:
            continue
        column = f"x{len(terms)}"
        columns[column] = (codes == code).astype(float)
        terms.append(_Term(column, f"group: {level} vs {reference}", "group", level, reference))
    return columns, terms


def _design(
    groups: tuple[tuple[str, ...], np.ndarray], reference: str, covariates: pd.DataFrame | None
) -> tuple[pd.DataFrame, list[_Term], dict[str, str]]:
    """Model matrix with neutral column names, the terms they stand for, reference levels
    (``groups``: the sorted group names and each patient's position among them)."""
    columns, terms = _group_dummies(*groups, reference)
    group_columns = set(columns)
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
    # a group's indicator varies (every group is present, and there are two or more)
    constant = [
        term.term
        for term in terms
        if term.column not in group_columns and design[term.column].nunique() < 2
    ]
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


class Ties(StrEnum):
    """How tied event times enter the partial likelihood."""

    EFRON = "efron"
    BRESLOW = "breslow"


@dataclass(frozen=True, eq=False)
class CoxFit:
    """A fitted Cox model in plain arrays.

    Attributes
    ----------
    coef : ndarray, shape (p,)
        The maximum partial-likelihood estimates of :math:`\\beta`.
    variance : ndarray, shape (p, p)
        Their variance matrix, the inverse of the observed information at ``coef``.
    log_likelihood : float
        The log partial likelihood at ``coef``.
    iterations : int
        Newton–Raphson steps taken.
    """

    coef: np.ndarray
    variance: np.ndarray
    log_likelihood: float
    iterations: int

    @property
    def se(self) -> np.ndarray:
        """Standard errors of ``coef``."""
        return np.sqrt(np.diag(self.variance))


@dataclass(frozen=True)
class _RiskSets:
    """Data sorted by time, as cells: the patients of one distinct time with one covariate
    pattern, each cell counted once with its number of patients and of events."""

    x: np.ndarray  # covariates of each cell
    weight: np.ndarray  # patients in each cell
    events: np.ndarray  # events in each cell
    row_time: np.ndarray  # index of the cell's distinct time
    time_starts: np.ndarray  # the first cell of each distinct time (cells sorted by time)
    n_times: int
    event_times: np.ndarray  # distinct-time index of each time with events
    owner: np.ndarray  # one entry per event: the position of its time in event_times
    fraction: np.ndarray  # Efron's l / d of that entry (0 with Breslow's ties)


def _patterns(x: np.ndarray) -> np.ndarray:
    """The index of each row's covariate pattern (equal rows, equal index), by hashing."""
    if x.shape[1] == 0:
        return np.zeros(x.shape[0], dtype=np.int64)
    columns = list(range(x.shape[1]))
    grouped = pd.DataFrame(x).groupby(columns, sort=False, dropna=False)
    return np.asarray(grouped.ngroup().to_numpy(), dtype=np.int64)


def _risk_sets(
    x: np.ndarray,
    durations: np.ndarray,
    events: np.ndarray,
    ties: Ties,
    *,
    distinct_rows: bool = False,
) -> _RiskSets:
    """Rows sorted by time reduced to cells (distinct time × covariate pattern).

    Every sum in the likelihood is a sum over patients of terms that depend only on their
    time, event flag and covariates, so patients sharing a time and a covariate pattern are
    summed once, weighted by their number (their events by the events' number): exact, and
    the work per Newton–Raphson step grows with the cells, at most the patients (for groups
    and coded covariates, far fewer). ``distinct_rows``: take every row as its own pattern
    (continuous covariates, where the hashing costs more than it saves).
    """
    _, row_time = np.unique(durations, return_inverse=True)
    # continuous covariates (radiomics): every row is its own pattern, no hashing needed
    pattern = np.arange(x.shape[0], dtype=np.int64) if distinct_rows else _patterns(x)
    n_patterns = int(pattern.max()) + 1 if pattern.size else 1
    key = row_time.astype(np.int64) * n_patterns + pattern
    cells, first_row, cell_of_row = np.unique(key, return_index=True, return_inverse=True)
    weight = np.bincount(cell_of_row, minlength=cells.size).astype(float)
    cell_events = np.bincount(cell_of_row, weights=events, minlength=cells.size)
    cell_time = cells // n_patterns
    time_starts = np.flatnonzero(np.concatenate(([True], np.diff(cell_time) != 0)))
    n_times = int(time_starts.size)
    deaths = np.rint(np.bincount(cell_time, weights=cell_events, minlength=n_times)).astype(
        np.int64
    )
    event_times = np.flatnonzero(deaths)
    tie_count = deaths[event_times]
    owner = np.repeat(np.arange(event_times.size), tie_count)
    starts = np.concatenate(([0], np.cumsum(tie_count)[:-1]))
    if ties is Ties.EFRON:
        fraction = (np.arange(owner.size) - starts[owner]) / tie_count[owner]
    else:
        fraction = np.zeros(owner.size)
    return _RiskSets(
        x[first_row],
        weight,
        cell_events,
        cell_time,
        time_starts,
        n_times,
        event_times,
        owner,
        fraction,
    )


def _derivatives(sets: _RiskSets, beta: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
    r"""Log partial likelihood, its gradient and Hessian at ``beta``, without a loop.

    At an event time with :math:`d` events :math:`D` and risk set :math:`R`, Efron's term
    :math:`l = 0 .. d-1` has denominator :math:`S_0 - \frac ld \sum_D \phi` (Breslow's:
    :math:`S_0`). Sums over risk sets are reverse cumulative sums over the distinct times,
    and the second-moment sums :math:`\sum \phi x x^\top` are weighted products
    :math:`X^\top \mathrm{diag}(w) X` (never an n × p × p array). Each cell of
    :class:`_RiskSets` stands for its patients (``weight``) and their events (``events``).
    """
    x, events = sets.x, sets.events
    eta = x @ beta
    shift = float(eta.max())
    phi = np.exp(eta - shift)  # the likelihood is unchanged by a common factor
    n_times, p = sets.n_times, x.shape[1]

    def per_time(weights: np.ndarray) -> np.ndarray:
        # cells are sorted by time: each distinct time's cells are one contiguous run
        return np.asarray(np.add.reduceat(weights, sets.time_starts, axis=0))

    def at_or_after(values: np.ndarray) -> np.ndarray:
        return np.cumsum(values[::-1], axis=0)[::-1]

    risk_phi = phi * sets.weight
    phi_x = risk_phi[:, None] * x
    dead_phi = phi * events
    risk0 = at_or_after(per_time(risk_phi))[sets.event_times]
    risk1 = at_or_after(per_time(phi_x).reshape(n_times, p))[sets.event_times]
    tie0 = per_time(dead_phi)[sets.event_times]
    tie1 = per_time(dead_phi[:, None] * x).reshape(n_times, p)[sets.event_times]
    owner, f = sets.owner, sets.fraction
    denom = risk0[owner] - f * tie0[owner]
    n_events = sets.event_times.size

    def by_time(weights: np.ndarray) -> np.ndarray:
        return np.bincount(owner, weights=weights, minlength=n_events)

    a, b = by_time(1.0 / denom), by_time(f / denom)
    c0, c1, c2 = by_time(denom**-2.0), by_time(f * denom**-2.0), by_time(f**2 * denom**-2.0)
    log_likelihood = float(eta @ events - np.log(denom).sum() - shift * owner.size)
    gradient = x.T @ events - (a @ risk1 - b @ tie1)
    # sum over event times of a_g * (risk-set sum of phi x x^T): each cell counts for every
    # event time at or before its own
    a_by_time = np.zeros(n_times)
    a_by_time[sets.event_times] = a
    b_by_row = np.zeros(n_times)
    b_by_row[sets.event_times] = b
    row_weight = risk_phi * np.cumsum(a_by_time)[sets.row_time] - dead_phi * b_by_row[sets.row_time]
    second = (x * row_weight[:, None]).T @ x
    outer = (
        (risk1 * c0[:, None]).T @ risk1
        - (risk1 * c1[:, None]).T @ tie1
        - (tie1 * c1[:, None]).T @ risk1
        + (tie1 * c2[:, None]).T @ tie1
    )
    hessian = -(second - outer)
    return log_likelihood, gradient, hessian


def fit_cox(
    design: ArrayLike,
    durations: ArrayLike,
    event_observed: ArrayLike,
    *,
    ties: Ties | str = Ties.EFRON,
    tol: float = 1e-10,
    max_iter: int = 100,
) -> CoxFit:
    r"""Maximise Cox's partial likelihood by Newton–Raphson, vectorised over patients.

    Parameters
    ----------
    design : array_like, shape (n, p)
        Covariates, one row per patient (no intercept).
    durations, event_observed : array_like, shape (n,)
        Time and event flag (1 event, 0 censored) per patient.
    ties : {"efron", "breslow"}
        Efron's approximation [Ef77]_ (as R's ``coxph`` and lifelines) or Breslow's (as
        Stata's default).
    tol
        Stop when no coefficient moves by more than this in a step.
    max_iter
        Steps before giving up.

    Returns
    -------
    CoxFit

    Raises
    ------
    ValidationError
        When the likelihood has no finite maximum (events separated by a covariate) or the
        information matrix is singular.

    Notes
    -----
    After one sort, patients sharing a time and a covariate pattern are summed once (exact:
    every term of the likelihood is a sum over patients), so each step costs a few passes
    over those cells (O(cells · p²), cells ≤ n; with groups alone, at most the distinct times
    × the groups). A step that lowers the likelihood is halved; Newton–Raphson from 0 takes
    3–6 steps on survival data (the last one moving by less than ``tol``).
    """
    x = np.asarray(design, dtype=float)
    times = np.asarray(durations, dtype=float)
    events = np.asarray(event_observed, dtype=float)
    order = np.lexsort((events, times))
    sets = _risk_sets(x[order], times[order], events[order], Ties(ties))
    beta = np.zeros(x.shape[1])
    log_likelihood, gradient, hessian = _derivatives(sets, beta)
    for iteration in range(1, max_iter + 1):
        try:
            step = np.linalg.solve(-hessian, gradient)
        except np.linalg.LinAlgError:
            raise ValidationError(_NOT_FITTED + "the information matrix is singular") from None
        new = beta + step
        new_ll, new_gradient, new_hessian = _derivatives(sets, new)
        while new_ll < log_likelihood - 1e-12 * abs(log_likelihood) and np.abs(step).max() > tol:
            step = step / 2.0
            new = beta + step
            new_ll, new_gradient, new_hessian = _derivatives(sets, new)
        beta, log_likelihood, gradient, hessian = new, new_ll, new_gradient, new_hessian
        if np.abs(beta).max() > _DIVERGED:
            break
        if np.abs(step).max() < tol:
            return CoxFit(beta, _inverse(hessian), log_likelihood, iteration)
    raise _Diverged(beta)


def sorted_risk_sets(
    design: np.ndarray, durations: np.ndarray, events: np.ndarray, ties: Ties
) -> _RiskSets:
    """The risk-set cells of unsorted data (sorted by time, censored first among ties), for
    :func:`partial_likelihood_derivatives`; shared with :mod:`gistcad.analysis.penalised_cox`."""
    order = np.lexsort((events, durations))
    return _risk_sets(design[order], durations[order], events[order], ties, distinct_rows=True)


def partial_likelihood_derivatives(
    sets: _RiskSets, beta: np.ndarray
) -> tuple[float, np.ndarray, np.ndarray]:
    """Log partial likelihood, gradient (p,) and Hessian (p, p) at ``beta`` (see
    :func:`_derivatives`)."""
    return _derivatives(sets, beta)


#: a log hazard ratio beyond this (a ratio beyond e^30) means the likelihood has no maximum
_DIVERGED = 30.0
_NOT_FITTED = (
    "the Cox model could not be fitted (often because a group or covariate level has too few "
    "events or separates events perfectly): "
)


class _Diverged(ValidationError):
    def __init__(self, beta: np.ndarray) -> None:
        super().__init__(_NOT_FITTED + "the likelihood did not converge")
        self.beta = beta


def _inverse(hessian: np.ndarray) -> np.ndarray:
    try:
        return np.asarray(np.linalg.inv(-hessian))
    except np.linalg.LinAlgError:
        raise ValidationError(_NOT_FITTED + "the information matrix is singular") from None


def _hazard_table(fit: CoxFit, terms: list[_Term], alpha: float) -> pd.DataFrame:
    z = stats.norm.ppf(1.0 - alpha / 2.0)
    coef, se = fit.coef, fit.se
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
                "p": 2.0 * stats.norm.sf(np.abs(coef / se)),
            },
            columns=TABLE_COLUMNS,
        )
    return table


def _fit(
    design: np.ndarray, times: np.ndarray, events: np.ndarray, terms: list[_Term], ties: Ties
) -> CoxFit:
    try:
        fit = fit_cox(design, times, events, ties=ties)
        logger.debug("Cox fit: %d Newton-Raphson steps", fit.iterations)
        return fit
    except _Diverged as error:
        infinite = [
            t.term for t, b in zip(terms, error.beta, strict=True) if abs(b) > _DIVERGED / 2
        ]
        if not infinite:
            raise
        raise ValidationError(
            f"the Cox model gives no finite hazard ratio for {infinite}: events are "
            "(almost) perfectly separated by these terms; merge sparse groups or levels"
        ) from None


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
    # the rows are sorted by time: each distinct time is one run of rows, starting at first
    starts_run = np.concatenate(([True], durations[1:] != durations[:-1]))
    first = np.flatnonzero(starts_run)
    group = np.cumsum(starts_run) - 1
    dead = events.astype(float)
    has_event = np.add.reduceat(dead, first)
    event_groups = np.flatnonzero(has_event > 0)
    tie_count = has_event[event_groups].astype(np.int64)
    tie_phi = np.add.reduceat(phi * dead, first)[event_groups]
    tie_phi_x = np.add.reduceat(phi_x * dead[:, None], first, axis=0)[event_groups]
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
    rank = np.cumsum(events)[events.astype(bool)].astype(float)
    centred = rank - rank.mean()
    # sum_k g_k s*_k = D (sum_k g_k s_k) V: the residuals are summed, never listed
    weighted = n_events * _weighted_residual_sum(design, durations, events, beta, centred)
    statistic = (weighted @ variance) ** 2 / (n_events * np.diag(variance) * (centred**2).sum())
    return statistic, stats.chi2.sf(statistic, 1)


def _weighted_residual_sum(
    design: np.ndarray,
    durations: np.ndarray,
    events: np.ndarray,
    beta: np.ndarray,
    weights: np.ndarray,
) -> np.ndarray:
    r""":math:`\sum_k w_k s_k` over the Schoenfeld residuals :math:`s_k` of
    :func:`schoenfeld_residuals` (same sorted input, ``weights`` one per event, in order).

    With :math:`x_k - \bar x(t_k)` and Efron's mean written as
    :math:`\bar x(t) = \frac1d (S_1 \sum_l \frac1{S_0 - \frac ld T_0} - T_1 \sum_l
    \frac{l/d}{S_0 - \frac ld T_0})` (:math:`S` sums over the risk set, :math:`T` over the
    tied events), the sum is :math:`\sum_k w_k x_k - \sum_t W_t \bar x(t)`, :math:`W_t`
    the weights of time :math:`t`'s events: risk sets are summed per distinct time (not per
    row) and only the event rows are read again.
    """
    x = np.asarray(design, dtype=float)
    dead = np.asarray(events).astype(bool)
    rows = np.flatnonzero(dead)
    if rows.size == 0:
        return np.zeros(x.shape[1])
    phi = np.exp(x @ beta)
    starts_run = np.concatenate(([True], durations[1:] != durations[:-1]))
    first = np.flatnonzero(starts_run)
    time_of_row = np.cumsum(starts_run) - 1
    # risk-set sums at each distinct time: everything at or after its first row
    risk0 = np.cumsum(np.add.reduceat(phi, first)[::-1])[::-1]
    risk1 = np.cumsum(np.add.reduceat(phi[:, None] * x, first, axis=0)[::-1], axis=0)[::-1]
    # the event rows, one run per event time
    event_time = time_of_row[rows]
    new_time = np.concatenate(([True], event_time[1:] != event_time[:-1]))
    starts = np.flatnonzero(new_time)
    owner = np.cumsum(new_time) - 1
    ties = np.diff(np.append(starts, rows.size)).astype(float)
    x_dead, phi_dead = x[rows], phi[rows]
    tie0 = np.add.reduceat(phi_dead, starts)
    tie1 = np.add.reduceat(phi_dead[:, None] * x_dead, starts, axis=0)
    times = event_time[starts]
    fraction = (np.arange(rows.size) - starts[owner]) / ties[owner]
    denom = risk0[times][owner] - fraction * tie0[owner]
    n_times = starts.size
    a = np.bincount(owner, weights=1.0 / denom, minlength=n_times)
    b = np.bincount(owner, weights=fraction / denom, minlength=n_times)
    mean = (risk1[times] * a[:, None] - tie1 * b[:, None]) / ties[:, None]
    by_time = np.bincount(owner, weights=weights, minlength=n_times)
    return np.asarray(x_dead.T @ weights - by_time @ mean)


def _ph_table(
    fit: CoxFit,
    design: np.ndarray,
    times: np.ndarray,
    events: np.ndarray,
    terms: list[_Term],
    alpha: float,
) -> pd.DataFrame:
    """The PH test per term; ``design``, ``times`` and ``events`` sorted by time (censored
    first among ties, else stable)."""
    statistic, p_values = ph_test_statistics(
        design, times, events.astype(bool), fit.coef, fit.variance
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
    ties: Ties | str = "efron",
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
    ties : {"efron", "breslow"}
        How tied event times are handled (see :func:`fit_cox`).

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
    names, codes = group_codes(labels)
    present = list(names)
    if name not in present:
        raise ValidationError(f"reference group {name!r} is not among the groups {present}")
    if len(present) < 2:
        raise ValidationError(f"a hazard ratio needs at least two groups; got only {present}")
    if covariates is not None and len(covariates) != times.size:
        raise ValidationError(
            f"covariates has {len(covariates)} rows but there are "
            f"{times.size} durations; give one row per patient"
        )
    _require_events_in_every_group(names, codes, events, name)
    design, terms, references = _design((names, codes), name, covariates)
    event_flags = events.astype(float)
    # sorted once, by time, censored first among ties, else stable: the fit and the PH check
    order = np.lexsort((event_flags, times))
    x, times, event_flags = design.to_numpy(dtype=float)[order], times[order], event_flags[order]
    fit = _fit(x, times, event_flags, terms, Ties(ties))
    return CoxResult(
        table=_hazard_table(fit, terms, alpha),
        ph_test=_ph_table(fit, x, times, event_flags, terms, alpha),
        reference_levels=references,
        n=int(times.size),
        n_events=int(events.sum()),
        alpha=alpha,
        ties=Ties(ties).value,
    )

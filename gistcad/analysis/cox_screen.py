"""A Cox model per candidate feature, adjusted for the same covariates, all fitted at once.

Each feature j gets the model :math:`h(t) = h_0(t) \\exp(\\gamma^\\top c + \\beta_j f_j)`
(Cox [Cox72]_, Efron's ties [Ef77]_): the covariates :math:`c` (the clinical factors) are
shared, the feature differs. Instead of one Newton–Raphson loop per feature, the m models are
stacked and stepped together: risk-set sums are reverse cumulative sums over the sorted times
for every model at once, and the m small (q × q) systems are solved in one batched call. The
estimates are those of :func:`gistcad.analysis.cox.fit_cox` (tested against it).

References
----------
.. [Cox72] Cox DR. Regression models and life-tables. J R Stat Soc B 1972;34:187–220.
.. [Ef77] Efron B. The efficiency of Cox's likelihood function for censored data.
   J Am Stat Assoc 1977;72:557–565.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import stats

from gistcad.analysis.time_to_event import check_survival_data
from gistcad.errors import ValidationError

logger = logging.getLogger(__name__)

FloatArray = NDArray[np.float64]

#: a log hazard ratio beyond this (a ratio beyond e^10 per unit: per SD, no real biomarker
#: comes near) is taken as no finite maximum (the events are separated)
_DIVERGED = 10.0
#: the largest move of any coefficient in one Newton–Raphson step (a damped step)
_MAX_STEP = 1.0


@dataclass(frozen=True, eq=False)
class ScreenResult:
    """One adjusted Cox model per feature: the feature's log hazard ratio and its test.

    Attributes
    ----------
    coef, se : ndarray, shape (m,)
        Log hazard ratio per unit of each feature and its standard error (NaN when the
        model has no finite maximum).
    hr, ci_lower, ci_upper : ndarray, shape (m,)
        exp(coef) and the Wald interval exp(coef ± z₁₋α/₂ se).
    p : ndarray, shape (m,)
        Two-sided Wald p-value of coef = 0.
    converged : ndarray of bool, shape (m,)
    covariates_used : tuple of int
        The covariate columns that entered the models (others carried no information in
        these patients, see :func:`informative_columns`).
    n, n_events : int
    """

    coef: FloatArray
    se: FloatArray
    hr: FloatArray
    ci_lower: FloatArray
    ci_upper: FloatArray
    p: FloatArray
    converged: NDArray[np.bool_]
    covariates_used: tuple[int, ...]
    n: int
    n_events: int


def informative_columns(covariates: FloatArray, events: FloatArray) -> list[int]:
    """The covariate columns a Cox model can estimate in these patients.

    A column is left out when it is constant, or when it is a 0/1 indicator whose patients
    with 1 (or with 0) have no event: its hazard ratio has no finite estimate, and leaving
    the indicator out merges its level into the reference level.

    Parameters
    ----------
    covariates : ndarray, shape (n, k)
    events : ndarray, shape (n,)
    """
    kept = []
    for j in range(covariates.shape[1]):
        column = covariates[:, j]
        if np.ptp(column) == 0:
            continue
        if np.isin(column, (0.0, 1.0)).all():
            on = column == 1.0
            if not events[on].any() or not events[~on].any():
                continue
        kept.append(j)
    return kept


@dataclass(frozen=True)
class _Sorted:
    x: FloatArray  # (m, n, q): covariates then the model's feature, rows sorted by time
    events: FloatArray  # (n,)
    time_starts: NDArray[np.intp]  # first row of each distinct time
    event_times: NDArray[np.intp]  # distinct-time index of each time with events
    owner: NDArray[np.intp]  # one entry per event: its position in event_times
    fraction: FloatArray  # Efron's l / d of that entry


def _prepare(x: FloatArray, times: FloatArray, events: FloatArray) -> _Sorted:
    order = np.lexsort((events, times))
    times, events = times[order], events[order]
    x = x[:, order, :]
    _, time_starts, time_index = np.unique(times, return_index=True, return_inverse=True)
    deaths = np.rint(np.bincount(time_index, weights=events)).astype(np.intp)
    event_times = np.flatnonzero(deaths)
    ties = deaths[event_times]
    owner = np.repeat(np.arange(event_times.size), ties)
    starts = np.concatenate(([0], np.cumsum(ties)[:-1]))
    fraction = (np.arange(owner.size) - starts[owner]) / ties[owner]
    return _Sorted(x, events, time_starts, event_times, owner, fraction)


def _derivatives(s: _Sorted, beta: FloatArray) -> tuple[FloatArray, FloatArray, FloatArray]:
    r"""Log partial likelihood (m,), gradient (m, q) and Hessian (m, q, q) of every model.

    Efron's term :math:`l` of a time with :math:`d` events :math:`D` and risk set :math:`R`
    has denominator :math:`\sum_R \phi - \frac ld \sum_D \phi`; the first and second
    moments are formed the same way from :math:`\phi x` and :math:`\phi x x^\top`.
    """
    x, events = s.x, s.events
    eta = np.einsum("mnq,mq->mn", x, beta)
    shift = eta.max(axis=1, keepdims=True)
    phi = np.exp(eta - shift)
    phi_x = phi[..., None] * x
    phi_xx = phi_x[..., :, None] * x[..., None, :]

    def per_time(values: FloatArray) -> FloatArray:
        return np.asarray(np.add.reduceat(values, s.time_starts, axis=1))

    def at_or_after(values: FloatArray) -> FloatArray:
        return np.asarray(np.flip(np.cumsum(np.flip(values, axis=1), axis=1), axis=1))

    at = s.event_times[s.owner]
    f = s.fraction[None, :]
    dead = events[None, :]
    r0 = at_or_after(per_time(phi))[:, at]
    r1 = at_or_after(per_time(phi_x))[:, at]
    r2 = at_or_after(per_time(phi_xx))[:, at]
    d0 = per_time(phi * dead)[:, at]
    d1 = per_time(phi_x * dead[..., None])[:, at]
    d2 = per_time(phi_xx * dead[..., None, None])[:, at]
    denom = r0 - f * d0
    mean1 = (r1 - f[..., None] * d1) / denom[..., None]
    mean2 = (r2 - f[..., None, None] * d2) / denom[..., None, None]
    log_likelihood = (eta * dead).sum(axis=1) - (np.log(denom) + shift).sum(axis=1)
    gradient = np.einsum("mnq,n->mq", x, events) - mean1.sum(axis=1)
    hessian = -(mean2.sum(axis=1) - np.einsum("meq,mer->mqr", mean1, mean1))
    return log_likelihood, gradient, hessian


def _newton(
    s: _Sorted, tol: float, max_iter: int
) -> tuple[FloatArray, FloatArray, NDArray[np.bool_]]:
    """Damped Newton–Raphson for every model at once: coefficients, variance, converged.

    Each step works on the models still moving only, so a few slow ones (a feature close to
    separating the events) do not make every model pay for their steps.
    """
    m, _, q = s.x.shape
    beta = np.zeros((m, q))
    done = np.zeros(m, dtype=bool)
    for _ in range(max_iter):
        active = np.flatnonzero(~done)
        if active.size == 0:
            break
        part = replace(s, x=s.x[active])
        _, gradient, hessian = _derivatives(part, beta[active])
        information = -hessian
        try:
            step = np.linalg.solve(information, gradient[..., None])[..., 0]
        except np.linalg.LinAlgError:
            step = np.einsum("mqr,mr->mq", np.linalg.pinv(information), gradient)
        largest = np.abs(step).max(axis=1, keepdims=True)
        step = np.where(largest > _MAX_STEP, step * _MAX_STEP / np.maximum(largest, 1e-300), step)
        beta[active] += step
        done[active] = (np.abs(step).max(axis=1) < tol) | (
            np.abs(beta[active]).max(axis=1) > _DIVERGED
        )
    _, _, hessian = _derivatives(s, beta)
    converged = done & (np.abs(beta).max(axis=1) <= _DIVERGED)
    with np.errstate(invalid="ignore"):
        variance = np.asarray(np.linalg.pinv(-hessian), dtype=float)
    return np.asarray(beta, dtype=float), variance, np.asarray(converged, dtype=bool)


def cox_screen(
    features: ArrayLike,
    durations: ArrayLike,
    event_observed: ArrayLike,
    covariates: ArrayLike | None = None,
    *,
    alpha: float = 0.05,
    tol: float = 1e-9,
    max_iter: int = 60,
) -> ScreenResult:
    r"""Fit, for each feature, a Cox model of the feature and the covariates; report the feature.

    Parameters
    ----------
    features : array_like, shape (n, m)
        One column per candidate, no missing value. The hazard ratio is per unit: standardise
        a column to SD 1 for a hazard ratio per standard deviation.
    durations, event_observed : array_like, shape (n,)
    covariates : array_like, shape (n, k), optional
        The adjustment, numeric (indicators for categories). Columns that carry no
        information in these patients are left out (:func:`informative_columns`).
    alpha : float
        1 − the confidence level of the intervals.
    tol, max_iter
        Newton–Raphson stops when no coefficient of a model moves by more than ``tol``.

    Returns
    -------
    ScreenResult
        Per feature the Wald estimate :math:`\hat\beta_j`, its standard error from the
        inverse observed information, HR = exp(β̂) with CI exp(β̂ ± z se) and the Wald p.
        A model without a finite maximum (a feature that separates the events) has
        ``converged`` False and NaN estimates.

    Raises
    ------
    ValidationError
        For mismatched shapes, missing values, or no events.
    """
    times, events_bool = check_survival_data(durations, event_observed)
    events = events_bool.astype(float)
    f = np.asarray(features, dtype=float)
    if f.ndim != 2 or f.shape[0] != times.size:
        raise ValidationError(
            f"features must be a table of {times.size} rows (one per patient) by features; "
            f"got shape {f.shape}"
        )
    if not np.isfinite(f).all():
        raise ValidationError("features have missing or infinite values: impute them first")
    n, m = f.shape
    c = np.zeros((n, 0)) if covariates is None else np.asarray(covariates, dtype=float)
    if c.ndim != 2 or c.shape[0] != n or not np.isfinite(c).all():
        raise ValidationError(
            f"covariates must be a complete numeric table of {n} rows; got shape {c.shape}"
        )
    if not events.any():
        raise ValidationError("no events among these patients: no hazard ratio can be estimated")
    used = informative_columns(c, events)
    c = c[:, used]
    x = np.concatenate([np.broadcast_to(c, (m, n, c.shape[1])), f.T[:, :, None]], axis=2)
    beta, variance, converged = _newton(_prepare(x, times, events), tol, max_iter)
    feature_variance = variance[:, -1, -1]
    # a feature constant in these patients has no estimate (its information is 0)
    converged = converged & (np.ptp(f, axis=0) > 0) & np.isfinite(feature_variance)
    converged &= feature_variance > 0
    coef = np.where(converged, beta[:, -1], np.nan)
    with np.errstate(invalid="ignore"):
        se = np.where(converged, np.sqrt(np.abs(feature_variance)), np.nan)
        z = stats.norm.ppf(1.0 - alpha / 2.0)
        p = 2.0 * stats.norm.sf(np.abs(coef / se))
    logger.debug("Cox screen: %d features, %d converged", m, int(converged.sum()))
    return ScreenResult(
        coef=coef,
        se=se,
        hr=np.exp(coef),
        ci_lower=np.exp(coef - z * se),
        ci_upper=np.exp(coef + z * se),
        p=p,
        converged=converged,
        covariates_used=tuple(used),
        n=n,
        n_events=int(events.sum()),
    )


def r_squared_on(features: ArrayLike, predictor: ArrayLike) -> FloatArray:
    r"""The R² of each feature's least-squares line on one predictor (e.g. log size).

    For a single predictor, :math:`R^2 = r^2`, the squared Pearson correlation.

    Parameters
    ----------
    features : array_like, shape (n, m)
    predictor : array_like, shape (n,)

    Returns
    -------
    ndarray, shape (m,)
        0 for a constant feature.
    """
    f = np.asarray(features, dtype=float)
    x = np.asarray(predictor, dtype=float)
    fc = f - f.mean(axis=0)
    xc = x - x.mean()
    denominator = (fc**2).sum(axis=0) * (xc**2).sum()
    with np.errstate(invalid="ignore", divide="ignore"):
        r2 = (xc @ fc) ** 2 / denominator
    return np.asarray(np.where(denominator > 0, r2, 0.0), dtype=float)


def tertiles(values: ArrayLike) -> NDArray[np.object_]:
    """Each value's tertile: "Low", "Middle" or "High" (cut at the 1/3 and 2/3 quantiles).

    >>> tertiles([1, 2, 3, 4, 5, 6]).tolist()
    ['Low', 'Low', 'Middle', 'Middle', 'High', 'High']
    """
    v = np.asarray(values, dtype=float)
    low, high = np.quantile(v, [1 / 3, 2 / 3])
    labels = np.where(v <= low, "Low", np.where(v <= high, "Middle", "High"))
    return np.asarray(labels, dtype=object)


#: the order of :func:`tertiles`' groups, lowest first
TERTILE_ORDER = ("Low", "Middle", "High")

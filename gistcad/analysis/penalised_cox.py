"""Ridge-penalised Cox regression, its penalty chosen by cross-validated partial likelihood.

For many correlated covariates (radiomics features) the maximum partial-likelihood estimate
overfits or does not exist; the ridge penalty shrinks every coefficient toward 0:

.. math::
    \\hat\\beta_\\lambda = \\arg\\max_\\beta\\;
    \\ell(\\beta) - \\tfrac{\\lambda}{2}\\lVert\\beta\\rVert^2

with :math:`\\ell` Cox's log partial likelihood (Efron's ties), fitted by Newton–Raphson with the
penalty in the step: gradient :math:`\\nabla\\ell - \\lambda\\beta`, Hessian
:math:`\\nabla^2\\ell - \\lambda I` (Verweij & van Houwelingen 1994 [VvH94]_). The penalty
is chosen among a grid by the cross-validated partial likelihood of Verweij & van Houwelingen
1993 [VvH93]_, :math:`CVL(\\lambda) = \\sum_k \\{\\ell(\\hat\\beta_{-k}) -
\\ell_{-k}(\\hat\\beta_{-k})\\}`: the contribution of the held-out fold k to the full-data
likelihood, at the coefficients fitted without it. Covariates are best standardised first
(the penalty treats every coefficient alike).

Only the ridge penalty is offered: the elastic net's L1 part needs coordinate descent and a
sub-gradient, which this Newton step does not give.

References
----------
.. [VvH93] Verweij PJM, van Houwelingen HC. Cross-validation in survival analysis. Stat Med
   1993;12:2305-2314.
.. [VvH94] Verweij PJM, van Houwelingen HC. Penalized likelihood in Cox regression. Stat Med
   1994;13:2427-2436.
.. [Br72] Breslow NE. Discussion of Professor Cox's paper. J R Stat Soc B 1972;34:216-217
   (the baseline cumulative hazard).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from gistcad.analysis.cox import Ties, partial_likelihood_derivatives, sorted_risk_sets
from gistcad.errors import ValidationError

logger = logging.getLogger(__name__)

FloatArray = NDArray[np.float64]

#: the default grid of penalties (per patient: multiplied by the number of patients)
PENALTY_GRID: tuple[float, ...] = (0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0)


@dataclass(frozen=True, eq=False)
class RidgeCoxFit:
    """A ridge-penalised Cox fit.

    Attributes
    ----------
    coef : ndarray, shape (p,)
        :math:`\\hat\\beta_\\lambda`, per unit of each covariate as given.
    penalty : float
        :math:`\\lambda`.
    log_likelihood : float
        The unpenalised log partial likelihood at ``coef``.
    iterations : int
    """

    coef: FloatArray
    penalty: float
    log_likelihood: float
    iterations: int

    def linear_predictor(self, design: ArrayLike) -> FloatArray:
        """:math:`X\\hat\\beta`, shape (n,)."""
        return np.asarray(np.asarray(design, dtype=float) @ self.coef, dtype=np.float64)


def _arrays(
    design: ArrayLike, durations: ArrayLike, event_observed: ArrayLike
) -> tuple[FloatArray, FloatArray, FloatArray]:
    x = np.asarray(design, dtype=float)
    times = np.asarray(durations, dtype=float)
    events = np.asarray(event_observed, dtype=float)
    if x.ndim != 2 or x.shape[0] != times.size or events.shape != times.shape:
        raise ValidationError(
            f"design must be (patients, covariates) with one duration and event per row; got "
            f"{x.shape}, {times.shape} and {events.shape}"
        )
    if not (np.isfinite(x).all() and np.isfinite(times).all()):
        raise ValidationError("the penalised Cox model needs complete, finite covariates and times")
    if not events.any():
        raise ValidationError("all patients are censored: a Cox model needs at least one event")
    return x, times, events


def fit_ridge_cox(
    design: ArrayLike,
    durations: ArrayLike,
    event_observed: ArrayLike,
    penalty: float,
    *,
    tol: float = 1e-9,
    max_iter: int = 100,
) -> RidgeCoxFit:
    """Maximise the ridge-penalised partial likelihood by Newton–Raphson (see the module doc).

    Parameters
    ----------
    design : array_like, shape (n, p)
    durations, event_observed : array_like, shape (n,)
    penalty : float
        :math:`\\lambda \\ge 0`; 0 is the ordinary Cox fit (which may not exist). With a
        penalty and more covariates than patients, the fit runs in the row space of the design
        (its thin SVD), exactly and in O(n³) per step rather than O(p³).

    Returns
    -------
    RidgeCoxFit
    """
    if penalty < 0:
        raise ValidationError(f"the ridge penalty must be ≥ 0, got {penalty}")
    x, times, events = _arrays(design, durations, event_observed)
    if penalty > 0 and x.shape[1] > x.shape[0]:
        # more covariates than patients: the optimum lies in the row space of X; with the thin
        # SVD X = U S Vᵀ, β = V γ gives Xβ = (U S) γ and |β| = |γ|: fit γ on n columns, exactly
        vt = np.linalg.svd(x, full_matrices=False)[2]
        reduced = fit_ridge_cox(x @ vt.T, times, events, penalty, tol=tol, max_iter=max_iter)
        return RidgeCoxFit(
            vt.T @ reduced.coef, reduced.penalty, reduced.log_likelihood, reduced.iterations
        )
    sets = sorted_risk_sets(x, times, events, Ties.EFRON)
    identity = np.eye(x.shape[1])

    def objective(beta: FloatArray) -> tuple[float, float, FloatArray, FloatArray]:
        ll, gradient, hessian = partial_likelihood_derivatives(sets, beta)
        penalised = ll - 0.5 * penalty * float(beta @ beta)
        return penalised, ll, gradient - penalty * beta, hessian - penalty * identity

    beta = np.zeros(x.shape[1])
    value, ll, gradient, hessian = objective(beta)
    for iteration in range(1, max_iter + 1):
        try:
            step = np.linalg.solve(-hessian, gradient)
        except np.linalg.LinAlgError:
            raise ValidationError(
                "the penalised Cox model could not be fitted: the information matrix is "
                "singular; raise the penalty"
            ) from None
        new = beta + step
        new_value, new_ll, new_gradient, new_hessian = objective(new)
        while new_value < value - 1e-12 * abs(value) and np.abs(step).max() > tol:
            step = step / 2.0
            new = beta + step
            new_value, new_ll, new_gradient, new_hessian = objective(new)
        beta, value, ll, gradient, hessian = new, new_value, new_ll, new_gradient, new_hessian
        if np.abs(step).max() < tol:
            return RidgeCoxFit(beta, float(penalty), ll, iteration)
    raise ValidationError(
        f"the penalised Cox model did not converge in {max_iter} steps (penalty {penalty}); "
        "raise the penalty"
    )


def log_partial_likelihood(
    design: ArrayLike, durations: ArrayLike, event_observed: ArrayLike, coef: ArrayLike
) -> float:
    """Cox's log partial likelihood (Efron's ties) of these patients at ``coef``."""
    x, times, events = _arrays(design, durations, event_observed)
    sets = sorted_risk_sets(x, times, events, Ties.EFRON)
    return partial_likelihood_derivatives(sets, np.asarray(coef, dtype=float))[0]


def fold_of_patients(events: ArrayLike, n_folds: int, seed: int) -> NDArray[np.int64]:
    """Fold 0..k−1 of each patient, dealt at random within events and within censored."""
    flags = np.asarray(events, dtype=bool)
    rng = np.random.default_rng(seed)
    fold = np.empty(flags.size, dtype=np.int64)
    start = 0
    for members in (np.flatnonzero(flags), np.flatnonzero(~flags)):
        shuffled = rng.permutation(members)
        fold[shuffled] = (start + np.arange(shuffled.size)) % n_folds
        start += shuffled.size
    return fold


@dataclass(frozen=True)
class PenaltyChoice:
    """The cross-validated partial likelihood of each penalty and the one chosen."""

    penalties: tuple[float, ...]
    cvl: tuple[float, ...]
    best: float


def choose_penalty(
    design: ArrayLike,
    durations: ArrayLike,
    event_observed: ArrayLike,
    *,
    grid: Sequence[float] | None = None,
    n_folds: int = 5,
    seed: int = 0,
) -> PenaltyChoice:
    """The penalty of ``grid`` with the highest cross-validated partial likelihood [VvH93]_.

    ``grid`` is per patient (default :data:`PENALTY_GRID`): each value is multiplied by the
    number of patients, so a choice carries over to a cohort of another size. A penalty
    whose fit fails in a fold scores −inf.
    """
    x, times, events = _arrays(design, durations, event_observed)
    per_patient = tuple(PENALTY_GRID if grid is None else grid)
    fold = fold_of_patients(events, n_folds, seed)
    full_sets = sorted_risk_sets(x, times, events, Ties.EFRON)
    scores = []
    for value in per_patient:
        total = 0.0
        for k in range(n_folds):
            train = fold != k
            if not events[train].any():
                continue
            try:
                fit = fit_ridge_cox(x[train], times[train], events[train], value * train.sum())
            except ValidationError:
                total = -np.inf
                break
            full = partial_likelihood_derivatives(full_sets, fit.coef)[0]
            total += full - fit.log_likelihood
        scores.append(float(total))
    best = per_patient[int(np.argmax(scores))]
    logger.debug("ridge penalty %s per patient (CVL %s)", best, scores)
    return PenaltyChoice(per_patient, tuple(scores), best)


def breslow_cumulative_hazard(
    linear_predictor: ArrayLike,
    durations: ArrayLike,
    event_observed: ArrayLike,
    times: ArrayLike,
) -> FloatArray:
    """Breslow's baseline cumulative hazard at ``times`` [Br72]_.

    :math:`\\hat H_0(t) = \\sum_{t_k \\le t} d_k / \\sum_{j: T_j \\ge t_k} \\exp(\\eta_j)`,
    with :math:`\\eta` the fitted linear predictor of the training patients; a patient's
    survival is then :math:`\\exp(-\\hat H_0(t)\\, e^{\\eta})`.

    Returns
    -------
    ndarray, shape (q,)
    """
    eta = np.asarray(linear_predictor, dtype=float)
    t = np.asarray(durations, dtype=float)
    e = np.asarray(event_observed, dtype=float)
    unique, inverse = np.unique(t, return_inverse=True)
    deaths = np.bincount(inverse, weights=e)
    risk = np.cumsum(np.bincount(inverse, weights=np.exp(eta))[::-1])[::-1]
    jumps = np.where(deaths > 0, deaths / risk, 0.0)
    cumulative = np.cumsum(jumps)
    index = np.searchsorted(unique, np.asarray(times, dtype=float), side="right") - 1
    return np.asarray(np.where(index < 0, 0.0, cumulative[np.clip(index, 0, None)]))

"""How well a risk score predicts recurrence-free survival, and what it adds to a risk scheme.

Pure numpy over a score per patient and their right-censored follow-up (higher score =
earlier failure): Uno's concordance with inverse probability of censoring weights up to a
truncation time τ, the cumulative/dynamic time-dependent AUC at a time t, calibration of
predicted survival at t against the Kaplan–Meier estimate by risk group (with the
calibration slope), the difference of two concordance indices on the same patients with a
paired bootstrap interval, and the likelihood-ratio test of a score added to a Cox model of
a clinical scheme. Harrell's C is :func:`gistcad.analysis.performance.concordance_index`.

Every inverse-probability weight uses :math:`\\hat G`, the Kaplan–Meier estimate of the
censoring distribution (the censored patients are the "events"; at a time shared by events
and censorings the censorings are taken to come after the events), read just before the
patient's own time, :math:`\\hat G(T_i-)`.

References
----------
.. [Har82] Harrell FE et al. Evaluating the yield of medical tests. JAMA 1982;247:2543-2546.
.. [Uno11] Uno H, Cai T, Pencina MJ, D'Agostino RB, Wei LJ. On the C-statistics for
   evaluating overall adequacy of risk prediction procedures with censored survival data.
   Stat Med 2011;30:1105-1117.
.. [Uno07] Uno H, Cai T, Tian L, Wei LJ. Evaluating prediction rules for t-year survivors
   with censored regression models. J Am Stat Assoc 2007;102:527-537.
.. [HC10] Hung H, Chiang CT. Estimation methods for time-dependent AUC models with survival
   data. Can J Stat 2010;38:8-26.
.. [RA13] Royston P, Altman DG. External validation of a Cox prognostic model: principles
   and methods. BMC Med Res Methodol 2013;13:33 (calibration slope, calibration by group).
.. [Efr79] Efron B. Bootstrap methods: another look at the jackknife. Ann Stat 1979;7:1-26.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from enum import StrEnum

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray
from scipy import stats

from gistcad.analysis.cox import fit_cox
from gistcad.analysis.kaplan_meier import kaplan_meier, survival_at
from gistcad.analysis.performance import harrell_usable_pairs
from gistcad.analysis.time_to_event import as_1d_float, check_survival_data
from gistcad.errors import ValidationError

logger = logging.getLogger(__name__)

FloatArray = NDArray[np.float64]
BoolArray = NDArray[np.bool_]


class ConcordanceKind(StrEnum):
    """Which concordance index: Harrell's (all usable pairs) or Uno's (IPCW, up to τ)."""

    HARRELL = "harrell"
    UNO = "uno"


def _check(
    score: ArrayLike, durations: ArrayLike, event_observed: ArrayLike
) -> tuple[FloatArray, FloatArray, BoolArray]:
    times, events = check_survival_data(durations, event_observed)
    risk = as_1d_float(score, "score")
    if risk.size != times.size:
        raise ValidationError(
            f"score has {risk.size} values but there are {times.size} durations; give one "
            "score per patient"
        )
    if not np.isfinite(risk).all():
        bad = np.flatnonzero(~np.isfinite(risk))[:5].tolist()
        raise ValidationError(f"score is missing or infinite at row(s) {bad}; drop those patients")
    return risk, times, events


def censoring_survival_before(
    durations: ArrayLike, event_observed: ArrayLike, times: ArrayLike
) -> FloatArray:
    r""":math:`\hat G(t-)`: the Kaplan–Meier estimate of staying uncensored, just before ``times``.

    Parameters
    ----------
    durations, event_observed : array_like, shape (n,)
        The follow-up whose censoring is estimated (censored = 1 - event).
    times : array_like, shape (q,)

    Returns
    -------
    ndarray, shape (q,)
        1 before the first censoring; the left limit of the step function elsewhere.
    """
    t, e = check_survival_data(durations, event_observed)
    # the product limit of the censorings, those at a time shared with events counted after
    # the events (at risk: n - d): Ĝ steps by 1 - c / (n - d) at each censoring time
    censored_at, censored = np.unique(t[~e], return_counts=True)
    event_times = np.sort(t[e])
    at_risk = t.size - np.searchsorted(np.sort(t), censored_at, side="left")
    events_then = np.searchsorted(event_times, censored_at, side="right") - np.searchsorted(
        event_times, censored_at, side="left"
    )
    steps = np.concatenate([[1.0], np.cumprod(1.0 - censored / (at_risk - events_then))])
    # the number of censoring times strictly before each query: Ĝ's left limit there
    values = steps[np.searchsorted(censored_at, np.asarray(times, dtype=float), side="left")]
    return np.asarray(values, dtype=np.float64)


def _pair_weights(
    times: FloatArray, events: BoolArray, kind: ConcordanceKind, tau: float | None
) -> FloatArray:
    r"""(n, n) weight of each ordered pair (i fails first, j outlives it).

    Harrell: :math:`\Delta_i I(T_i < T_j)`, and a tie in time where j is censored
    (:func:`~gistcad.analysis.performance.harrell_usable_pairs`). Uno:
    :math:`\Delta_i \hat G(T_i-)^{-2} I(T_i < T_j, T_i < \tau)` [Uno11]_.
    """
    if kind is ConcordanceKind.HARRELL:
        return harrell_usable_pairs(times, events).astype(np.float64)
    usable = (times[:, None] < times[None, :]) & events[:, None]
    limit = np.inf if tau is None else float(tau)
    g = censoring_survival_before(times, events, times)
    weight = np.where(events & (times < limit), 1.0 / g**2, 0.0)
    return np.asarray(usable * weight[:, None], dtype=np.float64)


def _concordant(risk: FloatArray) -> FloatArray:
    """(n, n): 1 where i's score is above j's, ½ where tied, else 0."""
    return np.asarray(
        (risk[:, None] > risk[None, :]) + 0.5 * (risk[:, None] == risk[None, :]), dtype=np.float64
    )


def uno_concordance(
    score: ArrayLike, durations: ArrayLike, event_observed: ArrayLike, *, tau: float | None = None
) -> float:
    r"""Uno's C: concordance weighted by the inverse probability of censoring, up to τ.

    .. math::
        C_\tau = \frac{\sum_{i,j} \Delta_i \hat G(T_i-)^{-2} I(T_i < T_j, T_i < \tau)
        \{I(\eta_i > \eta_j) + \tfrac12 I(\eta_i = \eta_j)\}}
        {\sum_{i,j} \Delta_i \hat G(T_i-)^{-2} I(T_i < T_j, T_i < \tau)}

    (Uno et al. 2011 [Uno11]_, eq. 6). Unlike Harrell's C its limit does not depend on the
    censoring distribution.

    Parameters
    ----------
    score : array_like, shape (n,)
        Risk score, higher = earlier failure.
    durations, event_observed : array_like, shape (n,)
    tau : float, optional
        Truncation time, in the unit of ``durations`` (default: no truncation). Choose one
        at which enough patients are still followed.

    Returns
    -------
    float
        NaN when no pair is usable.
    """
    risk, times, events = _check(score, durations, event_observed)
    weight = _pair_weights(times, events, ConcordanceKind.UNO, tau)
    total = weight.sum()
    if total == 0:
        return float("nan")
    return float((weight * _concordant(risk)).sum() / total)


def cumulative_dynamic_auc(
    score: ArrayLike, durations: ArrayLike, event_observed: ArrayLike, time: float
) -> float:
    r"""Time-dependent AUC at ``time``: cases failed by t, controls still event-free after t.

    .. math::
        \widehat{AUC}(t) = \frac{\sum_i \sum_j I(T_i \le t, \Delta_i = 1)\, I(T_j > t)
        \{I(\eta_i > \eta_j) + \tfrac12 I(\eta_i = \eta_j)\}\, w_i}
        {\sum_i \sum_j I(T_i \le t, \Delta_i = 1)\, I(T_j > t)\, w_i},
        \qquad w_i = 1 / \hat G(T_i-)

    (cumulative cases, dynamic controls; the IPCW estimator of Uno et al. 2007 [Uno07]_ and
    Hung & Chiang 2010 [HC10]_; the controls' weight :math:`1/\hat G(t)` is common to all of
    them and cancels).

    Returns
    -------
    float
        NaN when there is no case or no control at ``time``.
    """
    risk, times, events = _check(score, durations, event_observed)
    cases = events & (times <= time)
    controls = times > time
    if not cases.any() or not controls.any():
        return float("nan")
    w = 1.0 / censoring_survival_before(times, events, times[cases])
    above = (risk[cases][:, None] > risk[controls][None, :]).mean(axis=1)
    tied = (risk[cases][:, None] == risk[controls][None, :]).mean(axis=1)
    return float((w * (above + 0.5 * tied)).sum() / w.sum())


@dataclass(frozen=True)
class SurvivalCalibration:
    """Predicted against observed survival at one time, by risk group.

    Attributes
    ----------
    time : float
        The time of the comparison, unit of the durations.
    groups : pandas.DataFrame
        One row per group, lowest predicted risk first: ``group`` (1…), ``n``, ``events``,
        ``predicted`` (mean predicted survival at ``time``), ``observed`` (Kaplan–Meier of the
        group at ``time``, NaN when its follow-up stops before) with ``observed_lower`` and
        ``observed_upper`` (95 % log(−log) interval).
    slope, slope_se : float
        The calibration slope: the Cox coefficient of the linear predictor refitted on these
        patients (1 = well calibrated; below 1, predictions too extreme) [RA13]_, and its SE.
    """

    time: float
    groups: pd.DataFrame
    slope: float
    slope_se: float


def calibration_at(
    predicted_survival: ArrayLike,
    linear_predictor: ArrayLike,
    durations: ArrayLike,
    event_observed: ArrayLike,
    time: float,
    *,
    n_groups: int = 3,
) -> SurvivalCalibration:
    """Calibration of predicted survival at ``time`` by groups of predicted risk [RA13]_.

    Parameters
    ----------
    predicted_survival : array_like, shape (n,)
        Each patient's predicted probability of being event-free at ``time``.
    linear_predictor : array_like, shape (n,)
        The model's linear predictor (log relative hazard) of each patient, for the slope.
    durations, event_observed : array_like, shape (n,)
    time : float
        E.g. 60 (months) for five years.
    n_groups : int
        Equal-sized groups by predicted survival (tertiles by default).

    Returns
    -------
    SurvivalCalibration
    """
    predicted, times, events = _check(predicted_survival, durations, event_observed)
    lp = as_1d_float(linear_predictor, "linear_predictor")
    if lp.size != times.size:
        raise ValidationError("linear_predictor needs one value per patient")
    order = np.argsort(-predicted, kind="stable")  # highest predicted survival = lowest risk
    rows = []
    for k, members in enumerate(np.array_split(order, min(n_groups, times.size)), start=1):
        at = survival_at(kaplan_meier(times[members], events[members]), [time]).iloc[0]
        rows.append(
            {
                "group": k,
                "n": int(members.size),
                "events": int(events[members].sum()),
                "predicted": float(predicted[members].mean()),
                "observed": float(at["survival"]),
                "observed_lower": float(at["ci_lower"]),
                "observed_upper": float(at["ci_upper"]),
            }
        )
    slope, slope_se = float("nan"), float("nan")
    if events.any() and np.ptp(lp) > 0:
        try:
            fit = fit_cox(lp[:, None], times, events)
            slope, slope_se = float(fit.coef[0]), float(fit.se[0])
        except ValidationError:  # too few patients: the events separate by the score
            logger.info("calibration slope not estimable on %d patients", times.size)
    return SurvivalCalibration(float(time), pd.DataFrame(rows), slope, slope_se)


@dataclass(frozen=True)
class ConcordanceDifference:
    """Two concordance indices on the same patients and their difference (a − b).

    ``ci_lower``/``ci_upper``: the paired percentile bootstrap interval of the difference
    at level 1 − ``alpha``; ``p``: the two-sided bootstrap p of "no difference" (twice the
    smaller share of bootstrap differences on either side of 0).
    """

    kind: ConcordanceKind
    c_a: float
    c_b: float
    delta: float
    ci_lower: float
    ci_upper: float
    p: float
    n_boot: int
    alpha: float

    def __str__(self) -> str:
        return f"ΔC {self.delta:+.3f} ({self.ci_lower:+.3f} to {self.ci_upper:+.3f})"


#: bootstrap replicates computed per matrix product (memory: n × this many floats)
_BOOT_CHUNK = 200


def _bootstrap_concordances(
    weight: FloatArray, concordant: tuple[FloatArray, ...], n_boot: int, seed: int
) -> tuple[FloatArray, ...]:
    """Each score's bootstrap replicates of C (see :func:`compare_concordance`), shape
    (n_boot,) each, on the same resamples; NaN where a resample has no usable pair."""
    rng = np.random.default_rng(seed)
    n = weight.shape[0]
    chunks: list[list[FloatArray]] = [[] for _ in concordant]
    for start in range(0, n_boot, _BOOT_CHUNK):
        size = min(_BOOT_CHUNK, n_boot - start)
        counts = rng.multinomial(n, np.full(n, 1.0 / n), size=size).T.astype(np.float64)
        denom = np.einsum("ib,ib->b", counts, weight @ counts)
        with np.errstate(invalid="ignore", divide="ignore"):
            for chunk, pairs in zip(chunks, concordant, strict=True):
                chunk.append(np.einsum("ib,ib->b", counts, pairs @ counts) / denom)
    return tuple(np.concatenate(chunk) for chunk in chunks)


@dataclass(frozen=True)
class _Bootstrapped:
    """Scores' concordances on all patients (``c``, one per score) and on the same bootstrap
    resamples (``replicates``, shape (resamples with a usable pair, scores))."""

    kind: ConcordanceKind
    c: tuple[float, ...]
    replicates: FloatArray


def _bootstrapped(
    scores: tuple[ArrayLike, ...],
    durations: ArrayLike,
    event_observed: ArrayLike,
    *,
    kind: ConcordanceKind | str,
    tau: float | None,
    n_boot: int,
    seed: int,
) -> _Bootstrapped:
    """The set-up shared by :func:`compare_concordance` and :func:`concordance_interval`:
    check every score against the follow-up, weigh the pairs, compute each C and its paired
    bootstrap replicates (resamples without a usable pair discarded)."""
    kind = ConcordanceKind(kind)
    checked = [_check(score, durations, event_observed) for score in scores]
    _, times, events = checked[0]
    weight = _pair_weights(times, events, kind, tau)
    if weight.sum() == 0:
        raise ValidationError(
            "no usable pair of patients (no event before a longer follow-up): the concordance "
            "is not defined"
        )
    concordant = tuple(weight * _concordant(risk) for risk, _, _ in checked)
    c = tuple(float(pairs.sum() / weight.sum()) for pairs in concordant)
    replicates = np.column_stack(_bootstrap_concordances(weight, concordant, n_boot, seed))
    return _Bootstrapped(kind, c, replicates[np.isfinite(replicates).all(axis=1)])


def _percentile_interval(replicates: FloatArray, alpha: float) -> tuple[float, float]:
    """The (alpha/2, 1 − alpha/2) percentiles of bootstrap replicates [Efr79]_."""
    lower, upper = np.quantile(replicates, [alpha / 2.0, 1.0 - alpha / 2.0])
    return float(lower), float(upper)


def compare_concordance(
    score_a: ArrayLike,
    score_b: ArrayLike,
    durations: ArrayLike,
    event_observed: ArrayLike,
    *,
    kind: ConcordanceKind | str = ConcordanceKind.HARRELL,
    tau: float | None = None,
    n_boot: int = 1000,
    alpha: float = 0.05,
    seed: int = 0,
) -> ConcordanceDifference:
    r"""ΔC = C(a) − C(b) with a paired bootstrap interval over patients [Efr79]_.

    Each replicate resamples patients with replacement and recomputes both indices on the
    same resample, so the interval accounts for their correlation. A replicate is the ratio
    of two quadratic forms in the patients' resampling counts :math:`w`:
    :math:`C^* = w^\top (W \circ K) w / w^\top W w` with :math:`W` the pair weights (see
    :func:`uno_concordance`; Harrell's: the usable pairs) and :math:`K` the concordance of
    each pair; a copy of a patient is never paired with itself (equal times are not a
    usable pair). Uno's weights keep :math:`\hat G` of the whole sample (not re-estimated in
    every replicate).

    Parameters are those of :func:`concordance_interval`, with two scores.

    Returns
    -------
    ConcordanceDifference
    """
    found = _bootstrapped(
        (score_a, score_b), durations, event_observed, kind=kind, tau=tau, n_boot=n_boot, seed=seed
    )
    (c_a, c_b), boot = found.c, found.replicates[:, 0] - found.replicates[:, 1]
    lower, upper = _percentile_interval(boot, alpha)
    p = min(1.0, 2.0 * min(float((boot <= 0).mean()), float((boot >= 0).mean())))
    return ConcordanceDifference(
        found.kind, c_a, c_b, c_a - c_b, lower, upper, p, int(boot.size), alpha
    )


@dataclass(frozen=True)
class ConcordanceInterval:
    """Harrell's or Uno's C with its bootstrap percentile interval (see
    :func:`concordance_interval`)."""

    kind: ConcordanceKind
    c: float
    ci_lower: float
    ci_upper: float
    n_boot: int
    alpha: float


def concordance_interval(
    score: ArrayLike,
    durations: ArrayLike,
    event_observed: ArrayLike,
    *,
    kind: ConcordanceKind | str = ConcordanceKind.HARRELL,
    tau: float | None = None,
    n_boot: int = 1000,
    alpha: float = 0.05,
    seed: int = 0,
) -> ConcordanceInterval:
    r"""C with a bootstrap percentile interval over patients [Efr79]_: the sampling error of
    one score's concordance (e.g. to tell whether it beats a ceiling beyond chance).

    The replicates are those of :func:`compare_concordance` (the ratio of two quadratic forms
    in the resampling counts), so the interval of a score is the one its ΔC would use.

    Parameters
    ----------
    score, durations, event_observed : array_like, shape (n,)
        Risk (higher = earlier failure), follow-up (any unit) and event indicator.
    kind : ConcordanceKind or str
        Harrell's (default) or Uno's C.
    tau : float, optional
        Uno's truncation time (see :func:`uno_concordance`); unused by Harrell's.
    n_boot, alpha, seed : int, float, int
        Bootstrap resamples (those without a usable pair are discarded), the interval's
        level 1 − alpha, and the seed of the resampling.
    """
    found = _bootstrapped(
        (score,), durations, event_observed, kind=kind, tau=tau, n_boot=n_boot, seed=seed
    )
    boot = found.replicates[:, 0]
    lower, upper = _percentile_interval(boot, alpha)
    return ConcordanceInterval(found.kind, found.c[0], lower, upper, int(boot.size), alpha)


@dataclass(frozen=True)
class LikelihoodRatioTest:
    """A score added to a Cox model of a scheme: the nested models' log partial likelihoods,
    the statistic 2 (ℓ_full − ℓ_base), its degrees of freedom (columns added) and p."""

    log_likelihood_base: float
    log_likelihood_full: float
    statistic: float
    df: int
    p: float


def likelihood_ratio_test(
    base: ArrayLike,
    added: ArrayLike,
    durations: ArrayLike,
    event_observed: ArrayLike,
) -> LikelihoodRatioTest:
    r"""Does ``added`` improve a Cox model of ``base``? The likelihood-ratio test of nested fits.

    :math:`LR = 2\{\ell(\hat\beta_{base}, \hat\gamma) - \ell(\hat\beta_{base}^0)\}`, chi-square
    with as many degrees of freedom as columns in ``added`` under the null that they add
    nothing (Cox 1972; fitted by :func:`gistcad.analysis.cox.fit_cox`, Efron's ties).

    Parameters
    ----------
    base : array_like, shape (n,), (n, p) or (n, 0)
        The scheme's covariates (e.g. the modified NIH class as an ordinal score); no column:
        the null model (:func:`null_log_likelihood`).
    added : array_like, shape (n,) or (n, q)
        What is added (e.g. the imaging risk score).
    durations, event_observed : array_like, shape (n,)
    """
    times, events = check_survival_data(durations, event_observed)
    x0 = np.asarray(base, dtype=float).reshape(times.size, -1)
    x1 = np.asarray(added, dtype=float).reshape(times.size, -1)
    full = np.hstack([x0, x1])
    if not np.isfinite(full).all():
        raise ValidationError("the covariates must be complete: drop patients with a missing value")
    if x1.shape[1] == 0:
        raise ValidationError("nothing is added to the base model: give at least one column")
    ll0 = (
        fit_cox(x0, times, events).log_likelihood
        if x0.shape[1]
        else null_log_likelihood(times, events)
    )
    ll1 = fit_cox(full, times, events).log_likelihood
    statistic = max(0.0, 2.0 * (ll1 - ll0))
    df = int(x1.shape[1])
    return LikelihoodRatioTest(ll0, ll1, statistic, df, float(stats.chi2.sf(statistic, df)))


def null_log_likelihood(durations: ArrayLike, event_observed: ArrayLike) -> float:
    r"""Cox's log partial likelihood at :math:`\beta = 0` (Efron's ties).

    At each event time with :math:`d` events among :math:`n` at risk the term is
    :math:`-\sum_{l=0}^{d-1} \log(n - l)` (every :math:`\phi = 1` in Efron's denominator
    [Ef77]_ of :mod:`gistcad.analysis.cox`).
    """
    times, events = check_survival_data(durations, event_observed)
    _, inverse = np.unique(times, return_inverse=True)
    deaths = np.bincount(inverse, weights=events.astype(float)).astype(np.int64)
    at_risk = times.size - np.concatenate(([0], np.cumsum(np.bincount(inverse))[:-1]))
    total = 0.0
    for d, n in zip(deaths[deaths > 0], at_risk[deaths > 0], strict=True):
        total -= float(np.log(n - np.arange(d)).sum())
    return total

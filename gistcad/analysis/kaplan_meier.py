"""Kaplan–Meier curves, their confidence bands, medians and number-at-risk tables.

Computed in numpy/scipy from the formulas cited in each docstring.

References
----------
.. [KM58] Kaplan EL, Meier P. Nonparametric estimation from incomplete observations.
   J Am Stat Assoc 1958;53:457–481.
.. [Gr26] Greenwood M. The natural duration of cancer. Reports on Public Health and Medical
   Subjects 1926;33:1–26.
.. [KP80] Kalbfleisch JD, Prentice RL. The Statistical Analysis of Failure Time Data.
   Wiley, 1980 (log(−log) confidence interval).
.. [BC82] Brookmeyer R, Crowley J. A confidence interval for the median survival time.
   Biometrics 1982;38:29–41.
.. [Mo19] Morris TP et al. Proposals on Kaplan–Meier plots in medical research and a survey
   of stakeholder views: KMunicate. BMJ Open 2019;9:e030215.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from scipy import stats

from gistcad.analysis.time_to_event import (
    FloatArray,
    IntArray,
    check_alpha,
    check_survival_data,
    check_times,
)

CI_METHOD = "log(-log) transform (Kalbfleisch & Prentice 1980) with Greenwood variance"
_HALF = 0.5 + 1e-12  # products like 1 - 1/2 can land a rounding error above one half


@dataclass(frozen=True, eq=False)
class KaplanMeierCurve:
    """A Kaplan–Meier estimate with its Greenwood variance and pointwise confidence band.

    All arrays have shape (m,), one entry per distinct observed time (event or censoring),
    in increasing order; the curve is a right-continuous step function, ``S = 1`` before
    ``times[0]``. Arrays are read-only.

    Attributes
    ----------
    times : ndarray of float
        Distinct observed times, in the unit of ``durations``.
    n_at_risk : ndarray of int
        Patients with follow-up ≥ ``times[j]`` (the risk set just before ``times[j]``).
    n_events, n_censored : ndarray of int
        Events and censorings at ``times[j]``.
    survival : ndarray of float
        S(t) just after ``times[j]``.
    variance : ndarray of float
        Greenwood variance of S(t); NaN where S(t) = 0 (the variance is not defined there).
    ci_lower, ci_upper : ndarray of float
        Pointwise (1 − alpha) confidence limits, log(−log) method (see ``ci_method``);
        both equal S where S is 0 or 1.
    alpha : float
        1 − confidence level.
    ci_method : str
        How the band was computed.
    """

    times: FloatArray
    n_at_risk: IntArray
    n_events: IntArray
    n_censored: IntArray
    survival: FloatArray
    variance: FloatArray
    ci_lower: FloatArray
    ci_upper: FloatArray
    alpha: float = 0.05
    ci_method: str = CI_METHOD

    def __post_init__(self) -> None:
        for name in (
            "times",
            "n_at_risk",
            "n_events",
            "n_censored",
            "survival",
            "variance",
            "ci_lower",
            "ci_upper",
        ):
            getattr(self, name).setflags(write=False)

    @property
    def n(self) -> int:
        """Number of patients."""
        return int(self.n_at_risk[0])

    @property
    def total_events(self) -> int:
        """Number of events over the whole follow-up."""
        return int(self.n_events.sum())

    @property
    def std_error(self) -> FloatArray:
        """Greenwood standard error of S(t), shape (m,)."""
        return np.sqrt(self.variance)

    def to_frame(self) -> pd.DataFrame:
        """The life table: one row per distinct time."""
        return pd.DataFrame(
            {
                "time": self.times,
                "at_risk": self.n_at_risk,
                "events": self.n_events,
                "censored": self.n_censored,
                "survival": self.survival,
                "std_error": self.std_error,
                "ci_lower": self.ci_lower,
                "ci_upper": self.ci_upper,
            }
        )


def kaplan_meier(
    durations: ArrayLike, event_observed: ArrayLike, *, alpha: float = 0.05
) -> KaplanMeierCurve:
    r"""Estimate the survival function by the product-limit method.

    .. math::
        \hat S(t) = \prod_{t_j \le t} \left(1 - \frac{d_j}{n_j}\right),\qquad
        \widehat{\operatorname{Var}}\,\hat S(t) = \hat S(t)^2
            \sum_{t_j \le t} \frac{d_j}{n_j (n_j - d_j)}

    (Kaplan & Meier [KM58]_; Greenwood [Gr26]_). The pointwise confidence interval uses the
    log(−log) transform of Kalbfleisch & Prentice [KP80]_:
    :math:`\hat S(t)^{\exp(\pm z_{1-\alpha/2}\, \sigma(t))}` with
    :math:`\sigma(t) = \sqrt{\sum d_j / (n_j(n_j - d_j))} \,/\, |\log \hat S(t)|`,
    which always lies in [0, 1].

    Parameters
    ----------
    durations : array_like, shape (n,)
        Follow-up times (≥ 0), any unit.
    event_observed : array_like, shape (n,)
        1 for an event, 0 for censored.
    alpha : float, default 0.05
        1 − confidence level of the band.

    Returns
    -------
    KaplanMeierCurve
    """
    times_all, events_all = check_survival_data(durations, event_observed)
    alpha = check_alpha(alpha)
    times, inverse = np.unique(times_all, return_inverse=True)
    total = np.bincount(inverse).astype(np.int64)
    events = np.bincount(inverse, weights=events_all).astype(np.int64)
    at_risk = times_all.size - np.concatenate(([0], np.cumsum(total)[:-1])).astype(np.int64)
    survival = np.cumprod(1.0 - events / at_risk).astype(np.float64)
    greenwood = _greenwood_sum(at_risk, events)
    with np.errstate(invalid="ignore"):
        variance = np.where(np.isinf(greenwood), np.nan, survival**2 * greenwood)
    lower, upper = _loglog_interval(survival, greenwood, alpha)
    return KaplanMeierCurve(
        times=times,
        n_at_risk=at_risk,
        n_events=events,
        n_censored=total - events,
        survival=survival,
        variance=variance,
        ci_lower=lower,
        ci_upper=upper,
        alpha=alpha,
    )


def _greenwood_sum(at_risk: IntArray, events: IntArray) -> FloatArray:
    """Cumulative sum of d/(n(n − d)); +inf once everyone at risk has had the event."""
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(events > 0, events / (at_risk * (at_risk - events)), 0.0)
    return np.cumsum(terms)


def _loglog_interval(
    survival: FloatArray, greenwood: FloatArray, alpha: float
) -> tuple[FloatArray, FloatArray]:
    z = stats.norm.ppf(1.0 - alpha / 2.0)
    lower, upper = survival.copy(), survival.copy()
    inner = (survival > 0.0) & (survival < 1.0)
    sigma = np.sqrt(greenwood[inner]) / np.abs(np.log(survival[inner]))
    lower[inner] = survival[inner] ** np.exp(z * sigma)
    upper[inner] = survival[inner] ** np.exp(-z * sigma)
    return lower, upper


def survival_at(curve: KaplanMeierCurve, times: ArrayLike) -> pd.DataFrame:
    """Read S(t) and its confidence limits at chosen times off the step function.

    The curve is right-continuous: at an event time the value after the drop is returned.
    Before the first observed time S = 1 (CI 1–1); after the last observed time S is not
    estimable and NaN is returned, unless the curve has already reached 0.

    Parameters
    ----------
    curve : KaplanMeierCurve
    times : array_like, shape (q,)
        Times ≥ 0 in the unit of the curve.

    Returns
    -------
    pandas.DataFrame
        q rows; columns ``time``, ``survival``, ``std_error``, ``ci_lower``, ``ci_upper``.
    """
    query = check_times(times)
    index = np.searchsorted(curve.times, query, side="right") - 1
    before = index < 0
    safe = np.clip(index, 0, None)

    def pick(values: FloatArray, start: float) -> FloatArray:
        return np.where(before, start, values[safe])

    frame = pd.DataFrame(
        {
            "time": query,
            "survival": pick(curve.survival, 1.0),
            "std_error": pick(curve.std_error, 0.0),
            "ci_lower": pick(curve.ci_lower, 1.0),
            "ci_upper": pick(curve.ci_upper, 1.0),
        }
    )
    if curve.survival[-1] > 0.0:
        frame.loc[query > curve.times[-1], ["survival", "std_error", "ci_lower", "ci_upper"]] = (
            np.nan
        )
    return frame


@dataclass(frozen=True)
class MedianSurvival:
    """Median survival time with its confidence interval; ``None`` means not reached.

    ``str()`` gives the form used in clinical tables, e.g. ``"23.0 (16.0–NR)"`` or
    ``"not reached"``.
    """

    estimate: float | None
    ci_lower: float | None
    ci_upper: float | None
    alpha: float = 0.05

    def __str__(self) -> str:
        if self.estimate is None:
            return "not reached"
        return (
            f"{_format_time(self.estimate)} ({_format_time(self.ci_lower)}–"
            f"{_format_time(self.ci_upper)})"
        )


def _format_time(value: float | None) -> str:
    return "NR" if value is None else f"{value:.1f}"


def _first_time_at_or_below_half(times: FloatArray, values: FloatArray) -> float | None:
    hits = np.flatnonzero(values <= _HALF)
    return float(times[hits[0]]) if hits.size else None


def median_survival(curve: KaplanMeierCurve) -> MedianSurvival:
    """Median survival: the smallest time at which S(t) ≤ 0.5.

    The confidence interval is that of Brookmeyer & Crowley [BC82]_, read off the
    log(−log) band of ``curve``: the times at which the band contains 0.5, i.e. from the
    first time the lower limit reaches 0.5 to the first time the upper limit does
    (Klein & Moeschberger, Survival Analysis, 2nd ed., §4.5). Either end is ``None``
    ("NR") when the limit never falls to 0.5. Unlike R's ``survfit`` this does not take
    the midpoint when S(t) equals 0.5 exactly on a plateau.

    Parameters
    ----------
    curve : KaplanMeierCurve

    Returns
    -------
    MedianSurvival
        In the unit of ``curve.times``; ``estimate is None`` when not reached.
    """
    return MedianSurvival(
        estimate=_first_time_at_or_below_half(curve.times, curve.survival),
        ci_lower=_first_time_at_or_below_half(curve.times, curve.ci_lower),
        ci_upper=_first_time_at_or_below_half(curve.times, curve.ci_upper),
        alpha=curve.alpha,
    )


def number_at_risk(
    durations: ArrayLike, event_observed: ArrayLike, times: ArrayLike
) -> pd.DataFrame:
    """The extended (KMunicate, [Mo19]_) number-at-risk table at chosen times.

    For each time t: ``at_risk`` = patients with follow-up ≥ t (the risk set just before t,
    as in the Kaplan–Meier table), ``events`` and ``censored`` = cumulative events and
    censorings strictly before t. The three columns partition the cohort: they add up to n
    at every t.

    Parameters
    ----------
    durations, event_observed : array_like, shape (n,)
    times : array_like, shape (q,)

    Returns
    -------
    pandas.DataFrame
        q rows; integer columns ``time``, ``at_risk``, ``events``, ``censored``.
    """
    follow_up, events = check_survival_data(durations, event_observed)
    query = check_times(times)

    def count_before(values: FloatArray) -> IntArray:
        return np.searchsorted(np.sort(values), query, side="left").astype(np.int64)

    return pd.DataFrame(
        {
            "time": query,
            "at_risk": follow_up.size - count_before(follow_up),
            "events": count_before(follow_up[events]),
            "censored": count_before(follow_up[~events]),
        }
    )

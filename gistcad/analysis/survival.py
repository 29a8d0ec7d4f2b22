"""Kaplan–Meier curves, log-rank tests, landmarks and group comparisons of time-to-event data.

Everything is computed here in numpy/scipy from the formulas cited in each docstring; only the
Cox model (:mod:`gistcad.analysis.cox`) is delegated to lifelines. Durations are in whatever
unit the caller uses (months in this project); ``event_observed`` is 1 for an event
(recurrence, death) and 0 for a censored follow-up.

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
.. [Co15] Collett D. Modelling Survival Data in Medical Research, 3rd ed. CRC, 2015, §2.6–2.7.
.. [Ho79] Holm S. A simple sequentially rejective multiple test procedure.
   Scand J Stat 1979;6:65–70.
.. [ACG83] Anderson JR, Cain KC, Gelber RD. Analysis of survival by tumor response.
   J Clin Oncol 1983;1:710–719.
.. [Mo19] Morris TP et al. Proposals on Kaplan–Meier plots in medical research and a survey
   of stakeholder views: KMunicate. BMJ Open 2019;9:e030215.
"""

from __future__ import annotations

import itertools
import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray
from scipy import stats

from gistcad.errors import ValidationError

if TYPE_CHECKING:
    from gistcad.analysis.cox import CoxResult

logger = logging.getLogger(__name__)

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]
BoolArray = NDArray[np.bool_]
LabelArray = NDArray[np.str_]

CI_METHOD = "log(-log) transform (Kalbfleisch & Prentice 1980) with Greenwood variance"
_HALF = 0.5 + 1e-12  # products like 1 - 1/2 can land a rounding error above one half


# --- validation at the boundary -----------------------------------------------------------


def _reject_rows(bad: BoolArray, name: str, rule: str, fix: str) -> None:
    if bad.any():
        rows = np.flatnonzero(bad)
        shown = ", ".join(str(i) for i in rows[:5])
        more = f" and {rows.size - 5} more" if rows.size > 5 else ""
        raise ValidationError(f"{name} {rule} at row(s) {shown}{more}; {fix}")


def _as_1d_float(values: ArrayLike, name: str) -> FloatArray:
    try:
        array = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValidationError(f"{name} must be numeric; convert it to numbers first") from None
    if array.ndim != 1:
        raise ValidationError(f"{name} must be one-dimensional; got shape {array.shape}")
    return array


def check_survival_data(
    durations: ArrayLike, event_observed: ArrayLike
) -> tuple[FloatArray, BoolArray]:
    """Validate right-censored data and return them as arrays.

    Parameters
    ----------
    durations : array_like, shape (n,)
        Follow-up times (≥ 0, finite), in the caller's unit.
    event_observed : array_like, shape (n,)
        1 (or True) for an event, 0 (or False) for censored.

    Returns
    -------
    durations : ndarray of float, shape (n,)
    event_observed : ndarray of bool, shape (n,)

    Raises
    ------
    ValidationError
        On empty input, a length mismatch, missing or negative times, or event flags other
        than 0/1; the message names the offending rows.
    """
    times = _as_1d_float(durations, "durations")
    events = _as_1d_float(event_observed, "event_observed")
    if times.size != events.size:
        raise ValidationError(
            f"durations has {times.size} values but event_observed has {events.size}; "
            "give exactly one event flag per duration"
        )
    if times.size == 0:
        raise ValidationError("no observations: durations and event_observed are empty")
    _reject_rows(
        ~np.isfinite(times),
        "durations",
        "is missing (NaN) or infinite",
        "remove those patients or fill in their follow-up time",
    )
    _reject_rows(
        times < 0,
        "durations",
        "is negative",
        "durations are times since the time origin and must be ≥ 0",
    )
    _reject_rows(
        np.isnan(events),
        "event_observed",
        "is missing (NaN)",
        "code 1 for an event and 0 for censored follow-up",
    )
    _reject_rows(
        ~np.isin(events, (0.0, 1.0)),
        "event_observed",
        "is not 0 or 1",
        "code 1 for an event and 0 for censored follow-up",
    )
    return times, events.astype(bool)


def check_groups(groups: ArrayLike, n: int) -> LabelArray:
    """Validate group labels, one per patient, and return them as strings.

    Labels are converted with ``str`` (a ``StrEnum`` becomes its value), so results and
    JSON output use the same spelling.

    Parameters
    ----------
    groups : array_like, shape (n,)
        Group label of each patient; missing labels are rejected.
    n : int
        Number of patients (length of ``durations``).

    Returns
    -------
    ndarray of str, shape (n,)
    """
    labels = np.asarray(groups, dtype=object)
    if labels.ndim != 1:
        raise ValidationError(f"groups must be one-dimensional; got shape {labels.shape}")
    if labels.size != n:
        raise ValidationError(
            f"groups has {labels.size} labels but there are {n} durations; "
            "give exactly one group label per patient"
        )
    _reject_rows(
        np.asarray(pd.isna(labels), dtype=bool),
        "groups",
        "is missing",
        "drop those patients or give them a label such as 'unknown'",
    )
    return np.asarray([str(label) for label in labels], dtype=np.str_)


def _check_times(times: ArrayLike, name: str = "times") -> FloatArray:
    query = _as_1d_float(np.atleast_1d(np.asarray(times, dtype=object)), name)
    _reject_rows(
        ~np.isfinite(query) | (query < 0),
        name,
        "is missing, infinite or negative",
        "ask for finite times ≥ 0",
    )
    return query


def _check_alpha(alpha: float) -> float:
    if not 0.0 < alpha < 1.0:
        raise ValidationError(f"alpha must lie strictly between 0 and 1; got {alpha}")
    return float(alpha)


# --- Kaplan–Meier -------------------------------------------------------------------------


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
    alpha = _check_alpha(alpha)
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
    query = _check_times(times)
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
    query = _check_times(times)

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


# --- log-rank tests -----------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class LogRankResult:
    """Log-rank test of k ≥ 2 groups.

    Attributes
    ----------
    groups : tuple of str, length k
    n : ndarray of int, shape (k,)
        Patients per group.
    observed, expected : ndarray of float, shape (k,)
        Observed and expected events per group under equal hazards.
    variance : ndarray of float, shape (k, k)
        Variance–covariance matrix of observed − expected.
    statistic : float
        Chi-square statistic.
    df : int
        Degrees of freedom (k − 1 unless the variance matrix is rank-deficient).
    p_value : float
    test : str
        Name of the test, for reports ("log-rank").
    """

    groups: tuple[str, ...]
    n: IntArray
    observed: FloatArray
    expected: FloatArray
    variance: FloatArray
    statistic: float
    df: int
    p_value: float
    test: str = "log-rank"

    def to_frame(self) -> pd.DataFrame:
        """Per-group observed and expected events."""
        return pd.DataFrame(
            {
                "group": list(self.groups),
                "n": self.n,
                "observed": self.observed,
                "expected": self.expected,
            }
        )


def _risk_and_event_counts(
    times: FloatArray, events: BoolArray, labels: LabelArray, groups: Sequence[str]
) -> tuple[FloatArray, FloatArray]:
    """At-risk and event counts, each shape (m, k), at the m distinct event times."""
    event_times = np.unique(times[events])
    at_risk, deaths = [], []
    for group in groups:
        member = labels == group
        sorted_times = np.sort(times[member])
        sorted_events = np.sort(times[member & events])
        at_risk.append(sorted_times.size - np.searchsorted(sorted_times, event_times, "left"))
        deaths.append(
            np.searchsorted(sorted_events, event_times, "right")
            - np.searchsorted(sorted_events, event_times, "left")
        )
    return np.column_stack(at_risk).astype(float), np.column_stack(deaths).astype(float)


def logrank_test(
    durations: ArrayLike, event_observed: ArrayLike, groups: ArrayLike
) -> LogRankResult:
    r"""Log-rank (Mantel–Haenszel) test that k groups share one survival function.

    At each distinct event time :math:`t` with :math:`n` at risk, :math:`d` events, and
    :math:`n_j` at risk in group :math:`j`:
    :math:`E_j = \sum_t d\, n_j / n` and
    :math:`V_{jl} = \sum_t \frac{d (n - d)}{n^2 (n - 1)}\, n_j (n\,\delta_{jl} - n_l)`.
    With :math:`U = O - E`, the statistic :math:`U^\top V^{-} U` is chi-square with k − 1
    degrees of freedom (Collett [Co15]_, §2.6 and §2.7; :math:`V^{-}` is a generalised
    inverse because the rows of V sum to zero).

    Parameters
    ----------
    durations, event_observed : array_like, shape (n,)
    groups : array_like, shape (n,)
        Group labels; at least two distinct.

    Returns
    -------
    LogRankResult
        Groups in sorted order of their labels.
    """
    times, events = check_survival_data(durations, event_observed)
    labels = check_groups(groups, times.size)
    names = tuple(str(name) for name in np.unique(labels))
    if len(names) < 2:
        raise ValidationError(f"the log-rank test needs at least two groups; got only {names}")
    if not events.any():
        raise ValidationError(
            f"no events in groups {', '.join(names)}: the log-rank test needs at least one"
        )
    at_risk, deaths = _risk_and_event_counts(times, events, labels, names)
    n_t, d_t = at_risk.sum(axis=1), deaths.sum(axis=1)
    expected = (at_risk * (d_t / n_t)[:, None]).sum(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        weight = np.where(n_t > 1, d_t * (n_t - d_t) / (n_t**2 * (n_t - 1)), 0.0)
    variance = np.diag((weight * n_t) @ at_risk) - (at_risk * weight[:, None]).T @ at_risk
    difference = deaths.sum(axis=0) - expected
    statistic = float(difference @ np.linalg.pinv(variance) @ difference)
    df = int(np.linalg.matrix_rank(variance))
    if df < len(names) - 1:
        logger.warning("log-rank variance matrix has rank %d < k − 1 = %d", df, len(names) - 1)
    return LogRankResult(
        groups=names,
        n=np.array([np.sum(labels == g) for g in names], dtype=np.int64),
        observed=deaths.sum(axis=0),
        expected=expected,
        variance=variance,
        statistic=statistic,
        df=df,
        p_value=float(stats.chi2.sf(statistic, df)) if df > 0 else math.nan,
    )


def holm_adjust(p_values: ArrayLike) -> FloatArray:
    r"""Holm's step-down adjustment of m p-values [Ho79]_.

    With :math:`p_{(1)} \le \dots \le p_{(m)}`, the adjusted value of :math:`p_{(i)}` is
    :math:`\max_{j \le i} \min\{1, (m - j + 1)\, p_{(j)}\}`. NaN entries (tests not done)
    are kept as NaN and not counted in m.

    Parameters
    ----------
    p_values : array_like, shape (m,)

    Returns
    -------
    ndarray of float, shape (m,)
        Adjusted p-values in the input order.
    """
    p = _as_1d_float(p_values, "p_values")
    done = np.flatnonzero(~np.isnan(p))
    _reject_rows((p < 0) | (p > 1), "p_values", "is outside [0, 1]", "pass probabilities")
    order = done[np.argsort(p[done], kind="stable")]
    scaled = (order.size - np.arange(order.size)) * p[order]
    adjusted = np.full(p.shape, np.nan)
    adjusted[order] = np.minimum(1.0, np.maximum.accumulate(scaled))
    return adjusted


def pairwise_logrank(
    durations: ArrayLike, event_observed: ArrayLike, groups: ArrayLike
) -> pd.DataFrame:
    """Log-rank tests for every pair of groups, with Holm-adjusted p-values.

    Pairs without any event cannot be tested; they get NaN and do not count in the Holm
    adjustment (:func:`holm_adjust`).

    Returns
    -------
    pandas.DataFrame
        One row per pair (k(k − 1)/2 rows); columns ``group_a``, ``group_b``,
        ``statistic``, ``p_value``, ``p_holm``.
    """
    times, events = check_survival_data(durations, event_observed)
    labels = check_groups(groups, times.size)
    rows = []
    for first, second in itertools.combinations(np.unique(labels).tolist(), 2):
        member = (labels == first) | (labels == second)
        statistic = p_value = math.nan
        if events[member].any():
            result = logrank_test(times[member], events[member], labels[member])
            statistic, p_value = result.statistic, result.p_value
        rows.append(
            {"group_a": first, "group_b": second, "statistic": statistic, "p_value": p_value}
        )
    table = pd.DataFrame(rows, columns=["group_a", "group_b", "statistic", "p_value"])
    table["p_holm"] = holm_adjust(table["p_value"].to_numpy(dtype=float))
    return table


# --- landmark -----------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class LandmarkData:
    """Patients kept at a landmark, with the clock restarted there.

    Attributes
    ----------
    durations : ndarray of float, shape (k,)
        Time since the landmark.
    event_observed : ndarray of bool, shape (k,)
    mask : ndarray of bool, shape (n,)
        Which input rows were kept; use it to subset groups and covariates.
    landmark_time : float
        In the unit of the input durations.
    """

    durations: FloatArray
    event_observed: BoolArray
    mask: BoolArray
    landmark_time: float


def landmark(durations: ArrayLike, event_observed: ArrayLike, landmark_time: float) -> LandmarkData:
    """Landmark analysis: keep those event-free and under follow-up at a fixed time.

    Groups defined by something that happens after time zero (response, adjuvant therapy
    completed) bias a naive comparison, since patients must survive to join the "good"
    group (Anderson, Cain & Gelber [ACG83]_). The landmark method keeps patients whose
    follow-up extends beyond ``landmark_time`` (duration > landmark: neither an event nor
    censoring at or before it) and restarts the clock at the landmark.

    Parameters
    ----------
    durations, event_observed : array_like, shape (n,)
    landmark_time : float
        ≥ 0, in the unit of ``durations``.

    Returns
    -------
    LandmarkData
    """
    times, events = check_survival_data(durations, event_observed)
    if not (math.isfinite(landmark_time) and landmark_time >= 0):
        raise ValidationError(f"landmark_time must be finite and ≥ 0; got {landmark_time}")
    mask = times > landmark_time
    if not mask.any():
        raise ValidationError(
            f"nobody is event-free and under follow-up beyond the landmark {landmark_time:g}; "
            "choose an earlier landmark"
        )
    return LandmarkData(
        durations=times[mask] - landmark_time,
        event_observed=events[mask],
        mask=mask,
        landmark_time=float(landmark_time),
    )


# --- the comparison a page or command line asks for ---------------------------------------


@dataclass(frozen=True, eq=False)
class SurvivalComparison:
    """Everything a survival comparison of groups reports.

    Attributes
    ----------
    summary : pandas.DataFrame
        One row per group: ``group``, ``n``, ``events``, ``median``, ``median_ci_lower``,
        ``median_ci_upper``, ``median_text``, for each requested time t ``survival_at_{t}``
        with ``survival_at_{t}_ci_lower``/``_ci_upper``, ``small_group`` and ``note``.
    at_risk : pandas.DataFrame
        Long form, one row per group × time: ``group``, ``time``, ``at_risk``, ``events``,
        ``censored`` (see :func:`number_at_risk`).
    curves : Mapping[str, KaplanMeierCurve]
        Per group, including groups too small for the tests.
    logrank : LogRankResult or None
        Overall test over the groups with ≥ ``min_group_size`` patients.
    pairwise : pandas.DataFrame
        :func:`pairwise_logrank` over the same groups (empty when fewer than two).
    cox : CoxResult or None
        Hazard ratios against ``reference``; None when not fitted (see ``notes``).
    reference : str or None
        Reference group of the hazard ratios.
    notes : tuple of str
        Plain-language notes on what was left out and why.
    times : tuple of float
        The times of the summary and the at-risk table.
    min_group_size : int
    alpha : float
    """

    summary: pd.DataFrame
    at_risk: pd.DataFrame
    curves: Mapping[str, KaplanMeierCurve]
    logrank: LogRankResult | None
    pairwise: pd.DataFrame
    cox: CoxResult | None
    reference: str | None
    notes: tuple[str, ...]
    times: tuple[float, ...]
    min_group_size: int
    alpha: float

    @property
    def groups(self) -> tuple[str, ...]:
        """All groups, in display order."""
        return tuple(self.curves)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable copy: builtin types only, NaN as ``None``."""
        logrank = None
        if self.logrank is not None:
            logrank = {
                "test": self.logrank.test,
                "statistic": self.logrank.statistic,
                "df": self.logrank.df,
                "p_value": self.logrank.p_value,
                "groups": self.logrank.to_frame(),
            }
        cox = None
        if self.cox is not None:
            cox = {
                "table": self.cox.table,
                "ph_test": self.cox.ph_test,
                "reference_levels": dict(self.cox.reference_levels),
                "n": self.cox.n,
                "events": self.cox.n_events,
                "ties": self.cox.ties,
                "notes": list(self.cox.notes),
            }
        return _to_builtin(
            {
                "summary": self.summary,
                "at_risk": self.at_risk,
                "curves": {name: curve.to_frame() for name, curve in self.curves.items()},
                "logrank": logrank,
                "pairwise": self.pairwise,
                "cox": cox,
                "reference": self.reference,
                "notes": list(self.notes),
                "times": list(self.times),
                "min_group_size": self.min_group_size,
                "alpha": self.alpha,
                "ci_method": CI_METHOD,
            }
        )


def _to_builtin(value: Any) -> Any:
    if isinstance(value, pd.DataFrame):
        return [_to_builtin(row) for row in value.to_dict(orient="records")]
    if isinstance(value, Mapping):
        return {str(key): _to_builtin(item) for key, item in value.items()}
    if isinstance(value, list | tuple | np.ndarray):
        return [_to_builtin(item) for item in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _summary_row(
    group: str, curve: KaplanMeierCurve, times: FloatArray, small: bool, min_size: int
) -> dict[str, Any]:
    median = median_survival(curve)
    row: dict[str, Any] = {
        "group": group,
        "n": curve.n,
        "events": curve.total_events,
        "median": math.nan if median.estimate is None else median.estimate,
        "median_ci_lower": math.nan if median.ci_lower is None else median.ci_lower,
        "median_ci_upper": math.nan if median.ci_upper is None else median.ci_upper,
        "median_text": str(median),
    }
    for estimate in survival_at(curve, times).itertuples(index=False):
        key = f"survival_at_{estimate.time:g}"
        row[key] = estimate.survival
        row[f"{key}_ci_lower"] = estimate.ci_lower
        row[f"{key}_ci_upper"] = estimate.ci_upper
    row["small_group"] = small
    row["note"] = (
        f"fewer than {min_size} patients: not in the log-rank or Cox tests" if small else ""
    )
    return row


def _choose_reference(
    reference: object | None, sizes: Mapping[str, int], eligible: Sequence[str], min_size: int
) -> str | None:
    if reference is None:
        return max(eligible, key=lambda g: sizes[g]) if eligible else None
    name = str(reference)
    if name not in sizes:
        raise ValidationError(
            f"reference group {name!r} is not among the groups {sorted(sizes)}; pick one of them"
        )
    if name not in eligible:
        raise ValidationError(
            f"reference group {name!r} has only {sizes[name]} patients, fewer than "
            f"min_group_size={min_size}; pick a larger group or lower min_group_size"
        )
    return name


def _tests(
    times: FloatArray,
    events: BoolArray,
    labels: LabelArray,
    reference: str | None,
    covariates: pd.DataFrame | None,
    alpha: float,
) -> tuple[LogRankResult | None, pd.DataFrame, CoxResult | None, list[str]]:
    """Log-rank, pairwise log-rank and Cox over the eligible patients (≥ 2 groups)."""
    from gistcad.analysis.cox import cox_hazard_ratios  # cox imports this module's checks

    notes: list[str] = []
    logrank: LogRankResult | None = None
    try:
        logrank = logrank_test(times, events, labels)
    except ValidationError as error:
        notes.append(f"Log-rank test not done: {error}")
    pairwise = pairwise_logrank(times, events, labels)
    cox: CoxResult | None = None
    try:
        cox = cox_hazard_ratios(times, events, labels, reference, covariates, alpha=alpha)
    except ValidationError as error:
        notes.append(f"Cox model not fitted: {error}")
    return logrank, pairwise, cox, notes


def _describe_groups(
    follow_up: FloatArray,
    events: BoolArray,
    labels: LabelArray,
    query: FloatArray,
    small: Sequence[str],
    min_size: int,
    alpha: float,
) -> tuple[dict[str, KaplanMeierCurve], pd.DataFrame, pd.DataFrame]:
    """Per group: the curve, a summary row and the at-risk rows."""
    curves, rows, tables = {}, [], []
    for name in [str(name) for name in np.unique(labels)]:
        member = labels == name
        curves[name] = kaplan_meier(follow_up[member], events[member], alpha=alpha)
        rows.append(_summary_row(name, curves[name], query, name in small, min_size))
        tables.append(number_at_risk(follow_up[member], events[member], query).assign(group=name))
    at_risk = pd.concat(tables, ignore_index=True)
    return curves, pd.DataFrame(rows), at_risk[["group", "time", "at_risk", "events", "censored"]]


def compare_groups(
    durations: ArrayLike,
    event_observed: ArrayLike,
    groups: ArrayLike,
    *,
    times: ArrayLike,
    min_group_size: int = 10,
    reference: object | None = None,
    covariates: pd.DataFrame | None = None,
    alpha: float = 0.05,
) -> SurvivalComparison:
    """Compare the survival of groups: curves, medians, S(t), tests and hazard ratios.

    Groups with fewer than ``min_group_size`` patients are kept in the summary, the
    at-risk table and the curves, flagged ``small_group``, and left out of the log-rank
    and Cox tests; ``notes`` says so.

    Parameters
    ----------
    durations, event_observed : array_like, shape (n,)
        Follow-up time (e.g. months) and event flag.
    groups : array_like, shape (n,)
        Group label per patient (e.g. a genotype group or a risk class).
    times : array_like, shape (q,)
        Times for S(t) in the summary and for the at-risk table (e.g. 0, 12, 36, 60).
    min_group_size : int, default 10
    reference : label, optional
        Reference group of the hazard ratios; default the largest eligible group.
    covariates : pandas.DataFrame, optional
        Adjustment variables for the Cox model, n rows aligned by position with
        ``durations`` (see :func:`gistcad.analysis.cox.cox_hazard_ratios`).
    alpha : float, default 0.05
        1 − confidence level of every interval.

    Returns
    -------
    SurvivalComparison
    """
    follow_up, events = check_survival_data(durations, event_observed)
    labels = check_groups(groups, follow_up.size)
    query = np.unique(_check_times(times))
    alpha = _check_alpha(alpha)
    if min_group_size < 1:
        raise ValidationError(f"min_group_size must be ≥ 1; got {min_group_size}")
    if covariates is not None and len(covariates) != follow_up.size:
        raise ValidationError(
            f"covariates has {len(covariates)} rows but there are "
            f"{follow_up.size} durations; give one row per patient"
        )
    names = [str(name) for name in np.unique(labels)]
    sizes = {name: int(np.sum(labels == name)) for name in names}
    eligible = [name for name in names if sizes[name] >= min_group_size]
    small = [name for name in names if name not in eligible]
    chosen = _choose_reference(reference, sizes, eligible, min_group_size)
    curves, summary, at_risk = _describe_groups(
        follow_up, events, labels, query, small, min_group_size, alpha
    )
    notes = []
    if small:
        notes.append(
            f"Groups with fewer than {min_group_size} patients are shown but left out "
            f"of the log-rank and Cox tests: {', '.join(small)}."
        )
    logrank, cox = None, None
    pairwise = pd.DataFrame(columns=["group_a", "group_b", "statistic", "p_value", "p_holm"])
    if len(eligible) >= 2:
        keep = np.isin(labels, eligible)
        kept_covariates = None if covariates is None else covariates.iloc[np.flatnonzero(keep)]
        logrank, pairwise, cox, test_notes = _tests(
            follow_up[keep], events[keep], labels[keep], chosen, kept_covariates, alpha
        )
        notes.extend(test_notes)
    else:
        notes.append(f"No tests: fewer than two groups have at least {min_group_size} patients.")
    for note in notes:
        logger.info("compare_groups: %s", note)
    return SurvivalComparison(
        summary=summary,
        at_risk=at_risk,
        curves=curves,
        logrank=logrank,
        pairwise=pairwise,
        cox=cox,
        reference=chosen,
        notes=tuple(notes),
        times=tuple(float(t) for t in query),
        min_group_size=min_group_size,
        alpha=alpha,
    )

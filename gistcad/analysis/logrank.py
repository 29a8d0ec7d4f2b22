"""Log-rank tests of k groups, pairwise log-rank tests and Holm's adjustment.

Computed in numpy/scipy from the formulas cited in each docstring.

References
----------
.. [Co15] Collett D. Modelling Survival Data in Medical Research, 3rd ed. CRC, 2015, §2.6–2.7.
.. [Pe72] Peto R, Peto J. Asymptotically efficient rank invariant test procedures.
   J R Stat Soc A 1972;135:185–207 (the test for trend, as in [Co15]_ §2.6.4).
.. [Ho79] Holm S. A simple sequentially rejective multiple test procedure.
   Scand J Stat 1979;6:65–70.
"""

from __future__ import annotations

import itertools
import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from scipy import stats

from gistcad.analysis.time_to_event import (
    BoolArray,
    FloatArray,
    IntArray,
    as_1d_float,
    check_groups,
    check_survival_data,
    group_codes,
    reject_rows,
)
from gistcad.errors import ValidationError

logger = logging.getLogger(__name__)


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
    times: FloatArray, events: BoolArray, group: IntArray, k: int
) -> tuple[FloatArray, FloatArray]:
    """At-risk and event counts, each shape (m, k), at the m distinct event times, of the
    k groups (``group``: each patient's group, 0 .. k − 1).

    Sorts and counts, O(n log n + m k): a patient with time t is at risk at every event time
    ≤ t, i.e. at the first ``searchsorted(event_times, t, "right")`` of them.
    """
    event_times = np.unique(times[events])
    m = event_times.size
    last = np.searchsorted(event_times, times, "right")  # at risk at event times [0, last)
    leaving = np.bincount(last * k + group, minlength=(m + 1) * k).reshape(m + 1, k)
    at_risk = np.cumsum(leaving[::-1], axis=0)[::-1][1:]
    at = np.searchsorted(event_times, times[events], "left")
    deaths = np.bincount(at * k + group[events], minlength=m * k).reshape(m, k)
    return at_risk.astype(float), deaths.astype(float)


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
    return logrank_tests(durations, event_observed, groups)[0]


def logrank_tests(
    durations: ArrayLike, event_observed: ArrayLike, groups: ArrayLike
) -> tuple[LogRankResult, pd.DataFrame]:
    """:func:`logrank_test` and :func:`pairwise_logrank` of the same data, the at-risk and
    event counts counted once for both.

    Raises
    ------
    ValidationError
        As :func:`logrank_test`.
    """
    times, events = check_survival_data(durations, event_observed)
    labels = check_groups(groups, times.size)
    names, group = group_codes(labels)
    if len(names) < 2:
        raise ValidationError(f"the log-rank test needs at least two groups; got only {names}")
    if not events.any():
        raise ValidationError(
            f"no events in groups {', '.join(names)}: the log-rank test needs at least one"
        )
    at_risk, deaths = _risk_and_event_counts(times, events, group, len(names))
    n = np.bincount(group, minlength=len(names)).astype(np.int64)
    return _from_counts(names, n, at_risk, deaths), _pairwise(names, n, at_risk, deaths)


def _from_counts(
    names: tuple[str, ...], n: IntArray, at_risk: FloatArray, deaths: FloatArray
) -> LogRankResult:
    """The test from the at-risk and event counts (m event times × k groups)."""
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
        n=n,
        observed=deaths.sum(axis=0),
        expected=expected,
        variance=variance,
        statistic=statistic,
        df=df,
        p_value=float(stats.chi2.sf(statistic, df)) if df > 0 else math.nan,
    )


@dataclass(frozen=True, eq=False)
class TrendResult:
    """Log-rank test for trend over ordered groups.

    Attributes
    ----------
    groups : tuple of str
        The groups in their order.
    scores : ndarray of float
        The score of each group (1, 2, …, k by default).
    statistic : float
        Chi-square statistic, 1 degree of freedom.
    p_value : float
    test : str
    """

    groups: tuple[str, ...]
    scores: FloatArray
    statistic: float
    p_value: float
    df: int = 1
    test: str = "log-rank test for trend"


def logrank_trend(
    result: LogRankResult, order: Sequence[str], scores: ArrayLike | None = None
) -> TrendResult:
    r"""Log-rank test for a trend in survival across ordered groups [Pe72]_.

    With the observed minus expected events :math:`U = O - E` and their variance matrix
    :math:`V` of the k-group log-rank test, and scores :math:`w` for the ordered groups,
    :math:`U_T = w^\top U`, :math:`V_T = w^\top V w`, and :math:`U_T^2 / V_T` is chi-square
    with one degree of freedom (Collett [Co15]_, §2.6.4).

    Parameters
    ----------
    result : LogRankResult
        The log-rank test of the same groups.
    order : sequence of str
        Every group of ``result``, lowest first.
    scores : array_like, optional
        One score per group of ``order``; default 1, 2, …, k.
    """
    if sorted(order) != sorted(result.groups):
        raise ValidationError(
            f"the order {list(order)} must name every tested group {list(result.groups)} once"
        )
    w = np.arange(1.0, len(order) + 1) if scores is None else as_1d_float(scores, "scores")
    if w.size != len(order):
        raise ValidationError(f"give one score per group; got {w.size} for {len(order)}")
    index = [result.groups.index(name) for name in order]
    difference = (result.observed - result.expected)[index]
    variance = result.variance[np.ix_(index, index)]
    u_t, v_t = float(w @ difference), float(w @ variance @ w)
    statistic = u_t**2 / v_t if v_t > 0 else math.nan
    return TrendResult(
        groups=tuple(order),
        scores=w,
        statistic=statistic,
        p_value=float(stats.chi2.sf(statistic, 1)) if v_t > 0 else math.nan,
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
    p = as_1d_float(p_values, "p_values")
    done = np.flatnonzero(~np.isnan(p))
    reject_rows((p < 0) | (p > 1), "p_values", "is outside [0, 1]", "pass probabilities")
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
    names, group = group_codes(labels)
    at_risk, deaths = _risk_and_event_counts(times, events, group, len(names))
    n = np.bincount(group, minlength=len(names)).astype(np.int64)
    return _pairwise(names, n, at_risk, deaths)


def _pairwise(
    names: tuple[str, ...], n: IntArray, at_risk: FloatArray, deaths: FloatArray
) -> pd.DataFrame:
    """The pairwise tests from the k groups' at-risk and event counts."""
    rows = []
    for a, b in itertools.combinations(range(len(names)), 2):
        statistic = p_value = math.nan
        pair = [a, b]
        # the event times of this pair: the two-group test's own rows
        rows_of_pair = deaths[:, pair].sum(axis=1) > 0
        if rows_of_pair.any():
            result = _from_counts(
                (names[a], names[b]),
                n[pair],
                at_risk[np.ix_(rows_of_pair, pair)],
                deaths[np.ix_(rows_of_pair, pair)],
            )
            statistic, p_value = result.statistic, result.p_value
        rows.append(
            {"group_a": names[a], "group_b": names[b], "statistic": statistic, "p_value": p_value}
        )
    table = pd.DataFrame(rows, columns=["group_a", "group_b", "statistic", "p_value"])
    table["p_holm"] = holm_adjust(table["p_value"].to_numpy(dtype=float))
    return table

"""Statistics of treatment response: response rates, RECIST–Choi agreement, landmark survival.

Pure functions on arrays and data frames (no store): the use case
:func:`gistcad.followup.cohort.response_cohort` gathers the patients and calls them.

References
----------
.. [Wil27] Wilson EB. Probable inference, the law of succession, and statistical inference.
   J Am Stat Assoc 1927;22:209–212.
.. [CP34] Clopper CJ, Pearson ES. The use of confidence or fiducial limits illustrated in the
   case of the binomial. Biometrika 1934;26:404–413.
.. [Coh60] Cohen J. A coefficient of agreement for nominal scales. Educ Psychol Meas
   1960;20:37–46.
.. [ACG83] Anderson JR, Cain KC, Gelber RD. Analysis of survival by tumor response.
   J Clin Oncol 1983;1:710–719 (the landmark method).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from scipy import stats

from gistcad.analysis.comparison import SurvivalComparison, compare_groups
from gistcad.analysis.landmark import landmark
from gistcad.analysis.time_to_event import check_survival_data
from gistcad.domain import RESPONSE_CATEGORY_LABELS, ResponseCategory
from gistcad.errors import ValidationError

#: categories that count as an objective response (CR or PR)
RESPONDING = frozenset({ResponseCategory.COMPLETE, ResponseCategory.PARTIAL})
#: the order categories are shown in, best first
CATEGORY_ORDER: tuple[ResponseCategory, ...] = (
    ResponseCategory.COMPLETE,
    ResponseCategory.PARTIAL,
    ResponseCategory.STABLE,
    ResponseCategory.NON_CR_NON_PD,
    ResponseCategory.PROGRESSION,
    ResponseCategory.NOT_EVALUABLE,
)
RATE_COLUMNS = ["group", "n", "responders", "rate", "ci_low", "ci_high"]


class IntervalMethod(StrEnum):
    """How the confidence interval of a proportion is computed."""

    WILSON = "wilson"  # score interval [Wil27]
    CLOPPER_PEARSON = "clopper_pearson"  # exact interval [CP34]


@dataclass(frozen=True)
class Proportion:
    """``successes`` of ``n`` with its (1 − alpha) confidence interval."""

    successes: int
    n: int
    low: float
    high: float
    method: IntervalMethod

    @property
    def estimate(self) -> float:
        return self.successes / self.n


def _check_counts(successes: int, n: int, alpha: float) -> None:
    if n < 1:
        raise ValidationError("a proportion needs at least one patient; the group is empty")
    if not 0 <= successes <= n:
        raise ValidationError(f"successes must lie between 0 and n = {n}; got {successes}")
    if not 0 < alpha < 1:
        raise ValidationError(f"alpha must lie between 0 and 1 (exclusive); got {alpha}")


def wilson_interval(successes: int, n: int, alpha: float = 0.05) -> Proportion:
    """Wilson score interval of a binomial proportion [Wil27]_.

    ``(p + z²/2n ± z·√(p(1−p)/n + z²/4n²)) / (1 + z²/n)`` with ``p = successes / n`` and ``z``
    the (1 − alpha/2) normal quantile.
    """
    _check_counts(successes, n, alpha)
    z = float(stats.norm.ppf(1 - alpha / 2))
    p = successes / n
    centre = p + z * z / (2 * n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    scale = 1 + z * z / n
    return Proportion(
        successes,
        n,
        max(0.0, (centre - half) / scale),
        min(1.0, (centre + half) / scale),
        IntervalMethod.WILSON,
    )


def clopper_pearson_interval(successes: int, n: int, alpha: float = 0.05) -> Proportion:
    """Exact (Clopper–Pearson) interval of a binomial proportion [CP34]_.

    The bounds are beta quantiles: ``B(alpha/2; x, n − x + 1)`` and
    ``B(1 − alpha/2; x + 1, n − x)``, 0 for ``x = 0`` and 1 for ``x = n``.
    """
    _check_counts(successes, n, alpha)
    x = successes
    low = 0.0 if x == 0 else float(stats.beta.ppf(alpha / 2, x, n - x + 1))
    high = 1.0 if x == n else float(stats.beta.ppf(1 - alpha / 2, x + 1, n - x))
    return Proportion(x, n, low, high, IntervalMethod.CLOPPER_PEARSON)


def proportion_interval(
    successes: int, n: int, alpha: float = 0.05, method: IntervalMethod = IntervalMethod.WILSON
) -> Proportion:
    """The interval of ``method``: :func:`wilson_interval` or :func:`clopper_pearson_interval`."""
    if method is IntervalMethod.CLOPPER_PEARSON:
        return clopper_pearson_interval(successes, n, alpha)
    return wilson_interval(successes, n, alpha)


def is_response(category: ResponseCategory) -> bool:
    """Objective response: CR or PR."""
    return category in RESPONDING


def response_rates(
    categories: Sequence[ResponseCategory | None],
    groups: Sequence[str],
    *,
    order: Sequence[str] | None = None,
    alpha: float = 0.05,
    method: IntervalMethod = IntervalMethod.WILSON,
) -> pd.DataFrame:
    """Objective response rate (CR or PR) per group, with its confidence interval.

    Parameters
    ----------
    categories
        The (best) response category of each patient; ``None``: not assessed, left out. A
        "not evaluable" patient counts in the denominator as a non-responder.
    groups
        The group label of each patient, aligned with ``categories``.
    order
        Display order of the groups (others follow, sorted); default sorted.
    alpha, method
        1 − confidence level and interval (Wilson by default).

    Returns
    -------
    pandas.DataFrame
        Columns :data:`RATE_COLUMNS`; one row per group with at least one assessed patient.
    """
    if len(categories) != len(groups):
        raise ValidationError(
            f"categories and groups differ in length ({len(categories)} vs {len(groups)})"
        )
    counts: dict[str, list[int]] = {}
    for category, group in zip(categories, groups, strict=True):
        if category is None:
            continue
        tally = counts.setdefault(str(group), [0, 0])
        tally[0] += int(is_response(ResponseCategory(category)))
        tally[1] += 1
    first = [g for g in (order or ()) if g in counts]
    names = first + sorted(g for g in counts if g not in first)
    records = []
    for name in names:
        responders, n = counts[name]
        interval = proportion_interval(responders, n, alpha, method)
        records.append([name, n, responders, interval.estimate, interval.low, interval.high])
    return pd.DataFrame(records, columns=RATE_COLUMNS)


@dataclass(frozen=True)
class Agreement:
    """Agreement of two ratings of the same patients (e.g. RECIST 1.1 and Choi).

    Attributes
    ----------
    table
        Cross-table: rows the first rating, columns the second (category labels).
    n
        Patients rated by both.
    observed, expected
        Proportion of agreement, and that expected by chance from the margins.
    kappa, low, high
        Cohen's kappa and its (1 − alpha) confidence interval; ``nan`` when chance agreement
        is 1 (every patient in one category by both ratings: kappa is undefined).
    """

    table: pd.DataFrame
    n: int
    observed: float
    expected: float
    kappa: float
    low: float
    high: float


def cohen_kappa(
    first: Sequence[ResponseCategory],
    second: Sequence[ResponseCategory],
    *,
    alpha: float = 0.05,
) -> Agreement:
    """Cohen's kappa of two categorical ratings [Coh60]_.

    ``κ = (p_o − p_e) / (1 − p_e)``, with ``p_o`` the observed agreement and ``p_e`` the
    agreement expected from the margins; its standard error is Cohen's large-sample
    ``√(p_o(1 − p_o) / (n(1 − p_e)²))`` and the interval ``κ ± z·SE``, clipped to [−1, 1].

    Raises
    ------
    ValidationError
        When the two ratings differ in length or no patient is rated.
    """
    if len(first) != len(second):
        raise ValidationError(f"the two ratings differ in length ({len(first)} vs {len(second)})")
    n = len(first)
    if n == 0:
        raise ValidationError("agreement needs at least one patient rated by both criteria")
    if not 0 < alpha < 1:
        raise ValidationError(f"alpha must lie between 0 and 1 (exclusive); got {alpha}")
    a = [ResponseCategory(c) for c in first]
    b = [ResponseCategory(c) for c in second]
    levels = [c for c in CATEGORY_ORDER if c in a or c in b]
    counts = np.zeros((len(levels), len(levels)), dtype=int)
    for x, y in zip(a, b, strict=True):
        counts[levels.index(x), levels.index(y)] += 1
    labels = [RESPONSE_CATEGORY_LABELS[c] for c in levels]
    table = pd.DataFrame(counts, index=labels, columns=labels)
    observed = float(np.trace(counts)) / n
    expected = float((counts.sum(axis=1) * counts.sum(axis=0)).sum()) / (n * n)
    if expected >= 1:
        return Agreement(table, n, observed, expected, math.nan, math.nan, math.nan)
    kappa = (observed - expected) / (1 - expected)
    se = math.sqrt(observed * (1 - observed) / (n * (1 - expected) ** 2))
    z = float(stats.norm.ppf(1 - alpha / 2))
    return Agreement(
        table, n, observed, expected, kappa, max(-1.0, kappa - z * se), min(1.0, kappa + z * se)
    )


@dataclass(frozen=True)
class LandmarkSurvival:
    """Survival by response, counted from a landmark.

    Attributes
    ----------
    comparison
        Kaplan–Meier curves, number at risk and log-rank test, time since the landmark.
    landmark_time
        In the unit of the input durations (e.g. months from the treatment start).
    kept
        Which input patients entered the analysis.
    n_event_or_censored_before
        Left out: an event, or the end of follow-up, at or before the landmark.
    n_unassessed
        Left out: alive and followed at the landmark, but without a response by then.
    """

    comparison: SurvivalComparison
    landmark_time: float
    kept: np.ndarray
    n_event_or_censored_before: int
    n_unassessed: int

    @property
    def title(self) -> str:
        """E.g. "landmark at 3 months" (the figure states it)."""
        return f"landmark at {self.landmark_time:g} months"


def landmark_survival(
    durations: ArrayLike,
    event_observed: ArrayLike,
    response: Sequence[str | None],
    assessed_at: ArrayLike,
    landmark_time: float,
    *,
    times: ArrayLike,
    order: Sequence[str] | None = None,
    min_group_size: int = 2,
) -> LandmarkSurvival:
    """Survival by response from a landmark, never from time zero [ACG83]_.

    A patient enters when still event-free and under follow-up after ``landmark_time``
    (duration > landmark) and when the response was known by then (``assessed_at`` ≤
    landmark); the clock restarts at the landmark. Grouping by a response reached later
    would credit responders with the time they had to survive to respond (guarantee-time
    bias).

    Parameters
    ----------
    durations, event_observed : array_like, shape (n,)
        From time zero (e.g. the treatment start), in months.
    response : sequence of str or None, shape (n,)
        The response group of each patient; ``None``: no response known.
    assessed_at : array_like, shape (n,)
        When the response was assessed (same clock; ``nan`` when none).
    landmark_time : float
    times : array_like
        Times since the landmark for the number-at-risk table.
    order, min_group_size
        As in :func:`gistcad.analysis.comparison.compare_groups`.

    Raises
    ------
    ValidationError
        When nobody is left at the landmark with a known response.
    """
    follow, events = check_survival_data(durations, event_observed)
    when = np.asarray(assessed_at, dtype=float)
    if when.shape != follow.shape or len(response) != follow.size:
        raise ValidationError("durations, events, responses and assessment times differ in length")
    at_risk = landmark(follow, events, landmark_time)
    known = np.array(
        [
            r is not None and np.isfinite(t) and t <= landmark_time
            for r, t in zip(response, when, strict=True)
        ],
        dtype=bool,
    )
    kept = at_risk.mask & known
    if not kept.any():
        raise ValidationError(
            f"nobody alive and followed at the landmark {landmark_time:g} months has a response "
            "assessed by then; choose a later landmark"
        )
    groups = np.array([str(r) for r in response], dtype=object)[kept]
    comparison = compare_groups(
        follow[kept] - landmark_time,
        events[kept],
        groups,
        times=times,
        order=order,
        min_group_size=min_group_size,
    )
    return LandmarkSurvival(
        comparison=comparison,
        landmark_time=float(landmark_time),
        kept=kept,
        n_event_or_censored_before=int((~at_risk.mask).sum()),
        n_unassessed=int((at_risk.mask & ~known).sum()),
    )

"""The survival comparison of groups that a page or the command line asks for.

Puts together the building blocks: Kaplan–Meier curves, medians and at-risk tables
(:mod:`~gistcad.analysis.kaplan_meier`), log-rank tests (:mod:`~gistcad.analysis.logrank`)
and Cox hazard ratios (:mod:`~gistcad.analysis.cox`).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from gistcad.analysis.cox import CoxResult, cox_hazard_ratios
from gistcad.analysis.kaplan_meier import (
    CI_METHOD,
    KaplanMeierCurve,
    kaplan_meier,
    median_survival,
    number_at_risk,
    survival_at,
)
from gistcad.analysis.logrank import (
    LogRankResult,
    TrendResult,
    logrank_tests,
    logrank_trend,
    pairwise_logrank,
)
from gistcad.analysis.time_to_event import (
    BoolArray,
    FloatArray,
    IntArray,
    LabelArray,
    check_alpha,
    check_groups,
    check_survival_data,
    check_times,
    group_codes,
)
from gistcad.errors import ValidationError

logger = logging.getLogger(__name__)


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
        ``censored`` (see :func:`~gistcad.analysis.kaplan_meier.number_at_risk`).
    curves : Mapping[str, KaplanMeierCurve]
        Per group, including groups too small for the tests.
    logrank : LogRankResult or None
        Overall test over the groups with ≥ ``min_group_size`` patients.
    pairwise : pandas.DataFrame
        :func:`~gistcad.analysis.logrank.pairwise_logrank` over the same groups (empty when
        fewer than two).
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
    trend : TrendResult or None
        Log-rank test for trend, for ordered groups (three or more tested).
    untested : tuple of str
        Groups shown but left out of every test ("Unknown", "No prediction", ...).
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
    trend: TrendResult | None = None
    untested: tuple[str, ...] = ()

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
        trend = None
        if self.trend is not None:
            trend = {
                "test": self.trend.test,
                "groups": list(self.trend.groups),
                "scores": self.trend.scores,
                "statistic": self.trend.statistic,
                "df": self.trend.df,
                "p_value": self.trend.p_value,
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
                "trend": trend,
                "pairwise": self.pairwise,
                "cox": cox,
                "reference": self.reference,
                "notes": list(self.notes),
                "times": list(self.times),
                "min_group_size": self.min_group_size,
                "untested": list(self.untested),
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
    group: str, curve: KaplanMeierCurve, times: FloatArray, small: bool, note: str
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
    row["note"] = note
    return row


def _choose_reference(
    reference: object | None,
    sizes: Mapping[str, int],
    eligible: Sequence[str],
    min_size: int,
    *,
    ordered: bool = False,
    untested: Collection[str] = (),
) -> str | None:
    if reference is None:
        if ordered:
            return eligible[0] if eligible else None
        return max(eligible, key=lambda g: sizes[g]) if eligible else None
    name = str(reference)
    if name not in sizes:
        raise ValidationError(
            f"reference group {name!r} is not among the groups {sorted(sizes)}; pick one of them"
        )
    if name in untested:
        raise ValidationError(
            f"reference group {name!r} is left out of the tests; pick one of {list(eligible)}"
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
    notes: list[str] = []
    logrank: LogRankResult | None = None
    try:
        logrank, pairwise = logrank_tests(times, events, labels)
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
    codes: IntArray,
    query: FloatArray,
    names: Mapping[str, int],
    group_notes: Mapping[str, str],
    alpha: float,
) -> tuple[dict[str, KaplanMeierCurve], pd.DataFrame, pd.DataFrame]:
    """Per group, in the order of ``names`` (each group's name and code in ``codes``): the
    curve, a summary row and the at-risk rows."""
    curves, rows, tables = {}, [], []
    for name, code in names.items():
        member = codes == code
        curves[name] = kaplan_meier(follow_up[member], events[member], alpha=alpha)
        note = group_notes.get(name, "")
        rows.append(_summary_row(name, curves[name], query, bool(note), note))
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
    order: Sequence[str] | None = None,
    ordered: bool = False,
    untested: Collection[str] = (),
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
    order : sequence of str, optional
        Display order of the groups (groups not named follow, sorted); default sorted.
    ordered : bool, default False
        The groups are ordered categories (risk classes, intervals of a number), lowest
        first in ``order``: the default reference is the lowest tested group, and a log-rank
        test for trend is reported when three or more groups are tested.
    untested : collection of str
        Groups shown (curves, summary, at-risk table) but left out of every test, e.g.
        "Unknown"; ``notes`` says so.

    Returns
    -------
    SurvivalComparison
    """
    follow_up, events = check_survival_data(durations, event_observed)
    labels = check_groups(groups, follow_up.size)
    query = np.unique(check_times(times))
    alpha = check_alpha(alpha)
    if min_group_size < 1:
        raise ValidationError(f"min_group_size must be ≥ 1; got {min_group_size}")
    if covariates is not None and len(covariates) != follow_up.size:
        raise ValidationError(
            f"covariates has {len(covariates)} rows but there are "
            f"{follow_up.size} durations; give one row per patient"
        )
    distinct, codes = group_codes(labels)
    code_of = {name: code for code, name in enumerate(distinct)}
    present = list(distinct)
    names = [g for g in (order or ()) if g in code_of]
    names += [g for g in present if g not in names]
    counts = np.bincount(codes, minlength=len(present))
    sizes = {name: int(counts[code_of[name]]) for name in names}
    left_out = [name for name in names if name in set(untested)]
    eligible = [n for n in names if sizes[n] >= min_group_size and n not in left_out]
    small = [name for name in names if name not in eligible and name not in left_out]
    chosen = _choose_reference(
        reference, sizes, eligible, min_group_size, ordered=ordered, untested=left_out
    )
    group_notes = {
        **{
            n: f"fewer than {min_group_size} patients: not in the log-rank or Cox tests"
            for n in small
        },
        **{n: "no value: shown, not in the log-rank or Cox tests" for n in left_out},
    }
    curves, summary, at_risk = _describe_groups(
        follow_up, events, codes, query, {name: code_of[name] for name in names}, group_notes, alpha
    )
    notes = []
    if left_out:
        notes.append(
            f"Shown but left out of the tests (no value to compare): {', '.join(left_out)}."
        )
    if small:
        notes.append(
            f"Groups with fewer than {min_group_size} patients are shown but left out "
            f"of the log-rank and Cox tests: {', '.join(small)}."
        )
    logrank, cox, trend = None, None, None
    pairwise = pd.DataFrame(columns=["group_a", "group_b", "statistic", "p_value", "p_holm"])
    if len(eligible) >= 2:
        keep = np.isin(codes, [code_of[name] for name in eligible])
        kept_covariates = None if covariates is None else covariates.iloc[np.flatnonzero(keep)]
        logrank, pairwise, cox, test_notes = _tests(
            follow_up[keep], events[keep], labels[keep], chosen, kept_covariates, alpha
        )
        notes.extend(test_notes)
        if ordered and logrank is not None and len(eligible) >= 3:
            trend = logrank_trend(logrank, eligible)
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
        trend=trend,
        untested=tuple(left_out),
    )

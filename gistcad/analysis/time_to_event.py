"""Time-to-event (right-censored) data: the checks every survival analysis runs on its input.

Durations are in whatever unit the caller uses (months in this project); ``event_observed``
is 1 for an event (recurrence, death) and 0 for a censored follow-up. Every estimator and
test (:mod:`~gistcad.analysis.kaplan_meier`, :mod:`~gistcad.analysis.logrank`,
:mod:`~gistcad.analysis.landmark`, :mod:`~gistcad.analysis.cox`,
:mod:`~gistcad.analysis.comparison`) validates its input here, so all reject bad data with
the same messages, naming the offending rows.
"""

from __future__ import annotations

from enum import StrEnum

import numpy as np
from numpy.typing import ArrayLike, NDArray

from gistcad.errors import ValidationError

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]
BoolArray = NDArray[np.bool_]
LabelArray = NDArray[np.str_]

DAYS_PER_MONTH = 365.25 / 12  # a Julian year of 365.25 days, in twelve equal months


class TimeUnit(StrEnum):
    """Units in which survival times are shown; the store keeps months."""

    DAYS = "days"
    WEEKS = "weeks"
    MONTHS = "months"
    YEARS = "years"

    @property
    def per_month(self) -> float:
        """How many of this unit make one month (365.25 / 12 days)."""
        return {
            TimeUnit.DAYS: DAYS_PER_MONTH,
            TimeUnit.WEEKS: DAYS_PER_MONTH / 7,
            TimeUnit.MONTHS: 1.0,
            TimeUnit.YEARS: 1 / 12,
        }[self]

    def from_months(self, months: ArrayLike) -> FloatArray:
        """Months converted to this unit."""
        return np.asarray(months, dtype=np.float64) * self.per_month

    def to_months(self, values: ArrayLike) -> FloatArray:
        """Values in this unit converted to months."""
        return np.asarray(values, dtype=np.float64) / self.per_month


def reject_rows(bad: BoolArray, name: str, rule: str, fix: str) -> None:
    """Raise a ValidationError naming the rows where ``bad`` is True (the first five).

    The message reads "{name} {rule} at row(s) …; {fix}".
    """
    if bad.any():
        rows = np.flatnonzero(bad)
        shown = ", ".join(str(i) for i in rows[:5])
        more = f" and {rows.size - 5} more" if rows.size > 5 else ""
        raise ValidationError(f"{name} {rule} at row(s) {shown}{more}; {fix}")


def as_1d_float(values: ArrayLike, name: str) -> FloatArray:
    """``values`` as a one-dimensional float array; ValidationError if not numeric or 1-D."""
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
    times = as_1d_float(durations, "durations")
    events = as_1d_float(event_observed, "event_observed")
    if times.size != events.size:
        raise ValidationError(
            f"durations has {times.size} values but event_observed has {events.size}; "
            "give exactly one event flag per duration"
        )
    if times.size == 0:
        raise ValidationError("no observations: durations and event_observed are empty")
    reject_rows(
        ~np.isfinite(times),
        "durations",
        "is missing (NaN) or infinite",
        "remove those patients or fill in their follow-up time",
    )
    reject_rows(
        times < 0,
        "durations",
        "is negative",
        "durations are times since the time origin and must be ≥ 0",
    )
    reject_rows(
        np.isnan(events),
        "event_observed",
        "is missing (NaN)",
        "code 1 for an event and 0 for censored follow-up",
    )
    reject_rows(
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
    labels = np.asarray(groups)
    if labels.dtype.kind != "U":
        labels = np.asarray(groups, dtype=object)
    if labels.ndim != 1:
        raise ValidationError(f"groups must be one-dimensional; got shape {labels.shape}")
    if labels.size != n:
        raise ValidationError(
            f"groups has {labels.size} labels but there are {n} durations; "
            "give exactly one group label per patient"
        )
    if labels.dtype.kind == "U":
        return labels  # already strings (e.g. checked before): none of them missing
    import pandas as pd  # its isna knows every missing marker; imported only when grouping

    reject_rows(
        np.asarray(pd.isna(labels), dtype=bool),
        "groups",
        "is missing",
        "drop those patients or give them a label such as 'unknown'",
    )
    codes, distinct = pd.factorize(labels)  # str() once per distinct label
    return np.asarray([str(label) for label in distinct], dtype=np.str_)[codes]


def group_codes(labels: LabelArray) -> tuple[tuple[str, ...], IntArray]:
    """The distinct labels, sorted, and the position of each label among them.

    The same as ``np.unique(labels, return_inverse=True)``, but the labels are hashed, not
    sorted: O(n) for n patients, and only the k distinct labels are sorted.

    Returns
    -------
    names : tuple of str, shape (k,)
    codes : ndarray of int, shape (n,)
        ``names[codes[i]] == labels[i]``.

    >>> group_codes(np.array(["b", "a", "b"]))
    (('a', 'b'), array([1, 0, 1]))
    """
    import pandas as pd

    found, distinct = pd.factorize(np.asarray(labels, dtype=object))
    order = np.argsort(np.asarray([str(d) for d in distinct], dtype=np.str_), kind="stable")
    rank = np.empty(order.size, dtype=np.int64)
    rank[order] = np.arange(order.size)
    names = tuple(str(distinct[i]) for i in order)
    return names, rank[found]


def check_times(times: ArrayLike, name: str = "times") -> FloatArray:
    """Validate query times (finite, ≥ 0; a scalar is allowed) and return them, shape (q,)."""
    query = as_1d_float(np.atleast_1d(np.asarray(times, dtype=object)), name)
    reject_rows(
        ~np.isfinite(query) | (query < 0),
        name,
        "is missing, infinite or negative",
        "ask for finite times ≥ 0",
    )
    return query


def check_alpha(alpha: float) -> float:
    """Validate 1 − confidence level: strictly between 0 and 1."""
    if not 0.0 < alpha < 1.0:
        raise ValidationError(f"alpha must lie strictly between 0 and 1; got {alpha}")
    return float(alpha)

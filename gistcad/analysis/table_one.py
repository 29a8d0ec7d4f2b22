"""Baseline characteristics stratified by a column ("table one" of a clinical paper).

Layout of the result, one plain :class:`pandas.DataFrame` a page can show or write to CSV:

=========  ================  ====================  ===  ===============  =======  ======
variable   level             Center A (n=120)      ...  Overall (n=300)  p-value  test
=========  ================  ====================  ===  ===============  =======  ======
Age        median [IQR]      64.0 [55.0–71.5]      ...  ...              0.43     Kruskal-Wallis
Sex        female            58 (48.3 %)           ...  ...              0.12     chi-square
Sex        male              62 (51.7 %)           ...  ...
=========  ================  ====================  ===  ===============  =======  ======

Rules
-----
* Categorical rows give ``count (percent %)`` per level; the denominator is the stratum's n,
  so a column sums to 100 %. Missing values are their own level ``"missing"``, never dropped.
  Continuous rows give ``median [Q1–Q3]`` (linear interpolation, numpy's default) of the
  non-missing values, followed by a ``"missing"`` count row when any value is missing.
* Rows whose ``by`` value is missing form a ``"missing"`` stratum column shown after the
  others; they are counted in Overall but left out of every test.
* Tests, on non-missing values and non-missing strata only, named in the ``test`` column:
  Kruskal-Wallis H test for continuous rows (with two strata it equals the two-sided
  Mann-Whitney U test with normal approximation, tie correction and no continuity
  correction [1]_); Pearson chi-square without continuity correction for categorical rows
  [2]_, except Fisher's exact test wherever an expected count is < 5: the classic test for a
  2×2 table [3]_, its Freeman-Halton extension for larger tables [4]_ (p-value by Monte Carlo
  over :data:`FISHER_MONTE_CARLO_TABLES` tables drawn with fixed margins, seeded, so the same
  data give the same p-value).
  Empty levels and strata are dropped from the contingency table first. When a test cannot
  be computed the p-value is NaN and ``test`` says why.

References
----------
.. [1] Kruskal WH, Wallis WA. Use of ranks in one-criterion variance analysis. J Am Stat
   Assoc 1952;47(260):583-621.
.. [2] Pearson K. On the criterion that a given system of deviations from the probable in
   the case of a correlated system of variables is such that it can be reasonably supposed
   to have arisen from random sampling. Philos Mag 1900;50(302):157-175.
.. [3] Fisher RA. Statistical Methods for Research Workers, 5th ed. 1934, section 21.02.
.. [4] Freeman GH, Halton JH. Note on an exact treatment of contingency, goodness of fit and
   other problems of significance. Biometrika 1951;38(1-2):141-149.
"""

from __future__ import annotations

import logging
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from gistcad.errors import ValidationError

logger = logging.getLogger(__name__)

MISSING = "missing"
KRUSKAL_WALLIS = "Kruskal-Wallis"
KRUSKAL_WALLIS_TWO_GROUPS = "Kruskal-Wallis (= Mann-Whitney U, 2 groups)"
CHI_SQUARE = "chi-square"
FISHER_EXACT = "Fisher's exact"
FISHER_MONTE_CARLO_TABLES = 20_000
FISHER_FREEMAN_HALTON = (
    f"{FISHER_EXACT} (Freeman-Halton, Monte Carlo over {FISHER_MONTE_CARLO_TABLES:,} tables)"
)
P_VALUE = "p-value"
TEST = "test"


@dataclass(frozen=True)
class _Stratum:
    header: str
    mask: pd.Series
    tested: bool  # False for the stratum of rows with a missing ``by`` value


@dataclass(frozen=True)
class _TestResult:
    p_value: float
    test: str


def _levels(values: pd.Series, distinct: Any = None) -> list[Any]:
    """Non-missing levels in display order: categorical order, else sorted (``distinct``: the
    values' distinct non-missing values when already known, from ``pandas.factorize``)."""
    if isinstance(values.dtype, pd.CategoricalDtype):
        return list(values.cat.categories)
    present = values.dropna().unique().tolist() if distinct is None else list(distinct)
    try:
        return sorted(present)
    except TypeError:  # mixed types
        return sorted(present, key=str)


def _strata(by_values: pd.Series) -> list[_Stratum]:
    strata = []
    codes, distinct = pd.factorize(by_values)  # integer codes: one pass, not one per level
    position = {value: j for j, value in enumerate(distinct)}
    for level in _levels(by_values, distinct):
        mask = pd.Series(codes == position.get(level, -2), index=by_values.index)
        if mask.any():
            strata.append(_Stratum(f"{level} (n={int(mask.sum())})", mask, tested=True))
    missing = by_values.isna()
    if missing.any():
        strata.append(_Stratum(f"{MISSING} (n={int(missing.sum())})", missing, tested=False))
    return strata


def _count_cell(count: int, total: int) -> str:
    return f"{count} ({100.0 * count / total:.1f} %)"


def _median_iqr_cell(values: np.ndarray, digits: int) -> str:
    present = values[~np.isnan(values)]
    if present.size == 0:
        return "–"
    q1, median, q3 = np.percentile(present, [25, 50, 75])
    return f"{median:.{digits}f} [{q1:.{digits}f}–{q3:.{digits}f}]"


def kruskal_wallis(groups: Sequence[np.ndarray]) -> _TestResult:
    """Kruskal-Wallis H test over the non-empty groups, or NaN with the reason."""
    groups = [g for g in groups if g.size > 0]
    if len(groups) < 2:
        return _TestResult(float("nan"), "not computed: fewer than 2 strata with values")
    if np.ptp(np.concatenate(groups)) == 0:
        return _TestResult(float("nan"), "not computed: all values identical")
    name = KRUSKAL_WALLIS_TWO_GROUPS if len(groups) == 2 else KRUSKAL_WALLIS
    return _TestResult(float(stats.kruskal(*groups).pvalue), name)


def contingency_test(table: np.ndarray) -> _TestResult:
    """Chi-square, or Fisher's exact (Freeman-Halton beyond 2×2) with an expected count < 5.

    ``table`` is levels × strata; all-zero rows and columns are dropped first.
    """
    table = np.asarray(table, dtype=float)
    table = table[table.sum(axis=1) > 0][:, table.sum(axis=0) > 0]
    if min(table.shape) < 2:
        return _TestResult(float("nan"), "not computed: fewer than 2 levels or strata")
    expected = np.outer(table.sum(axis=1), table.sum(axis=0)) / table.sum()
    small = int((expected < 5).sum())
    if small and table.shape == (2, 2):
        return _TestResult(float(stats.fisher_exact(table).pvalue), FISHER_EXACT)
    if small:
        method = stats.MonteCarloMethod(
            n_resamples=FISHER_MONTE_CARLO_TABLES, rng=np.random.default_rng(0)
        )
        p_value = stats.fisher_exact(table.astype(np.int64), method=method).pvalue
        # SciPy 1.17 returns some of these p-values as an array of one value
        return _TestResult(float(np.ravel(p_value)[0]), FISHER_FREEMAN_HALTON)
    return _TestResult(float(stats.chi2_contingency(table, correction=False).pvalue), CHI_SQUARE)


_Row = dict[Hashable, Any]


def _row(variable: str, level: str, cells: list[str], result: _TestResult | None) -> _Row:
    row: _Row = {"variable": variable, "level": level}
    row.update(enumerate(cells))  # positional keys, renamed to headers by the caller
    row[P_VALUE] = result.p_value if result else float("nan")
    row[TEST] = result.test if result else ""
    return row


def _continuous_rows(
    values: pd.Series, strata: list[_Stratum], index: np.ndarray, label: str, digits: int
) -> list[_Row]:
    """``index``: each row's position in ``strata`` (:func:`_stratum_index`)."""
    numbers = values.to_numpy(dtype=float, na_value=np.nan)
    # each stratum's values in their row order, by one stable sort of the rows' strata (not
    # one mask of every row per stratum)
    order = np.argsort(index, kind="stable")
    bounds = np.searchsorted(index[order], np.arange(len(strata) + 1))
    per_stratum = np.split(numbers[order], bounds[1:-1])
    groups = [g[~np.isnan(g)] for g, s in zip(per_stratum, strata, strict=True) if s.tested]
    result = kruskal_wallis(groups)
    columns = [*per_stratum, numbers]
    rows = [_row(label, "median [IQR]", [_median_iqr_cell(c, digits) for c in columns], result)]
    if np.isnan(numbers).any():
        cells = [_count_cell(int(np.isnan(c).sum()), len(c)) for c in columns]
        rows.append(_row(label, MISSING, cells, None))
    return rows


def _stratum_index(strata: list[_Stratum], n: int) -> np.ndarray:
    """The position in ``strata`` of each of the ``n`` rows."""
    index = np.zeros(n, dtype=np.int64)
    for i, stratum in enumerate(strata):
        index[np.asarray(stratum.mask, dtype=bool)] = i
    return index


def _categorical_rows(
    values: pd.Series, strata: list[_Stratum], index: np.ndarray, label: str
) -> list[_Row]:
    """``index``: each row's position in ``strata`` (:func:`_stratum_index`)."""
    # one pass over the rows: each value's level and each row's stratum as integer codes,
    # counted together (not one comparison per level and stratum)
    codes, distinct = pd.factorize(values)  # missing values: -1
    levels = _levels(values, distinct)
    position = {value: j for j, value in enumerate(levels)}
    level_of = np.asarray([position[v] for v in distinct], dtype=np.int64)
    row_level = np.where(codes >= 0, level_of[np.maximum(codes, 0)], len(levels))
    n_strata = len(strata)
    counted = np.bincount(
        row_level * n_strata + index,
        minlength=(len(levels) + 1) * n_strata,
    ).reshape(len(levels) + 1, n_strata)
    counted = np.column_stack([counted, counted.sum(axis=1)])  # last column: everyone
    sizes = [int(s.mask.sum()) for s in strata] + [len(values)]
    tested = [i for i, s in enumerate(strata) if s.tested]
    result = contingency_test(counted[: len(levels)][:, tested])
    rows = []
    for j, level in enumerate(levels):
        cells = [_count_cell(int(counted[j, i]), sizes[i]) for i in range(n_strata + 1)]
        rows.append(_row(label, str(level), cells, None))
    if (codes < 0).any():
        cells = [_count_cell(int(counted[-1, i]), sizes[i]) for i in range(n_strata + 1)]
        rows.append(_row(label, MISSING, cells, None))
    if rows:
        rows[0][P_VALUE], rows[0][TEST] = result.p_value, result.test
    return rows


def _check_columns(
    df: pd.DataFrame,
    by: str,
    continuous: Sequence[str],
    categorical: Sequence[str],
    labels: Mapping[str, str],
) -> None:
    if not isinstance(df, pd.DataFrame) or df.empty:
        raise ValidationError("table_one needs a non-empty DataFrame")
    wanted = [by, *continuous, *categorical]
    unknown = [c for c in wanted if c not in df.columns]
    if unknown:
        raise ValidationError(
            f"unknown column(s) {unknown}; the data frame has: {list(map(str, df.columns))}"
        )
    repeated = sorted({c for c in wanted if wanted.count(c) > 1}, key=str)
    if repeated:
        raise ValidationError(
            f"column(s) {repeated} listed more than once across by, continuous and "
            "categorical; list each column once"
        )
    for column in continuous:
        dtype = df[column].dtype
        if not pd.api.types.is_numeric_dtype(dtype) or pd.api.types.is_bool_dtype(dtype):
            raise ValidationError(
                f"continuous column {column!r} has dtype {dtype}; convert it to numbers or "
                "list it under categorical"
            )
    stray = [key for key in labels if key not in wanted]
    if stray:
        raise ValidationError(f"labels given for column(s) {stray} that are not in the table")


def table_one(
    df: pd.DataFrame,
    *,
    by: str,
    continuous: Sequence[str],
    categorical: Sequence[str],
    labels: Mapping[str, str] | None = None,
    digits: int = 1,
) -> pd.DataFrame:
    """Baseline characteristics per stratum of ``by``, with overall column and tests.

    Parameters
    ----------
    df
        One row per patient.
    by
        Column to stratify by (e.g. center or genotype).
    continuous
        Numeric columns summarised as median [IQR] and tested with Kruskal-Wallis.
    categorical
        Columns summarised as count (%) per level and tested with chi-square / Fisher.
    labels
        Display names of columns; the column name is used where none is given.
    digits
        Decimals of medians and quartiles.

    Returns
    -------
    pandas.DataFrame
        Columns ``variable``, ``level``, one ``"<stratum> (n=k)"`` per stratum, ``"Overall
        (n=N)"``, ``"p-value"`` (float, NaN except on a variable's first row) and ``"test"``;
        see the module docstring for the rules.

    Raises
    ------
    ValidationError
        For an empty frame, unknown or repeated columns, a non-numeric continuous column or
        labels for columns not in the table.
    """
    labels = dict(labels or {})
    _check_columns(df, by, continuous, categorical, labels)
    strata = _strata(df[by])
    headers = [s.header for s in strata] + [f"Overall (n={len(df)})"]
    rows: list[_Row] = []
    index = _stratum_index(strata, len(df))
    for column in continuous:
        rows += _continuous_rows(df[column], strata, index, labels.get(column, column), digits)
    for column in categorical:
        rows += _categorical_rows(df[column], strata, index, labels.get(column, column))
    logger.debug("table one by %r: %d strata, %d rows", by, len(strata), len(rows))
    columns = ["variable", "level", *range(len(headers)), P_VALUE, TEST]
    table = pd.DataFrame(rows, columns=columns)
    return table.rename(columns=dict(enumerate(headers)))

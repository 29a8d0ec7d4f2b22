"""Table one against hand computation on tiny frames.

p-values are checked without scipy where a closed form exists: the chi-square survival
function with 2 degrees of freedom is exp(-x/2), with 1 degree of freedom erfc(sqrt(x/2)),
and Fisher's exact test is a sum of hypergeometric probabilities.
"""

from __future__ import annotations

import io
import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from gistcad.analysis.table_one import (
    CHI_SQUARE,
    FISHER_EXACT,
    FISHER_FREEMAN_HALTON,
    KRUSKAL_WALLIS,
    KRUSKAL_WALLIS_TWO_GROUPS,
    contingency_test,
    kruskal_wallis,
    table_one,
)
from gistcad.errors import ValidationError


@pytest.fixture
def tiny() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "center": ["A", "A", "A", "B", "B", "B", "B"],
            "age": [50.0, 60.0, 70.0, 40.0, 44.0, np.nan, 80.0],
            "sex": ["m", "f", "m", "f", "f", None, "m"],
        }
    )


def _cell(table: pd.DataFrame, variable: str, level: str, column: str):
    row = table[(table["variable"] == variable) & (table["level"] == level)]
    assert len(row) == 1, (variable, level)
    return row.iloc[0][column]


def test_layout_and_headers(tiny):
    table = table_one(tiny, by="center", continuous=["age"], categorical=["sex"])
    assert list(table.columns) == [
        "variable",
        "level",
        "A (n=3)",
        "B (n=4)",
        "Overall (n=7)",
        "p-value",
        "test",
    ]
    assert list(table["level"]) == ["median [IQR]", "missing", "f", "m", "missing"]


def test_median_and_iqr_by_hand(tiny):
    table = table_one(tiny, by="center", continuous=["age"], categorical=[])
    # A: 50 60 70 -> median 60, Q1 55, Q3 65 (linear interpolation)
    assert _cell(table, "age", "median [IQR]", "A (n=3)") == "60.0 [55.0–65.0]"
    # B: 40 44 80 (one missing) -> median 44, Q1 42, Q3 62
    assert _cell(table, "age", "median [IQR]", "B (n=4)") == "44.0 [42.0–62.0]"
    # all: 40 44 50 60 70 80 -> median 55, Q1 44 + 0.25*6 = 45.5, Q3 60 + 0.75*10 = 67.5
    assert _cell(table, "age", "median [IQR]", "Overall (n=7)") == "55.0 [45.5–67.5]"
    assert _cell(table, "age", "missing", "B (n=4)") == "1 (25.0 %)"
    assert _cell(table, "age", "missing", "A (n=3)") == "0 (0.0 %)"
    assert _cell(table, "age", "missing", "Overall (n=7)") == "1 (14.3 %)"


def test_counts_and_percent_by_hand_with_missing_as_a_level(tiny):
    table = table_one(tiny, by="center", continuous=[], categorical=["sex"])
    assert _cell(table, "sex", "f", "A (n=3)") == "1 (33.3 %)"
    assert _cell(table, "sex", "m", "A (n=3)") == "2 (66.7 %)"
    assert _cell(table, "sex", "missing", "A (n=3)") == "0 (0.0 %)"
    assert _cell(table, "sex", "f", "B (n=4)") == "2 (50.0 %)"
    assert _cell(table, "sex", "m", "B (n=4)") == "1 (25.0 %)"
    assert _cell(table, "sex", "missing", "B (n=4)") == "1 (25.0 %)"
    assert _cell(table, "sex", "f", "Overall (n=7)") == "3 (42.9 %)"
    assert _cell(table, "sex", "missing", "Overall (n=7)") == "1 (14.3 %)"


def test_small_2x2_uses_fisher_and_p_only_on_first_row(tiny):
    table = table_one(tiny, by="center", continuous=[], categorical=["sex"])
    # [[1, 2], [2, 1]] (missing excluded): P(a) = C(3,a) C(3,3-a) / C(6,3) = 1, 9, 9, 1 / 20;
    # every table is at most as likely as the observed one, so p = 1.
    assert _cell(table, "sex", "f", "test") == FISHER_EXACT
    assert _cell(table, "sex", "f", "p-value") == pytest.approx(1.0)
    assert table["p-value"].iloc[1:].isna().all()
    assert (table["test"].iloc[1:] == "").all()


def test_kruskal_wallis_two_groups_by_hand_and_mann_whitney_equivalence(tiny):
    table = table_one(tiny, by="center", continuous=["age"], categorical=[])
    # ranks of 40 44 50 60 70 80: B = 1, 2, 6 (sum 9), A = 3, 4, 5 (sum 12); no ties
    h = 12 / (6 * 7) * (12**2 / 3 + 9**2 / 3) - 3 * 7
    expected = math.erfc(math.sqrt(h / 2))  # chi-square sf with 1 df
    assert _cell(table, "age", "median [IQR]", "test") == KRUSKAL_WALLIS_TWO_GROUPS
    assert _cell(table, "age", "median [IQR]", "p-value") == pytest.approx(expected)
    mann_whitney = stats.mannwhitneyu(
        [50, 60, 70], [40, 44, 80], use_continuity=False, method="asymptotic"
    )
    assert mann_whitney.pvalue == pytest.approx(expected)


def test_kruskal_wallis_three_groups_by_hand():
    groups = [np.array([1.0, 2.0, 3.0]), np.array([4.0, 5.0, 6.0]), np.array([7.0, 8.0, 9.0])]
    h = 12 / (9 * 10) * (6**2 / 3 + 15**2 / 3 + 24**2 / 3) - 3 * 10
    result = kruskal_wallis(groups)
    assert result.test == KRUSKAL_WALLIS
    assert result.p_value == pytest.approx(math.exp(-h / 2))  # chi-square sf with 2 df


def test_chi_square_by_hand_formula():
    observed = np.array([[10.0, 20.0, 30.0], [25.0, 15.0, 20.0]])
    expected = np.outer(observed.sum(axis=1), observed.sum(axis=0)) / observed.sum()
    statistic = float(((observed - expected) ** 2 / expected).sum())
    result = contingency_test(observed)
    assert result.test == CHI_SQUARE
    assert result.p_value == pytest.approx(math.exp(-statistic / 2))  # 2 df


def test_fisher_by_hand_hypergeometric():
    table = np.array([[8, 2], [1, 5]])  # rows 10, 6; columns 9, 7; n 16

    def probability(a: int) -> float:
        return math.comb(10, a) * math.comb(6, 9 - a) / math.comb(16, 9)

    observed = probability(8)
    expected = sum(probability(a) for a in range(3, 10) if probability(a) <= observed * (1 + 1e-7))
    result = contingency_test(table)
    assert result.test == FISHER_EXACT
    assert result.p_value == pytest.approx(expected)


@pytest.mark.parametrize(
    ("table", "test"),
    [
        ([[10, 10], [10, 10]], CHI_SQUARE),  # 2x2, all expected >= 5: chi-square
        ([[10, 1], [10, 3]], FISHER_EXACT),  # 2x2, an expected count < 5: Fisher
        # expected: 16*4/34, 18*4/34 and 16*10/34 are < 5: Fisher-Freeman-Halton
        ([[10, 1, 5], [10, 3, 5]], FISHER_FREEMAN_HALTON),
        ([[10, 0, 10], [10, 0, 10]], CHI_SQUARE),  # the empty stratum is dropped: 2x2
    ],
)
def test_test_choice(table, test):
    assert contingency_test(np.array(table)).test == test


def test_fisher_freeman_halton_by_hand_enumeration():
    # 2x3 table, rows 16 and 18, columns 20, 4 and 10: the exact p-value is the sum of the
    # probabilities (multivariate hypergeometric) of every table with these margins that is
    # at most as probable as the observed one.
    observed = np.array([[10, 1, 5], [10, 3, 5]])
    rows, columns, n = observed.sum(axis=1), observed.sum(axis=0), int(observed.sum())

    def probability(table: np.ndarray) -> float:
        numerator = math.prod(math.factorial(int(v)) for v in (*rows, *columns))
        denominator = math.factorial(n) * math.prod(math.factorial(int(v)) for v in table.flat)
        return numerator / denominator

    tables = []
    for a in range(columns[0] + 1):
        for b in range(columns[1] + 1):
            c = rows[0] - a - b
            if 0 <= c <= columns[2]:
                tables.append(np.array([[a, b, c], columns - [a, b, c]]))
    p_observed = probability(observed)
    exact = sum(p for p in map(probability, tables) if p <= p_observed * (1 + 1e-7))
    result = contingency_test(observed)
    assert result.test == FISHER_FREEMAN_HALTON
    assert result.p_value == pytest.approx(exact, abs=0.01)  # Monte Carlo, 20,000 tables
    assert contingency_test(observed).p_value == result.p_value  # seeded: reproducible


def test_fisher_freeman_halton_on_a_larger_sparse_table():
    # 5 x 4, as a cohort's risk classes by genotype; SciPy gives this p-value as an array
    observed = np.array([[0, 0, 1, 2], [1, 3, 0, 3], [1, 1, 0, 0], [1, 0, 0, 0], [1, 0, 1, 1]])
    result = contingency_test(observed)
    assert result.test == FISHER_FREEMAN_HALTON
    assert isinstance(result.p_value, float) and 0.0 < result.p_value <= 1.0


def test_tests_that_cannot_be_computed_say_why():
    assert math.isnan(contingency_test(np.array([[3, 4]])).p_value)
    assert "not computed" in contingency_test(np.array([[3, 4]])).test
    assert "fewer than 2" in kruskal_wallis([np.array([1.0, 2.0]), np.array([])]).test
    assert "identical" in kruskal_wallis([np.array([1.0, 1.0]), np.array([1.0])]).test


def test_rows_with_missing_stratum_are_shown_and_not_tested(tiny):
    with_missing = pd.concat(
        [tiny, pd.DataFrame({"center": [None], "age": [99.0], "sex": ["m"]})], ignore_index=True
    )
    table = table_one(with_missing, by="center", continuous=["age"], categorical=["sex"])
    assert "missing (n=1)" in table.columns
    assert "Overall (n=8)" in table.columns
    assert _cell(table, "sex", "m", "missing (n=1)") == "1 (100.0 %)"
    reference = table_one(tiny, by="center", continuous=["age"], categorical=["sex"])
    np.testing.assert_allclose(table["p-value"], reference["p-value"])


def test_categorical_order_and_labels():
    df = pd.DataFrame(
        {
            "genotype": ["kit11", "kit11", "pdgfra", "pdgfra"],
            "risk": pd.Categorical(["low", "high", "high", "low"], ["low", "high", "unused"]),
        }
    )
    table = table_one(
        df, by="genotype", continuous=[], categorical=["risk"], labels={"risk": "Risk"}
    )
    assert list(table["level"]) == ["low", "high", "unused"]
    assert set(table["variable"]) == {"Risk"}
    assert _cell(table, "Risk", "unused", "Overall (n=4)") == "0 (0.0 %)"


def test_export_to_csv_round_trip(tiny):
    table = table_one(tiny, by="center", continuous=["age"], categorical=["sex"])
    again = pd.read_csv(io.StringIO(table.to_csv(index=False)), keep_default_na=False)
    assert list(again.columns) == list(table.columns)
    assert list(again["A (n=3)"]) == list(table["A (n=3)"])


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"by": "site", "continuous": ["age"], "categorical": []}, "unknown column.*site"),
        ({"by": "center", "continuous": ["weight"], "categorical": []}, "unknown column.*weight"),
        ({"by": "center", "continuous": [], "categorical": ["grade"]}, "unknown column.*grade"),
        ({"by": "center", "continuous": ["sex"], "categorical": []}, "'sex'.*categorical"),
        ({"by": "center", "continuous": ["age"], "categorical": ["age"]}, "more than once"),
        (
            {"by": "center", "continuous": ["age"], "categorical": [], "labels": {"x": "X"}},
            "labels.*'x'",
        ),
    ],
)
def test_validation_errors(tiny, kwargs, message):
    with pytest.raises(ValidationError, match=message):
        table_one(tiny, **kwargs)


def test_empty_frame_is_refused():
    with pytest.raises(ValidationError, match="non-empty"):
        table_one(pd.DataFrame({"center": []}), by="center", continuous=[], categorical=[])


def test_counts_of_a_large_random_table_equal_counting_level_by_level() -> None:
    rng = np.random.default_rng(2)
    n = 3000
    df = pd.DataFrame(
        {
            "center": rng.choice(["A", "B", "C", None], n, p=[0.4, 0.3, 0.28, 0.02]),
            "site": rng.choice(["stomach", "colon", "rectum", None], n),
            "rupture": rng.choice([0.0, 1.0, np.nan], n),
        }
    )
    table = table_one(df, by="center", continuous=[], categorical=["site", "rupture"])
    strata = [("A", df["center"] == "A"), ("B", df["center"] == "B"), ("C", df["center"] == "C")]
    for variable, level in [("site", "colon"), ("site", "stomach"), ("rupture", "1.0")]:
        row = table[(table["variable"] == variable) & (table["level"] == level)].iloc[0]
        value = float(level) if variable == "rupture" else level
        for name, mask in strata:
            header = f"{name} (n={int(mask.sum())})"
            count = int((df.loc[mask, variable] == value).sum())
            assert row[header].startswith(f"{count} (")
        assert row[f"Overall (n={n})"].startswith(f"{int((df[variable] == value).sum())} (")

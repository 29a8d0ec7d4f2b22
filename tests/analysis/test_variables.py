"""Variables written as text: parsing, cut points and quantiles, labels, covariates."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from gistcad.analysis.grouping import Grouping
from gistcad.analysis.variables import (
    Variable,
    covariate,
    cut_groups,
    group_by,
    parse_variables,
)
from gistcad.domain import RiskScheme
from gistcad.errors import ValidationError


def test_parse() -> None:
    assert Variable.parse("size_cm:5,10") == Variable(Grouping.SIZE, cuts=(5.0, 10.0))
    assert Variable.parse("age:tertiles") == Variable(Grouping.AGE, quantiles=3)
    assert Variable.parse("age:q4") == Variable(Grouping.AGE, quantiles=4)
    assert Variable.parse(" Adjuvant_imatinib ") == Variable(Grouping.ADJUVANT)
    assert str(Variable.parse("size:5,10")) == "size:5,10"
    assert str(Variable.parse("age:tertiles")) == "age:tertiles"
    assert parse_variables("age,size:5,10,sex") == (
        Variable(Grouping.AGE),
        Variable(Grouping.SIZE, cuts=(5.0, 10.0)),
        Variable(Grouping.SEX),
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("shoe", "unknown variable 'shoe'"),
        ("sex:5", "categorical and takes no cut points"),
        ("size:10,5", "must increase"),
        ("size:abc", "give cut points"),
        ("age:q1", "quantiles must be 2 to 10"),
    ],
)
def test_bad_variables(text: str, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        Variable.parse(text)


def test_cut_points_put_the_boundary_in_the_upper_group() -> None:
    values = pd.Series([1.0, 5.0, 9.99, 10.0, 20.0, np.nan])
    grouped = cut_groups(values, Variable(Grouping.SIZE, cuts=(5.0, 10.0)))
    assert list(grouped.labels) == [
        "< 5 cm",
        "5 to < 10 cm",
        "5 to < 10 cm",
        "≥ 10 cm",
        "≥ 10 cm",
        "Unknown",
    ]
    assert grouped.levels == ("< 5 cm", "5 to < 10 cm", "≥ 10 cm", "Unknown")
    assert grouped.ordered


def test_tertiles_split_nine_values_in_three() -> None:
    # numpy's linear quantiles of 1..9 at 1/3 and 2/3: 1 + 8/3 = 3.67 and 1 + 16/3 = 6.33
    grouped = cut_groups(pd.Series(np.arange(1.0, 10.0)), Variable(Grouping.AGE, quantiles=3))
    assert grouped.labels.value_counts().to_dict() == {
        "< 3.67 years": 3,
        "3.67 to < 6.33 years": 3,
        "≥ 6.33 years": 3,
    }
    assert "tertiles in these patients: 3.67, 6.33 years" in grouped.notes[0]


COHORT = pd.DataFrame(
    {
        "sex": ["male", "female", None],
        "adjuvant_imatinib": [1, 0, None],
        "neoadjuvant_imatinib": [0, 1, 0],
        "rupture": [0, 1, None],
        "site": ["jejunum_ileum", "stomach", "stomach"],
        "histology": ["spindle", None, "epithelioid"],
        "size_cm": [3.0, 12.0, 7.0],
        "mitotic_count": [2.0, 20.0, None],
        "mitotic_unit": ["per_50hpf", "per_50hpf", "per_50hpf"],
        "age_at_diagnosis": [50.0, 60.0, 70.0],
    }
)


@pytest.mark.parametrize(
    ("name", "labels"),
    [
        ("sex", ["Male", "Female", "Unknown"]),
        ("adjuvant", ["Adjuvant imatinib", "No adjuvant imatinib", "Unknown"]),
        (
            "neoadjuvant",
            ["No neoadjuvant imatinib", "Neoadjuvant imatinib", "No neoadjuvant imatinib"],
        ),
        ("rupture", ["No rupture", "Rupture", "Unknown"]),
        ("site", ["Jejunum/ileum", "Stomach", "Stomach"]),
        ("histology", ["spindle", "Unknown", "epithelioid"]),
        ("risk", ["Low", "High", "Unknown"]),
    ],
)
def test_categorical_labels(name: str, labels: list[str]) -> None:
    grouped = group_by(COHORT, Variable.parse(name), RiskScheme.NIH_2002)
    assert list(grouped.labels) == labels
    assert grouped.levels[-1] == "Unknown" or "Unknown" not in labels


def test_risk_classes_are_ordered_and_numbers_need_cuts() -> None:
    grouped = group_by(COHORT, Variable(Grouping.RISK), RiskScheme.NIH_2002)
    assert grouped.ordered and grouped.levels == ("Low", "High", "Unknown")
    with pytest.raises(ValidationError, match=r"give cut points \(age:5,10\)"):
        group_by(COHORT, Variable(Grouping.AGE), RiskScheme.NIH_2002)


def test_covariates() -> None:
    age = covariate(COHORT, Variable(Grouping.AGE), RiskScheme.NIH_2002)
    assert age.tolist() == [50.0, 60.0, 70.0]
    risk = covariate(COHORT, Variable(Grouping.RISK), RiskScheme.NIH_2002)
    assert list(risk.cat.categories) == ["Low", "High"] and risk.isna().tolist() == [
        False,
        False,
        True,
    ]
    sex = covariate(COHORT, Variable(Grouping.SEX), RiskScheme.NIH_2002)
    assert sex.isna().tolist() == [False, False, True]

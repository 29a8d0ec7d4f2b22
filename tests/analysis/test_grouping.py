"""Groupings of a cohort: labels a paper would print, no silent guessing."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from gistcad.analysis.grouping import (
    StatusSplit,
    genotype_groups,
    predicted_groups,
    risk_groups,
    true_status_groups,
)
from gistcad.domain import RiskScheme
from gistcad.errors import ValidationError

COHORT = pd.DataFrame(
    {
        "patient_id": [1, 2, 3, 4, 5],
        "genotype_detail": ["kit11_duplication", "kit9", "pdgfra_d842v", "kit13_17", None],
        "center": ["A", "A", "B", "B", "B"],
        "site": ["stomach", "jejunum_ileum", "stomach", "rectum", None],
        "size_cm": [3.0, 7.0, 12.0, 1.5, 4.0],
        "mitotic_count": [3.0, 3.0, 2.0, 8.0, 2.0],
        "mitotic_unit": ["per_50hpf", "per_50hpf", "per_50hpf", "per_5mm2", "per_50hpf"],
        "rupture": [0, 0, np.nan, 0, 0],
    }
)
PREDICTIONS = pd.DataFrame(
    {
        "patient_id": [1, 2, 3, 3],
        "probabilities": [
            {"kit11": 0.50, "kit9": 0.10, "pdgfra": 0.20, "wt_other": 0.20},
            {"kit11": 0.30, "kit9": 0.40, "pdgfra": 0.10, "wt_other": 0.20},
            {"kit11": 0.90, "kit9": 0.05, "pdgfra": 0.03, "wt_other": 0.02},  # older
            {"kit11": 0.10, "kit9": 0.05, "pdgfra": 0.80, "wt_other": 0.05},  # newest
        ],
    }
)


def test_true_genotype_groups() -> None:
    assert list(genotype_groups(COHORT)) == [
        "KIT exon 11",
        "KIT exon 9",
        "PDGFRA",
        "KIT exon 13/17",
        "Unknown",
    ]


@pytest.mark.parametrize(
    ("split", "expected"),
    [
        (
            StatusSplit.KIT11,
            ["KIT exon 11", "Not KIT exon 11", "Not KIT exon 11", "Not KIT exon 11"],
        ),
        (StatusSplit.KIT_MUTANT, ["KIT-mutant", "KIT-mutant", "Not KIT-mutant", "KIT-mutant"]),
        (StatusSplit.FOUR_CLASS, ["KIT exon 11", "KIT exon 9", "PDGFRA", "Wild-type / other"]),
    ],
)
def test_true_status_split(split: StatusSplit, expected: list[str]) -> None:
    assert list(true_status_groups(COHORT, split)) == [*expected, "Unknown"]


def test_predicted_kit11_threshold_is_inclusive_and_newest_prediction_wins() -> None:
    labels = predicted_groups(COHORT, PREDICTIONS, StatusSplit.KIT11, threshold=0.5)
    assert list(labels) == [
        "KIT exon 11",  # 0.50 >= 0.50
        "Not KIT exon 11",
        "Not KIT exon 11",  # the newest prediction (0.10), not the older 0.90
        "No prediction",
        "No prediction",
    ]
    higher = predicted_groups(COHORT, PREDICTIONS, StatusSplit.KIT11, threshold=0.6)
    assert higher.iloc[0] == "Not KIT exon 11"


def test_predicted_kit_mutant_adds_exon_9_and_four_class_takes_the_argmax() -> None:
    mutant = predicted_groups(COHORT, PREDICTIONS, StatusSplit.KIT_MUTANT, threshold=0.65)
    assert list(mutant[:3]) == ["Not KIT-mutant", "KIT-mutant", "Not KIT-mutant"]
    four = predicted_groups(COHORT, PREDICTIONS, StatusSplit.FOUR_CLASS)
    assert list(four[:3]) == ["KIT exon 11", "KIT exon 9", "PDGFRA"]


def test_missing_class_probability_is_an_error() -> None:
    binary = pd.DataFrame({"patient_id": [1], "probabilities": [{"kit11": 0.7, "other": 0.3}]})
    assert predicted_groups(COHORT, binary, StatusSplit.KIT11).iloc[0] == "KIT exon 11"
    with pytest.raises(ValidationError, match="no probability for kit9, pdgfra, wt_other"):
        predicted_groups(COHORT, binary, StatusSplit.FOUR_CLASS)


@pytest.mark.parametrize("threshold", [0.0, 1.0, float("nan"), -0.2])
def test_threshold_outside_the_open_unit_interval(threshold: float) -> None:
    with pytest.raises(ValidationError, match="threshold must lie between 0 and 1"):
        predicted_groups(COHORT, PREDICTIONS, StatusSplit.KIT11, threshold=threshold)


def test_risk_groups_never_guess() -> None:
    labels = risk_groups(COHORT, RiskScheme.NIH_2002)
    assert list(labels) == [
        "Low",  # gastric 3 cm, 3 mitoses (gist_facts 3.4)
        "Intermediate",  # jejunum 7 cm, 3 mitoses
        "High",  # 12 cm: NIH high whatever the count
        "Intermediate",  # rectum 1.5 cm, 8 per 5 mm²: same thresholds (WHO 2019)
        "Unknown",  # no site
    ]
    modified = risk_groups(COHORT, RiskScheme.MODIFIED_NIH_2008)
    assert modified.iloc[1] == "High"  # non-gastric 5.1-10 cm, <= 5 mitoses


@pytest.mark.parametrize("scheme", list(RiskScheme))
def test_risk_classes_once_per_distinct_tumour_equal_the_per_patient_classification(
    scheme: RiskScheme,
) -> None:
    from gistcad.analysis.grouping import _risk_class, risk_classes
    from gistcad.analysis.risk import RiskOptions
    from gistcad.domain import RiskClass

    rng = np.random.default_rng(3)
    n = 400
    cohort = pd.DataFrame(
        {
            "site": rng.choice(["stomach", "jejunum_ileum", "rectum", "duodenum", None], n),
            # whole sizes and counts, the band edges and values just beyond them
            "size_cm": np.where(
                rng.random(n) < 0.1,
                np.nan,
                rng.choice([*range(1, 15), 2.0, 2.05, 5.0, 5.01, 10.0, 10.01, 0.3], n) * 1.0,
            ),
            "mitotic_count": rng.choice([*range(0, 12), 5.0, 5.5, 10.0, 10.5, 40.0], n) * 1.0,
            "mitotic_unit": rng.choice(["per_50hpf", "per_5mm2", None], n, p=[0.8, 0.1, 0.1]),
            "rupture": rng.choice([0.0, 1.0, np.nan], n),
        }
    )
    by_row = [_risk_class(row, scheme, RiskOptions()) for _, row in cohort.iterrows()]
    expected_labels = [c.label if isinstance(c, RiskClass) else c for c in by_row]
    assert risk_groups(cohort, scheme).tolist() == expected_labels
    expected_classes = [c if isinstance(c, RiskClass) else None for c in by_row]
    assert risk_classes(cohort, scheme).tolist() == expected_classes
    assert len(set(expected_labels)) >= 3  # the cohort meets several classes


@pytest.mark.parametrize("split", list(StatusSplit))
def test_predicted_groups_as_arrays_equal_the_split_of_each_prediction(split: StatusSplit) -> None:
    from gistcad.analysis.grouping import NO_PREDICTION, _split_probabilities

    rng = np.random.default_rng(9)
    n = 300
    raw = rng.dirichlet(np.ones(4), n).round(2)  # rounded: sums land on the threshold too
    classes = ["kit11", "kit9", "pdgfra", "wt_other"]
    predictions = pd.DataFrame(
        {
            "patient_id": rng.integers(0, 200, n),  # repeats: the last row counts
            "probabilities": [dict(zip(classes, row.tolist(), strict=True)) for row in raw],
        }
    )
    cohort = pd.DataFrame({"patient_id": np.arange(250)}, index=np.arange(250) + 1000)
    latest = predictions.drop_duplicates("patient_id", keep="last").set_index("patient_id")
    expected = [
        _split_probabilities(latest.loc[p, "probabilities"], split, 0.5)
        if p in latest.index
        else NO_PREDICTION
        for p in cohort["patient_id"]
    ]
    found = predicted_groups(cohort, predictions, split, threshold=0.5)
    assert found.tolist() == expected
    assert list(found.index) == list(cohort.index)


def test_risk_classes_of_object_columns_equal_those_of_numeric_columns() -> None:
    """Sizes and counts held as objects (None for missing, as a frame of mixed rows gives
    them) are banded like numbers: the same classes, row by row."""
    from gistcad.analysis.grouping import _risk_class
    from gistcad.analysis.risk import RiskOptions
    from gistcad.domain import RiskClass

    numeric = pd.DataFrame(
        {
            "site": ["stomach", "stomach", "rectum", None, "jejunum_ileum", "stomach"],
            "size_cm": [1.5, 2.0, 12.0, 3.0, np.nan, 5.01],
            "mitotic_count": [3.0, 6.0, 1.0, 2.0, 4.0, np.nan],
            "mitotic_unit": ["per_50hpf"] * 6,
            "rupture": [0.0, 1.0, np.nan, 0.0, 0.0, 0.0],
        }
    )
    objects = numeric.astype(object).where(numeric.notna(), None)
    assert objects["size_cm"].dtype == object
    by_row = [
        _risk_class(row, RiskScheme.AFIP_2006, RiskOptions()) for _, row in numeric.iterrows()
    ]
    expected = [c.label if isinstance(c, RiskClass) else c for c in by_row]
    assert risk_groups(numeric, RiskScheme.AFIP_2006).tolist() == expected
    assert risk_groups(objects, RiskScheme.AFIP_2006).tolist() == expected
    assert expected.count("Unknown") == 3  # no site; no size; no count

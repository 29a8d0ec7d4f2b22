"""The Bayes oracle: exact, calibrated posteriors and ceiling AUCs at signal 1, 0.5 and 0.

Targets (measured on 20,000 patients per signal): ceiling AUC of KIT exon 11 vs rest in
0.75–0.85 at signal 1 with NIH high risk above it; at signal 0 every genotype ceiling is
0.5 within 4 Hanley–McNeil standard errors for the class sizes drawn.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from gistcad.analysis.performance import roc_auc
from gistcad.errors import ValidationError
from gistcad.synth.centers import DEFAULT_CENTERS
from gistcad.synth.clinical import draw_cohort
from gistcad.synth.oracle import (
    ceiling_aucs,
    ceiling_aucs_by_center,
    oracle_posterior,
)

N = 20_000
CLASS_COLUMNS = ["p_kit11", "p_kit9", "p_pdgfra", "p_wt_other"]
ORACLE_COLUMNS = [
    "patient_index", "center", "hospital_id", *CLASS_COLUMNS, "p_kit_mutant", "p_high_risk",
    "genotype_class", "is_kit11", "is_kit_mutant", "is_pdgfra", "is_high_risk",
]  # fmt: skip


def _oracle(signal: float, seed: int) -> pd.DataFrame:
    cohort = draw_cohort(N, DEFAULT_CENTERS, rng=np.random.default_rng(seed), signal=signal)
    return oracle_posterior(cohort, signal=signal)


@pytest.fixture(scope="module")
def full() -> pd.DataFrame:
    return _oracle(1.0, 101)


@pytest.fixture(scope="module")
def null() -> pd.DataFrame:
    return _oracle(0.0, 202)


def _se_at_half(labels: np.ndarray) -> float:
    """Hanley–McNeil standard error of an AUC of 0.5."""
    n_pos, n_neg = int(labels.sum()), int((~labels).sum())
    return float(np.sqrt((n_pos + n_neg + 1) / (12.0 * n_pos * n_neg)))


def test_columns_and_posterior_is_a_distribution(full: pd.DataFrame) -> None:
    assert list(full.columns) == ORACLE_COLUMNS
    np.testing.assert_allclose(full[CLASS_COLUMNS].sum(axis=1), 1.0, atol=1e-9)
    probabilities = full[[*CLASS_COLUMNS, "p_kit_mutant", "p_high_risk"]]
    assert ((probabilities >= 0) & (probabilities <= 1 + 1e-12)).all().all()
    assert (full["p_kit_mutant"] >= full["p_kit11"] + full["p_kit9"] - 1e-12).all()
    assert (full["p_kit_mutant"] <= full["p_kit11"] + full["p_kit9"] + full["p_wt_other"]
            + 1e-12).all()  # fmt: skip


@pytest.mark.parametrize(
    ("score", "label"),
    [("p_kit11", "is_kit11"), ("p_pdgfra", "is_pdgfra"), ("p_kit_mutant", "is_kit_mutant"),
     ("p_high_risk", "is_high_risk")],
)  # fmt: skip
def test_posterior_is_calibrated(full: pd.DataFrame, score: str, label: str) -> None:
    """An exact posterior matches the observed frequency in every decile of itself."""
    bins = pd.qcut(full[score], 10, duplicates="drop")
    grouped = full.groupby(bins, observed=True)
    predicted, observed = grouped[score].mean(), grouped[label].mean()
    p = predicted.clip(0.0, 1.0)
    se = np.sqrt(p * (1 - p) / grouped.size()).clip(lower=1e-3)
    assert (np.abs(predicted - observed) < 4.5 * se).all()


def test_ceilings_at_signal_one(full: pd.DataFrame) -> None:
    aucs = ceiling_aucs(full)
    assert set(aucs) == {"kit11_vs_rest", "kit_mutant_vs_not", "pdgfra_vs_rest",
                         "high_risk_vs_not"}  # fmt: skip
    assert 0.75 <= aucs["kit11_vs_rest"] <= 0.85
    assert aucs["high_risk_vs_not"] > aucs["kit11_vs_rest"]
    assert aucs["pdgfra_vs_rest"] > 0.75 and aucs["kit_mutant_vs_not"] > 0.75


def test_ceilings_at_signal_zero(null: pd.DataFrame) -> None:
    aucs = ceiling_aucs(null)
    for task, label in (("kit11_vs_rest", "is_kit11"), ("kit_mutant_vs_not", "is_kit_mutant"),
                        ("pdgfra_vs_rest", "is_pdgfra")):  # fmt: skip
        assert abs(aucs[task] - 0.5) < 4 * _se_at_half(null[label].to_numpy()), task
    # nothing visible depends on genotype, so the posterior is the prior for everyone
    assert null["p_kit11"].std() < 1e-9
    # size still shows risk, so the risk ceiling stays high
    assert aucs["high_risk_vs_not"] > 0.85


def test_ceiling_grows_with_signal(full: pd.DataFrame, null: pd.DataFrame) -> None:
    half = ceiling_aucs(_oracle(0.5, 303))["kit11_vs_rest"]
    assert ceiling_aucs(null)["kit11_vs_rest"] < half < ceiling_aucs(full)["kit11_vs_rest"]


def test_ceilings_by_center(full: pd.DataFrame) -> None:
    table = ceiling_aucs_by_center(full)
    assert list(table.index) == sorted(c.name for c in DEFAULT_CENTERS)
    assert table["n"].sum() == len(full)
    assert table["kit11_vs_rest"].between(0.70, 0.90).all()


def test_mann_whitney_auc_reference_values() -> None:
    assert roc_auc(np.array([0.1, 0.4, 0.4, 0.8]), np.array([0, 0, 1, 1])) == 0.875
    assert roc_auc(np.ones(6), np.array([0, 1, 0, 1, 0, 1])) == 0.5
    assert roc_auc(np.arange(4.0), np.array([0, 0, 1, 1])) == 1.0
    assert np.isnan(roc_auc(np.arange(3.0), np.zeros(3)))
    rng = np.random.default_rng(0)
    scores, labels = rng.integers(0, 5, 500).astype(float), rng.random(500) < 0.3
    assert roc_auc(scores, labels) == pytest.approx(roc_auc_score(labels, scores))


def test_rejects_missing_columns_and_wrong_signal() -> None:
    cohort = draw_cohort(50, DEFAULT_CENTERS, rng=np.random.default_rng(1), signal=1.0)
    with pytest.raises(ValidationError, match=r"lacks column\(s\) \['size_cm'\]"):
        oracle_posterior(cohort.drop(columns="size_cm"), signal=1.0)
    with pytest.raises(ValidationError, match=r"drawn at signal 1\.0"):
        oracle_posterior(cohort, signal=0.5)
    with pytest.raises(ValidationError, match=r"must lie in \[0, 1\]"):
        oracle_posterior(cohort, signal=2.0)

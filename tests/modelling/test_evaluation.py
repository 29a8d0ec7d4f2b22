"""The pooled row's mean of the per-center AUCs and its CI, against hand computation."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from gistcad.modelling.evaluation import CENTER_MEAN_COLUMNS, center_mean_text, evaluate
from gistcad.modelling.targets import Target

# center A ranks its 5 KIT exon 11 patients (label 1) above its 5 others; center B
# gives all 10 the same score. C has only KIT exon 11 patients: its AUC is not defined.
A_POSITIVE, A_NEGATIVE = [0.6, 0.7, 0.8, 0.9, 0.95], [0.1, 0.2, 0.3, 0.4, 0.45]


def _oof(with_c: bool) -> pd.DataFrame:
    centers = ["A"] * 10 + ["B"] * 10 + (["C"] * 3 if with_c else [])
    scores = A_POSITIVE + A_NEGATIVE + [0.5] * 10 + ([0.55] * 3 if with_c else [])
    labels = [1] * 5 + [0] * 5 + [1] * 5 + [0] * 5 + ([1] * 3 if with_c else [])
    return pd.DataFrame(
        {
            "center": centers,
            "label": labels,
            "p_kit11": scores,
            "pseudonym": [f"P{i:02d}" for i in range(len(centers))],
        }
    )


def test_the_center_mean_and_its_ci_by_hand() -> None:
    table = evaluate(_oof(with_c=False), Target.KIT11).tables["kit11_vs_rest"]
    rows = table.set_index("center")
    assert rows.loc["A", "auc"] == 1.0 and rows.loc["B", "auc"] == 0.5  # ties count half
    # pooled: A's positives beat all 10 negatives; B's beat A's 5 and tie with B's 5:
    # (5 × 10 + 5 × 7.5) / (10 × 10)
    assert rows.loc["All centers", "auc"] == pytest.approx(0.875)
    # the mean of the centers' AUCs, (1 + 0.5) / 2; every resample within the centers keeps
    # A at 1 and B at 0.5, so the whole bootstrap distribution, and the CI, is 0.75
    pooled = rows.loc["All centers"]
    assert [pooled[c] for c in CENTER_MEAN_COLUMNS] == [0.75, 0.75, 0.75]
    assert rows.loc[["A", "B"], list(CENTER_MEAN_COLUMNS)].isna().all().all()


def test_a_center_without_both_outcomes_is_not_averaged_and_the_rule_of_five_holds() -> None:
    oof = _oof(with_c=True)
    rows = evaluate(oof, Target.KIT11).tables["kit11_vs_rest"].set_index("center")
    assert np.isnan(rows.loc["C", "auc"])
    assert rows.loc["All centers", "center_mean_auc"] == 0.75  # A and B only
    assert rows.loc["All centers", "center_mean_auc_ci_lower"] == 0.75
    # B with 4 of a class (one patient fewer): the mean stays, its CI is not estimable
    fewer = oof.drop(index=19)
    rows = evaluate(fewer, Target.KIT11).tables["kit11_vs_rest"].set_index("center")
    assert rows.loc["All centers", "center_mean_auc"] == 0.75
    assert (
        rows.loc["All centers", ["center_mean_auc_ci_lower", "center_mean_auc_ci_upper"]]
        .isna()
        .all()
    )
    assert center_mean_text(rows.loc["All centers"]) == (
        "0.750 (CI not estimable: a center has under 5 of a class)"
    )


def test_the_center_mean_as_text() -> None:
    given = dict(zip(CENTER_MEAN_COLUMNS, (0.8125, 0.7, 0.9), strict=True))
    assert center_mean_text(given) == "0.812 (95 % CI 0.700–0.900)"
    assert center_mean_text(given, digits=2) == "0.81 (95 % CI 0.70–0.90)"
    assert center_mean_text(dict.fromkeys(CENTER_MEAN_COLUMNS)) == (
        "not defined (no center has both outcomes)"
    )

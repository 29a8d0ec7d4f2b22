"""The deep model's risk head judged as the imaging risk score is, on hand-made rows."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from gistcad.analysis.survival_metrics import likelihood_ratio_test, uno_concordance
from gistcad.errors import ValidationError
from gistcad.modelling.evaluation import evaluate
from gistcad.modelling.survival_evaluation import (
    MISSING_REFERENCES_NOTE,
    RISK_HEAD_CALIBRATION_NOTE,
    RISK_HEAD_TITLE,
    evaluate_risk_head,
    report_lines,
)
from gistcad.modelling.targets import Target


def _twelve() -> pd.DataFrame:
    """12 patients of one center, followed 10, 20, … 120 months, all recurring but the last
    (censored at 120); the head's score ranks them exactly by time; size is the same for all;
    the modified NIH class is high (3) for the six earliest, very low (0) for the rest."""
    months = np.arange(1, 13) * 10.0
    return pd.DataFrame(
        {
            "patient_id": np.arange(12),
            "pseudonym": [f"P-{i:03d}" for i in range(12)],
            "center": "Alpha",
            "label": np.arange(12) % 4,
            "p_kit11": 0.25,
            "p_kit9": 0.25,
            "p_pdgfra": 0.25,
            "p_other": 0.25,
            "risk_score": -months,
            "rfs_months": months,
            "rfs_event": [1.0] * 11 + [0.0],
            "size_cm": 5.0,
            "modified_nih": [3.0] * 6 + [0.0] * 6,
        }
    )


def test_the_head_against_size_and_nih_by_hand() -> None:
    # usable pairs: each recurrence i before every later patient: 11 + 10 + … + 1 = 66. The
    # score orders all: C 1. Size ties all: C 0.5. NIH: 6 × 6 = 36 pairs high before very
    # low, 15 + 15 tied pairs within a class (half each): C (36 + 15) / 66
    result = evaluate_risk_head(_twelve(), n_boot=200)
    pooled = {r["center"]: r for r in result["metrics"]}["All centers"]
    assert pooled["n"] == 12 and pooled["events"] == 11
    assert pooled["harrell_c"] == pytest.approx(1.0)
    assert pooled["size_cm_c"] == pytest.approx(0.5)
    assert pooled["modified_nih_c"] == pytest.approx(51 / 66)
    # every recurrence by 2 (5) years ranks above everyone still free then
    assert pooled["auc_24m"] == pytest.approx(1.0) and pooled["auc_60m"] == pytest.approx(1.0)
    assert pooled["uno_c"] == pytest.approx(1.0)
    deltas = {(r["center"], r["reference"]): r for r in result["delta_c"]}
    assert deltas[("All centers", "Tumour size alone")]["delta_c"] == pytest.approx(0.5)
    assert deltas[("All centers", "Modified NIH 2008")]["delta_c"] == pytest.approx(15 / 66)
    # Uno's C up to 60 months: no censoring before 120, so every weight is 1 and the usable
    # pairs are those of the recurrences before 60 (10 … 50 months): 11 + 10 + 9 + 8 + 7 = 45.
    # Size ties all: 0.5. NIH: each of the five is high, tied with the high ones after it
    # (5 + 4 + 3 + 2 + 1 = 15 pairs, half each) and above the six very low: (30 + 7.5) / 45
    assert pooled["size_cm_uno_c"] == pytest.approx(0.5)
    assert pooled["modified_nih_uno_c"] == pytest.approx(37.5 / 45)
    uno = {(r["center"], r["reference"]): r for r in result["delta_c_uno"]}
    assert uno[("All centers", "Tumour size alone")]["delta_c"] == pytest.approx(0.5)
    assert uno[("All centers", "Modified NIH 2008")]["c_reference"] == pytest.approx(37.5 / 45)
    assert uno[("All centers", "Modified NIH 2008")]["delta_c"] == pytest.approx(7.5 / 45)
    assert any("Uno's C (τ 60 months): C 1.000 vs 0.833" in line for line in report_lines(result))
    # a ranking, not probabilities: no calibration, and the page and report say why
    assert "calibration" not in result
    assert result["calibration_note"] == RISK_HEAD_CALIBRATION_NOTE
    assert "references_note" not in result


def _seeded(n: int = 150, seed: int = 3) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    size = rng.uniform(1, 15, n)
    hazard = 0.01 * np.exp(0.15 * size)
    months = rng.exponential(1 / hazard)
    censor = rng.uniform(20, 120, n)
    return pd.DataFrame(
        {
            "patient_id": np.arange(n),
            "pseudonym": [f"P-{i:03d}" for i in range(n)],
            "center": np.where(np.arange(n) % 2 == 0, "Alpha", "Beta"),
            "label": rng.integers(0, 4, n),
            "p_kit11": 0.4,
            "p_kit9": 0.2,
            "p_pdgfra": 0.2,
            "p_other": 0.2,
            "risk_score": 0.15 * size + rng.normal(0, 0.5, n),
            "rfs_months": np.minimum(months, censor),
            "rfs_event": (months <= censor).astype(float),
            "size_cm": size,
            "modified_nih": np.digitize(size, [2, 5, 10]).astype(float),
        }
    )


def test_uno_c_and_the_lr_test_are_those_of_the_validated_functions() -> None:
    oof = _seeded()
    result = evaluate_risk_head(oof, n_boot=100)
    pooled = {r["center"]: r for r in result["metrics"]}["All centers"]
    assert pooled["uno_c"] == pytest.approx(
        uno_concordance(oof["risk_score"], oof["rfs_months"], oof["rfs_event"], tau=60.0)
    )
    test = {t["base"]: t for t in result["lr_tests"]}["Log tumour size"]
    direct = likelihood_ratio_test(
        np.log(oof[["size_cm"]].to_numpy()),
        oof["risk_score"].to_numpy(),
        oof["rfs_months"].to_numpy(),
        oof["rfs_event"].to_numpy(),
    )
    assert test["statistic"] == pytest.approx(direct.statistic)
    assert test["p"] == pytest.approx(direct.p)


def test_a_genotype_evaluation_carries_the_head_in_its_json_and_never_calibrates_it() -> None:
    oof = _twelve().assign(p_no_recurrence_5y=0.5)  # a stray probability is not calibrated
    evaluation = evaluate(oof, Target.GENOTYPE, seed=0)
    stored = json.loads(json.dumps(evaluation.to_dict()))["risk_head"]
    assert {r["center"] for r in stored["metrics"]} == {"Alpha", "All centers"}
    assert "calibration" not in stored
    lines = report_lines(stored, RISK_HEAD_TITLE)
    assert lines[0] == RISK_HEAD_TITLE
    assert "Not calibrated: a risk head gives a ranking, not probabilities" in lines


def test_a_model_without_a_head_has_no_head_evaluation() -> None:
    oof = _twelve().drop(columns=["risk_score"])
    assert evaluate(oof, Target.GENOTYPE).risk_head == {}
    with pytest.raises(ValidationError, match="carry no risk score"):
        evaluate_risk_head(oof)


def test_a_version_without_stored_references_says_to_retrain() -> None:
    oof = _seeded().drop(columns=["size_cm", "modified_nih"])
    result = evaluate_risk_head(oof, n_boot=50)
    assert result["references_note"] == MISSING_REFERENCES_NOTE
    assert result["delta_c"] == []
    assert all(t["statistic"] is None for t in result["lr_tests"])


def test_no_recurrence_is_reported_not_raised_by_evaluate() -> None:
    oof = _twelve().assign(rfs_event=0.0)
    head = evaluate(oof, Target.GENOTYPE).risk_head
    assert "no recurrence" in head["not_evaluated"]

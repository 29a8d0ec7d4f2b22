"""Honesty of the clinical baseline on the synthetic cohort: chance without signal, never
above the oracle's ceiling with signal (clinical-only draws, no images, so it is fast)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from gistcad.analysis.performance import roc_auc
from gistcad.modelling.crossval import out_of_fold
from gistcad.modelling.folds import Scheme
from gistcad.modelling.learners import ClinicalLearner
from gistcad.modelling.targets import Target, labels_for
from gistcad.synth.centers import DEFAULT_CENTERS
from gistcad.synth.clinical import draw_cohort
from gistcad.synth.oracle import oracle_posterior

N = 1500


def _table(signal: float) -> tuple[pd.DataFrame, pd.DataFrame]:
    cohort = draw_cohort(N, DEFAULT_CENTERS, rng=np.random.default_rng(11), signal=signal)
    table = pd.DataFrame(
        {
            "patient_id": cohort["patient_index"],
            "pseudonym": cohort["hospital_id"],
            "center": cohort["center"],
            "site": cohort["site"],
            "size_cm": cohort["size_cm"],
            "age_at_diagnosis": cohort["age_years"],
            "sex": cohort["sex"],
            "genotype_detail": cohort["genotype_detail"],
            "rfs_months": cohort["rfs_months"],
            "rfs_event": cohort["rfs_event"],
        }
    )
    return table, oracle_posterior(cohort, signal=signal)


def _hanley_mcneil_se(auc: float, n_pos: int, n_neg: int) -> float:
    """Standard error of an AUC (Hanley & McNeil 1982, Radiology 143:29)."""
    q1, q2 = auc / (2 - auc), 2 * auc**2 / (1 + auc)
    var = (auc * (1 - auc) + (n_pos - 1) * (q1 - auc**2) + (n_neg - 1) * (q2 - auc**2)) / (
        n_pos * n_neg
    )
    return float(np.sqrt(var))


def _oof_auc(table: pd.DataFrame) -> tuple[float, np.ndarray]:
    labels = labels_for(table, Target.KIT11)
    learner = ClinicalLearner(n_classes=2)
    oof = out_of_fold(
        table,
        labels,
        Target.KIT11.classes,
        Scheme.KFOLD,
        lambda tr, te: learner.fit_predict(table, labels, tr, te),
    )
    return roc_auc(oof["p_kit11"], oof["label"]), oof["label"].to_numpy()


def test_no_signal_means_chance() -> None:
    table, _ = _table(signal=0.0)
    auc, labels = _oof_auc(table)
    se = _hanley_mcneil_se(0.5, int(labels.sum()), int((1 - labels).sum()))
    assert abs(auc - 0.5) < 3 * se, f"AUC {auc:.3f} beyond chance ± 3 SE ({3 * se:.3f})"


def test_with_signal_above_chance_and_never_above_the_ceiling() -> None:
    table, oracle = _table(signal=1.0)
    auc, labels = _oof_auc(table)
    ceiling = roc_auc(oracle["p_kit11"], oracle["is_kit11"].astype(int))
    se = _hanley_mcneil_se(ceiling, int(labels.sum()), int((1 - labels).sum()))
    assert auc > 0.55  # site and size carry part of the genotype signal
    assert auc <= ceiling + 2 * se, f"clinical AUC {auc:.3f} above the ceiling {ceiling:.3f}"


@pytest.mark.parametrize("target", list(Target))
def test_every_target_has_labels(target: Target) -> None:
    table, _ = _table(signal=1.0)
    table["mitotic_count"], table["mitotic_unit"], table["rupture"] = 3, "per_50hpf", 0
    for response in (t for t in Target if t.is_response):  # the stored category, as 0 or 1
        table[response.value] = (np.arange(len(table)) % 2).astype(float)
    labels = labels_for(table, target)
    assert set(np.unique(labels)) <= set(range(len(target.classes)))

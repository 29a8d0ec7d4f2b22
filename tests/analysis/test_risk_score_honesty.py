"""Honesty of the risk-score recipe (ridge Cox with a cross-validated penalty, out of fold,
ΔC against size with a paired bootstrap CI) on simulated patients, without images.

Recurrence depends on size alone, and 15 noise "features" join the log size: the out-of-fold
score must not add to size (ΔC's CI reaches 0). When one feature carries a hazard of its own,
the same recipe finds it (ΔC's CI above 0). bench/imaging_risk_score.py runs the whole model
(radiomics from synthetic CTs) on 400 patients over several seeds.
"""

from __future__ import annotations

import numpy as np
import pytest

from gistcad.analysis.penalised_cox import choose_penalty, fit_ridge_cox, fold_of_patients
from gistcad.analysis.survival_metrics import compare_concordance

N = 240


def _out_of_fold_score(x: np.ndarray, t: np.ndarray, e: np.ndarray) -> np.ndarray:
    score = np.empty(len(t))
    fold = fold_of_patients(e, 5, seed=0)
    for k in range(5):
        train, test = fold != k, fold == k
        mean, sd = x[train].mean(axis=0), x[train].std(axis=0)
        z = (x - mean) / sd
        grid = (0.01, 0.1, 1.0)
        choice = choose_penalty(z[train], t[train], e[train], grid=grid, n_folds=3)
        fit = fit_ridge_cox(z[train], t[train], e[train], choice.best * train.sum())
        score[test] = z[test] @ fit.coef
    return score


def _cohort(seed: int, trait_log_hr: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    log_size = np.log(rng.lognormal(np.log(5.0), 0.6, N))
    noise = rng.normal(size=(N, 15))
    hazard = np.exp(1.2 * (log_size - log_size.mean()) + trait_log_hr * noise[:, 0])
    times = rng.exponential(60.0 / hazard)
    censor = rng.uniform(24.0, 120.0, N)
    x = np.column_stack([log_size, noise])
    return x, np.minimum(times, censor), (times <= censor).astype(float)


@pytest.mark.parametrize("seed", [1, 2])
def test_without_an_imaging_effect_the_score_adds_nothing_to_size(seed: int) -> None:
    x, t, e = _cohort(seed, trait_log_hr=0.0)
    score = _out_of_fold_score(x, t, e)
    delta = compare_concordance(score, x[:, 0], t, e, n_boot=400, seed=seed)
    assert delta.ci_lower <= 0.0, delta
    assert abs(delta.delta) < 0.05, delta


def test_with_an_imaging_effect_the_score_adds_to_size() -> None:
    x, t, e = _cohort(3, trait_log_hr=0.8)
    score = _out_of_fold_score(x, t, e)
    delta = compare_concordance(score, x[:, 0], t, e, n_boot=400, seed=3)
    assert delta.ci_lower > 0.0, delta

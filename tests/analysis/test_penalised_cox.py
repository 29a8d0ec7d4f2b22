"""Ridge Cox: penalty 0 is the ordinary fit, coefficients shrink as the penalty grows, the
penalised optimum satisfies its score equation, and Breslow's hazard by hand."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from gistcad.analysis.cox import fit_cox
from gistcad.analysis.penalised_cox import (
    breslow_cumulative_hazard,
    choose_penalty,
    fit_ridge_cox,
    log_partial_likelihood,
)
from gistcad.errors import ValidationError


def _cohort(n: int = 150, p: int = 4, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, p))
    beta = np.array([0.8, -0.5, 0.0, 0.3][:p])
    times = rng.exponential(np.exp(-x @ beta))
    censor = rng.exponential(1.5, n)
    return x, np.round(np.minimum(times, censor), 2), (times <= censor).astype(float)


def test_penalty_zero_is_the_ordinary_cox_fit() -> None:
    x, t, e = _cohort()
    ridge = fit_ridge_cox(x, t, e, 0.0)
    plain = fit_cox(x, t, e)
    np.testing.assert_allclose(ridge.coef, plain.coef, atol=1e-7)
    assert ridge.log_likelihood == pytest.approx(plain.log_likelihood)


def test_coefficients_shrink_monotonically_toward_zero() -> None:
    x, t, e = _cohort()
    norms = [np.linalg.norm(fit_ridge_cox(x, t, e, lam).coef) for lam in (0, 1, 10, 100, 1e4)]
    assert all(a > b for a, b in itertools.pairwise(norms))
    assert norms[-1] < 0.01 * norms[0]


def test_the_penalised_score_equation_holds_at_the_fit() -> None:
    # ∂/∂β [ℓ(β) − λ/2 |β|²] = 0: checked by central differences of the likelihood alone
    x, t, e = _cohort(seed=4)
    lam = 7.0
    fit = fit_ridge_cox(x, t, e, lam)
    h = 1e-5
    for k in range(x.shape[1]):
        step = np.zeros(x.shape[1])
        step[k] = h
        slope = (
            log_partial_likelihood(x, t, e, fit.coef + step)
            - log_partial_likelihood(x, t, e, fit.coef - step)
        ) / (2 * h)
        assert slope - lam * fit.coef[k] == pytest.approx(0.0, abs=1e-5)


def test_ridge_exists_where_the_plain_fit_does_not() -> None:
    # the covariate separates events perfectly: no finite maximum without a penalty
    x = np.array([[1.0], [1.0], [0.0], [0.0]])
    t, e = np.array([1.0, 2.0, 3.0, 4.0]), np.array([1.0, 1.0, 0.0, 0.0])
    with pytest.raises(ValidationError):
        fit_cox(x, t, e)
    assert np.isfinite(fit_ridge_cox(x, t, e, 1.0).coef).all()


def test_cross_validation_prefers_little_penalty_for_a_strong_signal_and_more_for_noise() -> None:
    x, t, e = _cohort(n=200, seed=1)
    strong = choose_penalty(x, t, e, grid=(0.001, 0.1, 10.0))
    assert strong.best < 10.0
    rng = np.random.default_rng(9)
    noise = rng.normal(size=(200, 20))
    weak = choose_penalty(noise, t, e, grid=(0.001, 0.1, 10.0))
    assert weak.best > 0.001
    assert len(weak.cvl) == 3


def test_breslow_hazard_by_hand() -> None:
    # times 1 (event), 2 (censored), 3 (event); η = 0, log 2, 0:
    # H(1) = 1 / (1 + 2 + 1) = 1/4; H(3) = 1/4 + 1/1
    h = breslow_cumulative_hazard([0.0, np.log(2), 0.0], [1, 2, 3], [1, 0, 1], [0.5, 1, 2.5, 3])
    np.testing.assert_allclose(h, [0.0, 0.25, 0.25, 1.25])


def test_more_covariates_than_patients_fits_in_the_row_space_exactly() -> None:
    # the SVD shortcut (p > n) gives the optimum of the full problem: its score equation holds
    rng = np.random.default_rng(6)
    x = rng.normal(size=(25, 60))
    t = rng.exponential(1.0, 25)
    e = (rng.uniform(size=25) < 0.7).astype(float)
    lam = 3.0
    fit = fit_ridge_cox(x, t, e, lam)
    h = 1e-5
    for k in (0, 17, 59):
        step = np.zeros(60)
        step[k] = h
        slope = (
            log_partial_likelihood(x, t, e, fit.coef + step)
            - log_partial_likelihood(x, t, e, fit.coef - step)
        ) / (2 * h)
        assert slope - lam * fit.coef[k] == pytest.approx(0.0, abs=1e-5)

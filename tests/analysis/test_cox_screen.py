"""The batched Cox screen gives, feature by feature, the validated single-model fit."""

from __future__ import annotations

import numpy as np
import pytest

from gistcad.analysis.cox import fit_cox
from gistcad.analysis.cox_screen import (
    cox_screen,
    informative_columns,
    r_squared_on,
    tertiles,
)
from gistcad.errors import ValidationError


def _data(n: int = 120, m: int = 6, seed: int = 3) -> tuple[np.ndarray, ...]:
    rng = np.random.default_rng(seed)
    features = rng.normal(size=(n, m))
    covariates = np.column_stack([rng.normal(size=n), rng.integers(0, 2, n)])
    linear = 0.7 * features[:, 0] + 0.5 * covariates[:, 0]
    event_time = rng.exponential(np.exp(-linear))
    censor = rng.exponential(2.0, n)
    # rounded: tied times, so Efron's handling of ties is exercised
    durations = np.round(np.minimum(event_time, censor), 1)
    return features, durations, (event_time <= censor).astype(float), covariates


def test_each_feature_matches_its_own_cox_fit() -> None:
    features, durations, events, covariates = _data()
    screen = cox_screen(features, durations, events, covariates)
    assert screen.converged.all()
    for j in range(features.shape[1]):
        fit = fit_cox(np.column_stack([covariates, features[:, j]]), durations, events)
        assert screen.coef[j] == pytest.approx(fit.coef[-1], rel=1e-7)
        assert screen.se[j] == pytest.approx(fit.se[-1], rel=1e-6)
    assert screen.hr == pytest.approx(np.exp(screen.coef))
    assert screen.ci_lower[0] == pytest.approx(np.exp(screen.coef[0] - 1.959964 * screen.se[0]))


def test_the_planted_feature_is_found() -> None:
    features, durations, events, covariates = _data(n=300)
    screen = cox_screen(features, durations, events, covariates)
    assert int(np.argmin(screen.p)) == 0
    assert screen.coef[0] == pytest.approx(0.7, abs=0.2)


def test_an_indicator_without_events_is_left_out() -> None:
    events = np.array([1.0, 0.0, 1.0, 0.0, 1.0, 0.0])
    covariates = np.array(
        [[0, 1.3, 5], [1, 0.2, 5], [0, 2.2, 5], [1, 0.1, 5], [0, 0.5, 5], [0, 0.9, 5]], dtype=float
    )
    # column 0: its patients with 1 are censored; column 2 is constant
    assert informative_columns(covariates, events) == [1]


def test_a_feature_that_separates_the_events_is_reported_not_fitted() -> None:
    durations = np.arange(1.0, 11.0)
    events = np.ones(10)
    separating = durations[::-1].copy()  # the higher, the earlier: no finite maximum
    features = np.column_stack([separating, np.random.default_rng(0).normal(size=10)])
    screen = cox_screen(features, durations, events)
    assert not screen.converged[0] and np.isnan(screen.p[0])
    assert screen.converged[1]


def test_missing_values_are_refused() -> None:
    with pytest.raises(ValidationError, match="impute"):
        cox_screen(np.array([[1.0], [np.nan]]), [1.0, 2.0], [1, 0])


def test_r_squared_on_size_by_hand() -> None:
    size = np.array([1.0, 2.0, 3.0, 4.0])
    features = np.column_stack([2 * size + 1, [1.0, 3.0, 2.0, 4.0], np.ones(4)])
    # column 1: r = cov/(sd sd) = 4/sqrt(5*5) = 0.8, r^2 = 0.64 (sums of squares 5 and 5)
    assert r_squared_on(features, size) == pytest.approx([1.0, 0.64, 0.0])


def test_tertiles_split_in_three() -> None:
    groups = tertiles(np.arange(9.0))
    assert groups.tolist() == ["Low"] * 3 + ["Middle"] * 3 + ["High"] * 3


def test_a_feature_constant_in_these_patients_has_no_estimate() -> None:
    features, durations, events, covariates = _data(n=60, m=2)
    features[:, 1] = 3.0
    screen = cox_screen(features, durations, events, covariates)
    assert screen.converged.tolist() == [True, False]
    assert np.isnan(screen.p[1])

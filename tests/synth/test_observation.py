"""What the CT shows: measurements of a known tumour, the calibration's fit and likelihood."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import multivariate_normal

from gistcad.errors import ValidationError
from gistcad.synth.observation import (
    BIN_EDGES,
    DESIGN,
    NECROSIS_BELOW_HU,
    ObservationCalibration,
    fit_calibration,
    log_likelihood,
    measure_tumour,
    size_bin,
)

SPACING = (2.0, 1.0, 1.0)  # slice thickness, row, column (mm)


def _ball(shape: tuple[int, int, int], centre: tuple[float, ...], radius_mm: float) -> np.ndarray:
    grid = np.indices(shape).astype(float)
    distance = np.sqrt(sum(((grid[a] - centre[a]) * SPACING[a]) ** 2 for a in range(3)))
    return distance <= radius_mm


def test_a_ball_with_a_necrotic_core_is_measured_as_built() -> None:
    """Solid part 70 HU ± 10 (texture), a core of 10 HU holding a known share of the
    interior, no noise: the measurements give them back; a ball is convex (solidity ≈ 1)."""
    shape = (30, 60, 60)
    mask = _ball(shape, (15, 30, 30), 25.0)
    core = _ball(shape, (15, 30, 30), 14.0)
    rng = np.random.default_rng(0)
    hu = np.where(mask, 70.0 + rng.normal(0.0, 10.0, shape), -100.0)
    hu[core] = 10.0
    measured = measure_tumour(hu, mask, SPACING)
    assert measured["voxels"] == mask.sum()
    assert measured["solid_hu"] == pytest.approx(70.0, abs=1.5)
    assert measured["texture_sd"] == pytest.approx(10.0, rel=0.1)
    interior_share = core.sum() / mask.sum()  # the eroded rim holds no core voxel
    assert measured["necrosis_share"] >= interior_share
    assert measured["necrosis_share"] == pytest.approx(interior_share, rel=0.15)
    assert 0.85 <= measured["solidity"] <= 1.0


def test_a_lobulated_tumour_is_less_solid_than_a_ball() -> None:
    shape = (30, 80, 80)
    ball = _ball(shape, (15, 40, 40), 20.0)
    two_lobes = _ball(shape, (15, 40, 25), 14.0) | _ball(shape, (15, 40, 55), 14.0)
    hu = np.full(shape, 60.0)
    lobed, round_ = (measure_tumour(hu, m, SPACING)["solidity"] for m in (two_lobes, ball))
    # a voxelised ball's steps between slices keep it a little below 1
    assert round_ > 0.85 and lobed < round_ - 0.15
    assert NECROSIS_BELOW_HU < 60.0  # all solid here
    assert measure_tumour(hu, ball, SPACING)["necrosis_share"] == 0.0


def test_an_empty_mask_is_refused() -> None:
    hu = np.zeros((4, 5, 5))
    with pytest.raises(ValidationError, match="non-empty mask"):
        measure_tumour(hu, np.zeros_like(hu, dtype=bool), SPACING)
    with pytest.raises(ValidationError, match="non-empty mask"):
        measure_tumour(hu, np.ones((4, 5, 4), dtype=bool), SPACING)


def _simulated(n: int, rng: np.random.Generator) -> tuple[np.ndarray, ...]:
    """Latent η, covariates and voxel counts; features from a known linear model."""
    eta = rng.normal(size=(n, 4)) * [12.0, 1.0, 1.0, 1.0] + [60.0, 0.0, -1.0, 0.0]
    covariates = np.column_stack(
        [rng.normal(1.5, 0.5, n), rng.uniform(8, 20, n), rng.choice([1.0, 2.5, 5.0], n)]
    )
    voxels = 10 ** rng.uniform(1.0, 5.5, n)
    coef = rng.normal(size=(len(DESIGN), 4))
    chol = np.tril(rng.normal(size=(4, 4)) * 0.3) + np.eye(4) * 0.5
    design = np.column_stack([np.ones(n), eta, covariates])
    features = design @ coef + rng.normal(size=(n, 4)) @ chol.T
    return eta, covariates, voxels, features, coef, chol @ chol.T


def test_the_fit_recovers_a_known_linear_model() -> None:
    eta, covariates, voxels, features, coef, cov = _simulated(8000, np.random.default_rng(1))
    fitted = fit_calibration(eta, covariates, features, voxels)
    assert fitted.coef.shape == (len(BIN_EDGES), len(DESIGN), 4)
    design = np.column_stack([np.ones(len(eta)), eta, covariates])
    for b in range(len(BIN_EDGES)):
        # the intercept trades off against the η columns (η of enhancement is ≈ 60): compare
        # the slopes and the fitted means
        np.testing.assert_allclose(fitted.coef[b][1:], coef[1:], atol=0.1)  # ≈ 3.5 SE
        error = design @ (fitted.coef[b] - coef)
        assert np.sqrt(np.mean(error**2)) < 0.05
        np.testing.assert_allclose(fitted.cov[b], cov, atol=0.06)
    again = ObservationCalibration.from_json(fitted.to_json())
    np.testing.assert_allclose(again.coef, fitted.coef, atol=1e-6)


def test_too_few_renderings_in_a_bin_are_refused() -> None:
    eta, covariates, voxels, features, *_ = _simulated(40, np.random.default_rng(2))
    with pytest.raises(ValidationError, match="render more tumours"):
        fit_calibration(eta, covariates, features, voxels)


def test_the_likelihood_is_the_gaussian_marginal() -> None:
    """log p(F | η ~ N(m, diag(s²))) = log N(F; base + m·L, Σ + Lᵀ diag(s²) L)."""
    rng = np.random.default_rng(3)
    eta, covariates, voxels, features, *_ = _simulated(2000, rng)
    table = fit_calibration(eta, covariates, features, voxels)
    eta_mean = rng.normal(size=(5, 3, 4)) + np.array([60.0, 0.0, -1.0, 0.0])
    eta_sd = np.array([12.0, 1.0, 1.0, 1.0])
    got = log_likelihood(table, features[:5], covariates[:5], voxels[:5], eta_mean, eta_sd)
    for i in range(5):
        b = size_bin(voxels[i : i + 1])[0]
        coef, loading = table.coef[b], table.coef[b][1:5]
        base = coef[0] + covariates[i] @ coef[5:]
        total = table.cov[b] + loading.T @ np.diag(eta_sd**2) @ loading
        for h in range(3):
            expected = multivariate_normal(base + eta_mean[i, h] @ loading, total).logpdf(
                features[i]
            )
            assert got[i, h] == pytest.approx(expected, abs=1e-8)


def test_the_shipped_calibration_sees_enhancement_and_necrosis() -> None:
    """The table in the package loads; each bin's error covariance is positive definite;
    more enhancement and more necrosis read as more on the CT."""
    table = ObservationCalibration.load()
    assert table.renderings >= 1000
    for b in range(len(BIN_EDGES)):
        assert np.all(np.linalg.eigvalsh(table.cov[b]) > 0)
        assert table.coef[b][DESIGN.index("eta_enhancement"), 0] > 0.3
        assert table.coef[b][DESIGN.index("eta_necrosis"), 2] > 0.1

"""Morphology: principal axes, ellipsoid area, spatial autocorrelation."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import special
from scipy.spatial.distance import cdist

from gistcad.features.shape import ellipsoid_area, morphology, spatial_autocorrelation


def _ibsi_series(a: float, b: float, c: float) -> float:
    """IBSI 3.1.19 written with scipy's Legendre polynomials (needs αβ > 0)."""
    alpha, beta = math.sqrt(1 - b**2 / a**2), math.sqrt(1 - c**2 / a**2)
    x = (alpha**2 + beta**2) / (2 * alpha * beta)
    return (
        4
        * math.pi
        * a
        * b
        * sum(
            (alpha * beta) ** nu / (1 - 4 * nu**2) * special.eval_legendre(nu, x)
            for nu in range(21)
        )
    )


@pytest.mark.parametrize(("a", "b", "c"), [(5.0, 3.0, 2.0), (5.7, 4.655, 4.27), (9.0, 2.0, 1.0)])
def test_ellipsoid_area_is_the_ibsi_series(a: float, b: float, c: float) -> None:
    assert ellipsoid_area(a, b, c) == pytest.approx(_ibsi_series(a, b, c), rel=1e-10)


def test_ellipsoid_area_limits() -> None:
    assert ellipsoid_area(3.0, 3.0, 3.0) == pytest.approx(4 * math.pi * 9.0)
    near = _ibsi_series(4.0, 4.0 - 1e-7, 2.0)
    assert ellipsoid_area(4.0, 4.0, 2.0) == pytest.approx(near, rel=1e-6)  # αβ = 0 is finite


def test_spatial_autocorrelation_matches_the_pairwise_sum() -> None:
    rng = np.random.default_rng(5)
    image = rng.normal(size=(5, 6, 4))
    mask = rng.random((5, 6, 4)) < 0.6
    spacing = (0.8, 1.1, 2.5)
    moran, geary = spatial_autocorrelation(image, mask, spacing)
    positions = np.argwhere(mask) * np.array(spacing)
    x = image[mask]
    d = cdist(positions, positions)
    w = np.divide(1.0, d, out=np.zeros_like(d), where=d > 0)
    y = x - x.mean()
    n = x.size
    assert moran == pytest.approx(n / w.sum() * (y @ w @ y) / (y @ y))
    pairs = np.sum(w * (x[:, None] - x[None, :]) ** 2)
    assert geary == pytest.approx((n - 1) / (2 * w.sum()) * pairs / (y @ y))


def test_box_morphology() -> None:
    mask = np.zeros((6, 6, 6), dtype=bool)
    mask[1:5, 1:4, 1:3] = True  # 4 × 3 × 2 voxels
    image = np.where(mask, 10.0, 0.0)
    f = morphology(image, mask, mask, (1.0, 1.0, 2.0))
    assert f["morph_vol_approx"] == 48.0
    assert f["morph_com"] == pytest.approx(0.0)
    assert f["morph_integ_int"] == pytest.approx(10.0 * f["morph_volume"])
    assert f["morph_pca_maj_axis"] > f["morph_pca_min_axis"] > 0
    assert 0 < f["morph_sphericity"] < 1

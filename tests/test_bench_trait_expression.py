"""The trait-expression bench's correlations on hand-computed cases (no CT is rendered)."""

from __future__ import annotations

from types import ModuleType

import numpy as np
import pandas as pd
import pytest

from tests.bench_scripts import load_bench


def _bench() -> ModuleType:
    return load_bench("trait_expression")


TRUTH = [1.0, 3.0, 2.0, 4.0]


def test_spearman_by_hand_ties_sign_missing_and_constant() -> None:
    features = pd.DataFrame(
        {
            "grain": [1.0, 2.0, 3.0, 4.0],  # rank differences 0, 1, 1, 0: 1 - 6·2/(4·15)
            "reversed": [4.0, 3.0, 2.0, 1.0],  # differences 3, 0, 0, 3: 1 - 6·18/60 = -0.8
            "tied": [1.0, 1.0, 2.0, 2.0],  # ranks 1.5 1.5 3.5 3.5: 2 / (2 √5)
            "gap": [1.0, np.nan, 3.0, 4.0],  # rows 0, 2, 3: ranks 1 2 3 against 1 2 3
            "flat": [7.0, 7.0, 7.0, 7.0],  # no rank order: left out
        }
    )
    rho = _bench().trait_correlations(features, TRUTH)
    assert list(rho.index) == ["gap", "grain", "reversed", "tied"]
    assert rho["gap"] == pytest.approx(1.0)
    assert rho["grain"] == pytest.approx(0.8)
    assert rho["reversed"] == pytest.approx(0.8)
    assert rho["tied"] == pytest.approx(1 / np.sqrt(5))


def test_chance_level_of_three_patients() -> None:
    # of the 6 orders of 3 patients, 2 give |rho| 1 and 4 give |rho| 0.5: the median is 0.5
    features = pd.DataFrame({"grain": [1.0, 2.0, 3.0]})
    assert _bench().null_best(features, [1.0, 2.0, 3.0], permutations=101) == pytest.approx(0.5)


def test_lag_correlation_of_a_checkerboard() -> None:
    _, j, i = np.indices((3, 6, 6))
    hu = (-1.0) ** (j + i)  # neighbours differ in sign, voxels two apart agree
    inside = np.ones(hu.shape, dtype=bool)
    bench = _bench()
    assert bench.lag_correlation(hu, inside, 1) == pytest.approx(-1.0)
    assert bench.lag_correlation(hu, inside, 2) == pytest.approx(1.0)
    few = np.zeros(hu.shape, dtype=bool)
    few[0, 0, :3] = True  # 2 pairs at lag 1
    assert np.isnan(bench.lag_correlation(hu, few, 1))


def test_grain_probe_tells_a_coarse_grain_from_white_noise() -> None:
    from scipy.ndimage import gaussian_filter

    bench = _bench()
    rng = np.random.default_rng(0)
    k, j, i = np.indices((30, 40, 40))
    ball = (k - 15) ** 2 + (j - 20) ** 2 + (i - 20) ** 2 <= 13**2
    white = rng.normal(size=ball.shape)
    coarse = gaussian_filter(rng.normal(size=ball.shape), 3.0)
    coarse /= coarse.std()

    def probe(texture: np.ndarray) -> dict[str, float]:
        hu = 100.0 + 10.0 * texture
        return bench.grain_probe(bench.TumourRegion(hu, ball, (1.0, 1.0, 1.0)))

    smooth, noise = probe(coarse), probe(white)
    assert smooth["grain_r3"] > 0.6
    assert abs(noise["grain_r3"]) < 0.1
    assert smooth["grain_ratio"] == pytest.approx(smooth["grain_r6"] / smooth["grain_r3"])

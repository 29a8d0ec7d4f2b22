"""ComBat (Johnson, Li & Rabinovic 2007) on cases that can be checked by hand."""

from __future__ import annotations

import numpy as np
import pytest

from gistcad.modelling.harmonisation import ComBat


def test_without_shrinkage_each_batch_gets_the_pooled_mean_and_variance() -> None:
    # batch a: 1, 2, 3 (mean 2); batch b: 11, 13, 15 (mean 13); pooled mean (2 + 13) / 2 = 7.5;
    # residuals -1, 0, 1, -2, 0, 2: pooled variance 10 / 6
    x = np.array([[1.0], [2.0], [3.0], [11.0], [13.0], [15.0]])
    batch = np.array(["a", "a", "a", "b", "b", "b"], dtype=object)
    out = ComBat(empirical_bayes=False).fit_transform(x, batch)
    for b in ("a", "b"):
        rows = batch == b
        assert out[rows, 0].mean() == pytest.approx(7.5)
        assert out[rows, 0].var(ddof=1) == pytest.approx(10 / 6)
    # the order within a batch is kept
    assert list(np.argsort(out[:3, 0])) == [0, 1, 2]


def test_shrinkage_moves_the_batch_estimates_toward_their_prior() -> None:
    rng = np.random.default_rng(0)
    n, p = 12, 30
    shift = rng.normal(0.0, 1.0, p)  # feature-specific shifts of batch b
    x = rng.normal(0.0, 1.0, (2 * n, p))
    x[n:] += 2.0 + shift
    batch = np.array(["a"] * n + ["b"] * n, dtype=object)
    model = ComBat().fit(x, batch)
    for j in range(2):
        prior = model.gamma_hat_[j].mean()
        raw = np.abs(model.gamma_hat_[j] - prior)
        shrunk = np.abs(model.gamma_[j] - prior)
        assert (shrunk <= raw + 1e-12).all() and shrunk.sum() < raw.sum()
    # and the batch difference is gone from the output
    out = model.transform(x, batch)
    gap = np.abs(out[:n].mean(axis=0) - out[n:].mean(axis=0))
    assert gap.mean() < 0.1 * np.abs(x[:n].mean(axis=0) - x[n:].mean(axis=0)).mean()


def test_a_protected_covariate_keeps_its_effect() -> None:
    # size drives the feature; batch b happens to hold the larger tumours and adds +5
    size = np.array([1.0, 2.0, 3.0, 4.0, 3.0, 4.0, 5.0, 6.0])
    batch = np.array(["a"] * 4 + ["b"] * 4, dtype=object)
    noise = np.array([0.1, -0.1, 0.05, -0.05, 0.1, -0.1, 0.05, -0.05])
    x = (10.0 * size + 5.0 * (batch == "b") + noise)[:, None]
    out = ComBat(empirical_bayes=False).fit_transform(x, batch, size[:, None])
    slope = np.polyfit(size, out[:, 0], 1)[0]
    assert slope == pytest.approx(10.0, abs=0.2)  # without the covariate it would be diluted
    # the batch shift is removed: at equal size (3 and 4) both batches agree
    assert out[2, 0] == pytest.approx(out[4, 0], abs=0.5)


def test_an_unseen_batch_is_left_as_it_is() -> None:
    x = np.array([[1.0], [2.0], [11.0], [13.0]])
    model = ComBat().fit(x, np.array(["a", "a", "b", "b"], dtype=object))
    new = np.array([[100.0], [7.0]])
    np.testing.assert_array_equal(model.transform(new, np.array(["c", "c"], dtype=object)), new)
    assert model.transform(new, np.array(["a", "c"], dtype=object))[0, 0] != 100.0


def test_missing_values_are_refused() -> None:
    x = np.array([[1.0], [np.nan], [3.0], [4.0]])
    with pytest.raises(ValueError, match="impute"):
        ComBat().fit(x, np.array(["a", "a", "b", "b"], dtype=object))

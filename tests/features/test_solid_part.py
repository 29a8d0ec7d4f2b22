"""The solid part of a tumour: necrosis share and the solid part's HU percentiles."""

from __future__ import annotations

import numpy as np
import pytest

from gistcad.features.solid_part import solid_part, solid_part_features


def _sphere_with_core(solid_hu: float, core_hu: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    grid = np.indices((30, 30, 30)).astype(float)
    r = np.sqrt(((grid - 14.5) ** 2).sum(axis=0))
    mask = r <= 12
    core = r <= 6
    image = np.where(mask, solid_hu, -100.0)
    image[core] = core_hu
    return image, mask, core


def test_the_necrotic_core_is_not_solid_and_its_share_is_measured() -> None:
    image, mask, core = _sphere_with_core(90.0, 10.0)
    solid = solid_part(image, mask, (1.0, 1.0, 1.0))
    assert not (solid & ~mask).any()  # inside the mask only
    deep_core = np.sqrt(((np.indices(mask.shape) - 14.5) ** 2).sum(axis=0)) <= 4.5
    assert not solid[deep_core].any()  # the core is necrotic (its edge is blurred by 1 mm)
    assert solid[mask & ~core].mean() > 0.9  # the rim is solid, bar its smoothed edge
    features = solid_part_features(image, mask, (1.0, 1.0, 1.0))
    true_share = core.sum() / mask.sum()
    assert features["solid_necrosis_share"] == pytest.approx(true_share, abs=0.05)
    assert features["solid_p50"] == 90.0  # percentiles of the solid part, not of the mask
    assert 80.0 < features["solid_stat_mean"] < 90.0  # a few blurred core-edge voxels


def test_a_noisy_solid_tumour_has_little_necrosis_after_smoothing() -> None:
    rng = np.random.default_rng(1)
    image, mask, _ = _sphere_with_core(60.0, 60.0)
    image = image + rng.normal(0.0, 25.0, image.shape)  # single voxels fall below 30 HU
    raw = 1 - solid_part(image, mask, (1.0, 1.0, 1.0), smoothing_mm=0).sum() / mask.sum()
    smoothed = solid_part_features(image, mask, (1.0, 1.0, 1.0))["solid_necrosis_share"]
    assert raw > 0.05 and smoothed < raw / 2


def test_a_wholly_necrotic_tumour_has_no_solid_statistics() -> None:
    image, mask, _ = _sphere_with_core(0.0, 0.0)
    features = solid_part_features(image, mask, (1.0, 1.0, 1.0))
    assert features["solid_necrosis_share"] == 1.0
    assert np.isnan(features["solid_p10"]) and np.isnan(features["solid_stat_mean"])


def test_an_empty_mask_is_refused() -> None:
    image, mask, _ = _sphere_with_core(90.0, 10.0)
    with pytest.raises(ValueError, match="empty"):
        solid_part_features(image, np.zeros_like(mask), (1.0, 1.0, 1.0))

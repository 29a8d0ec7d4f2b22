"""The public entry: validation, invariances, settings for CT."""

from __future__ import annotations

import numpy as np
import pytest

from gistcad.errors import ValidationError
from gistcad.features import Family, FeatureSettings, extract_features, extract_from_volume
from gistcad.imaging.errors import GeometryMismatchError
from gistcad.imaging.volume import Volume
from tests.features.conftest import Phantom, ct_like_roi

PHANTOM = FeatureSettings.ibsi_phantom()


def _embed(phantom: Phantom, corner: tuple[int, int, int], shape=(20, 20, 20)):
    image = np.full(shape, 1.0)
    mask = np.zeros(shape, dtype=bool)
    box = tuple(slice(c, c + n) for c, n in zip(corner, phantom.image.shape, strict=True))
    image[box], mask[box] = phantom.image, phantom.mask
    return image, mask


def _assert_same(a: dict[str, float], b: dict[str, float]) -> None:
    assert a.keys() == b.keys()
    for name in a:
        assert a[name] == pytest.approx(b[name], rel=1e-9, abs=1e-12, nan_ok=True), name


def test_translating_the_roi_changes_nothing(phantom: Phantom) -> None:
    # both positions keep the 1 cm³ sphere (4 voxels) of local intensity inside the image
    first = extract_features(*_embed(phantom, (4, 4, 4)), phantom.spacing_mm, PHANTOM)
    second = extract_features(*_embed(phantom, (11, 12, 12)), phantom.spacing_mm, PHANTOM)
    _assert_same(first, second)


def test_permuting_voxels_outside_the_roi_changes_nothing_but_local_intensity() -> None:
    """Local intensity averages a 1 cm³ sphere that reaches outside the ROI (IBSI 3.2)."""
    image, roi = ct_like_roi(seed=1)
    outside = ~roi
    shuffled = image.copy()
    shuffled[outside] = np.random.default_rng(2).permutation(image[outside])
    settings = FeatureSettings.ct(25.0, (-100.0, 400.0))
    a = extract_features(image, roi, (0.8, 0.8, 2.5), settings)
    b = extract_features(shuffled, roi, (0.8, 0.8, 2.5), settings)
    local = {name for name in a if name.startswith("loc_")}
    assert local == {"loc_peak_loc", "loc_peak_glob"}
    _assert_same(
        {k: v for k, v in a.items() if k not in local}, {k: b[k] for k in a if k not in local}
    )


def test_ct_settings_give_finite_features() -> None:
    image, roi = ct_like_roi()
    features = extract_features(image, roi, (0.8, 0.8, 2.5), FeatureSettings.ct(25.0))
    assert len(features) == 210
    assert all(np.isfinite(v) for v in features.values())
    assert features["morph_vol_approx"] == pytest.approx(roi.sum() * 0.8 * 0.8 * 2.5)


def test_families_can_be_selected(phantom: Phantom) -> None:
    settings = FeatureSettings(discretisation="none", families=[Family.NGTDM, Family.STATISTICS])
    names = extract_features(phantom.image, phantom.mask, phantom.spacing_mm, settings)
    assert {name.split("_")[0] for name in names} == {"ngt", "stat"}


def test_volume_entry_matches_arrays(phantom: Phantom) -> None:
    affine = np.diag([-2.0, -2.0, 2.0, 1.0])
    features = extract_from_volume(
        Volume(phantom.image, affine), Volume(phantom.mask.astype(np.uint8), affine), PHANTOM
    )
    direct = extract_features(phantom.image, phantom.mask, phantom.spacing_mm, PHANTOM)
    _assert_same(features, direct)
    with pytest.raises(GeometryMismatchError, match="not on the image's voxel grid"):
        extract_from_volume(
            Volume(phantom.image, affine), Volume(phantom.mask, np.diag([2.0, 2, 3, 1])), PHANTOM
        )


@pytest.mark.parametrize(
    ("change", "match"),
    [
        (lambda img, msk: (img, np.zeros_like(msk)), "mask is empty"),
        (lambda img, msk: (img, msk[:-1]), "differ"),
        (lambda img, msk: (np.where(msk, np.nan, img), msk), "non-finite"),
        (lambda img, msk: (np.where(msk, np.inf, img), msk), "non-finite"),
        (lambda img, msk: (img, msk.astype(int) * 2), "binary"),
        (lambda img, msk: (img[..., 0], msk[..., 0]), "3-D"),
    ],
    ids=["empty-mask", "shape-mismatch", "nan", "inf", "non-binary-mask", "2d"],
)
def test_invalid_input_is_rejected(phantom: Phantom, change, match: str) -> None:
    image, mask = change(phantom.image.copy(), phantom.mask.copy())
    with pytest.raises(ValidationError, match=match):
        extract_features(image, mask, phantom.spacing_mm, PHANTOM)


@pytest.mark.parametrize("spacing", [(2.0, 2.0), (2.0, 0.0, 2.0), (2.0, float("nan"), 2.0)])
def test_bad_spacing_is_rejected(phantom: Phantom, spacing) -> None:
    with pytest.raises(ValidationError, match="spacing_mm"):
        extract_features(phantom.image, phantom.mask, spacing, PHANTOM)


def test_empty_resegmentation_is_rejected(phantom: Phantom) -> None:
    settings = FeatureSettings.ct(25.0, (100.0, 400.0))
    with pytest.raises(ValidationError, match="re-segmentation range"):
        extract_features(phantom.image, phantom.mask, phantom.spacing_mm, settings)


@pytest.mark.filterwarnings("error")
@pytest.mark.parametrize(
    "roi",
    [(5, 5, 5), (slice(4, 6), 5, 5), (slice(2, 8), slice(2, 8), 5)],
    ids=["one-voxel", "two-voxels", "one-slice"],
)
def test_degenerate_rois_give_every_name_without_warnings(roi) -> None:
    image = np.random.default_rng(0).normal(40.0, 30.0, (10, 10, 10))
    mask = np.zeros(image.shape, dtype=bool)
    mask[roi] = True
    features = extract_features(image, mask, (1.0, 1.0, 1.0), FeatureSettings.ct(25.0))
    assert len(features) == 210  # undefined values are NaN, never missing
    assert features["stat_mean"] == pytest.approx(image[mask].mean())

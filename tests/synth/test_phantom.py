"""The synthetic CT phantom: plausible HU, tumour size and site, mask, noise, determinism."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np
import pytest
from scipy import ndimage

from gistcad.errors import ValidationError
from gistcad.synth.centers import DEFAULT_CENTERS, CenterProfile
from gistcad.synth.phantom import RenderedCT, _add_noise, render_ct
from gistcad.synth.tumour import CALCIFIED_MAX_HU

LYON = DEFAULT_CENTERS[1]  # 2.5 mm, 120 kVp (hu_scale 1), noise 10 HU
QUIET = replace(LYON, noise_sd_hu=1.0, slice_thickness_mm=2.0)


def make_record(**overrides: Any) -> dict[str, Any]:
    record: dict[str, Any] = {
        "hospital_id": "H-0001",
        "site": "stomach",
        "sub_site": "body",
        "sex": "female",
        "size_cm": 5.0,
        "enhancement_hu": 60.0,
        "heterogeneity": 0.0,
        "necrosis_fraction": 0.0,
        "lobulation": 0.3,
        "exophytic": False,
        "calcification": False,
    }
    record.update(overrides)
    return record


def render(
    center: CenterProfile = QUIET, matrix: int = 128, seed: int = 0, **overrides: Any
) -> RenderedCT:
    return render_ct(
        make_record(**overrides),
        center,
        matrix=matrix,
        rng=np.random.default_rng(seed),
        scan_length_mm=120.0,
    )


def largest_axial_diameter_mm(ct: RenderedCT) -> float:
    """Max over slices of the max distance between mask pixel centres, + one pixel."""
    spacing = ct.pixel_spacing_mm[0]
    best = 0.0
    for k in np.flatnonzero(ct.tumour_mask.any(axis=(1, 2))):
        rows, cols = np.nonzero(ct.tumour_mask[k])
        pts = np.column_stack([rows, cols]).astype(float)
        if len(pts) > 3000:
            pts = pts[np.random.default_rng(0).choice(len(pts), 3000, replace=False)]
        dist = np.sqrt(((pts[:, None, :] - pts[None, :, :]) ** 2).sum(-1)).max()
        best = max(best, (dist + 1.0) * spacing)
    return best


def test_geometry_and_types() -> None:
    ct = render()
    assert ct.hu.dtype == np.int16 and ct.tumour_mask.dtype == bool
    assert ct.hu.shape == ct.tumour_mask.shape == (60, 128, 128)  # 120 mm / 2 mm
    assert ct.slice_thickness_mm == QUIET.slice_thickness_mm
    assert ct.field_of_view_mm >= QUIET.field_of_view_mm()
    assert ct.pixel_spacing_mm[0] == pytest.approx(ct.field_of_view_mm / 128)
    assert ct.orientation == (1.0, 0.0, 0.0, 0.0, 1.0, 0.0)
    centre = np.linalg.inv(ct.affine_lps) @ np.array([*ct.tumour_centre_mm, 1.0])
    k, j, i = np.rint(centre[[2, 1, 0]]).astype(int)
    assert ct.tumour_mask[k, j, i]  # the centre voxel is tumour
    assert ct.slice_position_mm(3)[2] == pytest.approx(ct.origin_mm[2] + 3 * 2.0)


def test_solid_tumour_hu_follows_enhancement_and_kvp() -> None:
    ct = render(enhancement_hu=70.0)
    assert np.median(ct.hu[ct.tumour_mask]) == pytest.approx(70.0 * QUIET.hu_scale, abs=8)
    low_kvp = replace(QUIET, hu_scale=1.15)
    ct_100 = render(low_kvp, enhancement_hu=70.0)
    assert np.median(ct_100.hu[ct_100.tumour_mask]) == pytest.approx(80.5, abs=8)


def test_necrosis_lowers_the_core() -> None:
    solid = render(size_cm=8.0)
    necrotic = render(size_cm=8.0, necrosis_fraction=0.4)
    np.testing.assert_array_equal(solid.tumour_mask, necrotic.tumour_mask)
    inside = necrotic.hu[necrotic.tumour_mask]
    share_low = np.mean(inside < 38)  # below the midpoint of 20 (necrosis) and 60 (solid)
    assert share_low == pytest.approx(0.4, abs=0.1)
    assert np.mean(solid.hu[solid.tumour_mask] < 38) < 0.05
    centre = np.linalg.inv(necrotic.affine_lps) @ np.array([*necrotic.tumour_centre_mm, 1.0])
    k, j, i = np.rint(centre[[2, 1, 0]]).astype(int)
    assert necrotic.hu[k, j - 1 : j + 2, i - 1 : i + 2].mean() < 40


def test_calcification_only_when_asked() -> None:
    """Foci > 300 HU inside the tumour (away from its edge, where bone may blend in)."""
    for calcified in (True, False):
        ct = render(calcification=calcified, size_cm=6.0)
        core = ndimage.binary_erosion(ct.tumour_mask, iterations=1)
        assert bool(ct.hu[core].max() > 300) == calcified


@pytest.mark.parametrize("seed", range(6))
def test_overlapping_calcified_foci_stay_within_physical_hu(seed: int) -> None:
    """In a small tumour the 2-6 foci (radius 2-3.5 mm) overlap; a voxel covered by two foci
    is still calcium (700-1100 HU at most), never their sum (once about 3,200 HU)."""
    ct = render(QUIET, matrix=256, seed=seed, calcification=True, size_cm=0.75)
    tumour = ct.hu[ct.tumour_mask]
    assert tumour.max() > 300  # the foci are there
    assert tumour.max() <= 1100 + 6 * QUIET.noise_sd_hu


def test_no_tumour_voxel_exceeds_dense_calcium_over_many_seeds() -> None:
    """Over 40 calcified tumours of 0.5-3 cm at every center's scanner, no tumour voxel
    exceeds :data:`CALCIFIED_MAX_HU` plus the largest the scanner's noise can add
    (Irwin-Hall(4): 2·sqrt(3) SD), well below 1,500 HU, cortical bone's top."""
    rng = np.random.default_rng(2026)
    highest = []
    for seed in range(40):
        center = DEFAULT_CENTERS[seed % len(DEFAULT_CENTERS)]
        center = replace(center, slice_thickness_mm=min(center.slice_thickness_mm, 2.5))
        size_cm = float(rng.uniform(0.5, 3.0))
        ct = render(center, matrix=128, seed=seed, calcification=True, size_cm=size_cm)
        tumour = ct.hu[ct.tumour_mask]
        noise_max = 2 * np.sqrt(3) * center.noise_sd_hu
        assert tumour.max() <= CALCIFIED_MAX_HU + noise_max, (seed, size_cm, tumour.max())
        highest.append(int(tumour.max()))
    assert max(highest) <= 1500
    assert min(highest) > 300  # the foci are there, in every tumour


@pytest.mark.parametrize(
    ("site", "sub_site", "size_cm"),
    [
        ("stomach", "antrum", 1.5),
        ("jejunum_ileum", "jejunum", 5.0),
        ("stomach", "fundus", 12.0),
        ("rectum", "rectum", 4.0),
    ],
)
def test_largest_axial_diameter_matches_size(site: str, sub_site: str, size_cm: float) -> None:
    """Tolerance: 12 % + 2 pixels (the 3-D largest diameter may lie off the axial plane)."""
    ct = render(site=site, sub_site=sub_site, size_cm=size_cm, lobulation=0.6)
    measured = largest_axial_diameter_mm(ct)
    tolerance = 0.12 * size_cm * 10 + 2 * ct.pixel_spacing_mm[0]
    assert measured == pytest.approx(size_cm * 10, abs=tolerance)
    assert ct.tumour_mask.sum() > 0


def test_mask_lies_in_the_body_and_covers_the_tumour() -> None:
    ct = render(size_cm=7.0, exophytic=True, necrosis_fraction=0.3, heterogeneity=1.0)
    inside = ct.hu[ct.tumour_mask]
    assert np.mean(inside > -200) > 0.99  # no air, no outside
    assert 0 < np.median(inside) < 100
    # voxels just outside the mask in-plane are mostly not tumour-like: mask is not too small
    assert ct.tumour_mask.sum() * np.prod(ct.pixel_spacing_mm) * 2.0 > 0.2 * (70**3) * 0.4


@pytest.mark.parametrize(
    ("sub_site", "site", "z_range"),
    [
        ("rectum", "rectum", (0, 110)),
        ("oesophagus", "oesophagus", (380, 480)),
        ("fundus", "stomach", (350, 460)),
        ("antrum", "stomach", (260, 340)),
        ("duodenum", "duodenum", (220, 300)),
        ("ileum", "jejunum_ileum", (80, 210)),
        ("mesentery", "other", (160, 260)),
    ],
)
def test_site_puts_the_tumour_in_its_region(
    sub_site: str, site: str, z_range: tuple[float, float]
) -> None:
    ct = render(site=site, sub_site=sub_site, size_cm=3.0, matrix=64)
    x, _, z = ct.tumour_centre_mm
    assert z_range[0] <= z - ct.pelvic_floor_z_mm <= z_range[1]
    assert ct.origin_mm[2] <= z <= ct.slice_position_mm(ct.hu.shape[0] - 1)[2]
    if sub_site in ("fundus", "antrum"):
        assert x > -20  # stomach on the patient's left (+x in LPS)
    if sub_site == "duodenum":
        assert x < 0  # C-loop right of the midline


def test_noise_sd_and_correlation() -> None:
    volume = np.zeros((4, 200, 200), dtype=np.float32)
    _add_noise(volume, 15.0, np.random.default_rng(3))
    assert volume.std() == pytest.approx(15.0, rel=0.03)
    corr = np.corrcoef(volume[:, :, 1:].ravel(), volume[:, :, :-1].ravel())[0, 1]
    assert corr == pytest.approx(0.5, abs=0.03)


def test_noise_in_a_flat_region_matches_the_center() -> None:
    noisy = render(replace(QUIET, noise_sd_hu=18.0), size_cm=9.0, seed=5)
    quiet = render(QUIET, size_cm=9.0, seed=5)  # same anatomy: same draws before the noise
    diff = noisy.hu.astype(float) - quiet.hu.astype(float)
    core = noisy.tumour_mask & quiet.tumour_mask
    assert diff[core].std() == pytest.approx(np.sqrt(18.0**2 + 1.0**2), rel=0.1)


def test_same_seed_same_volume_other_seed_other_volume() -> None:
    a, b, c = render(seed=7), render(seed=7), render(seed=8)
    np.testing.assert_array_equal(a.hu, b.hu)
    assert not np.array_equal(a.hu, c.hu) or a.hu.shape != c.hu.shape


def test_giant_tumour_fits_the_field_of_view() -> None:
    ct = render(size_cm=30.0, matrix=96)
    assert ct.field_of_view_mm >= 300
    assert not ct.tumour_mask[:, 0, :].any() and not ct.tumour_mask[:, :, 0].any()
    assert ct.hu.shape[0] * ct.slice_thickness_mm >= 0.6 * 300


def test_invalid_input_is_refused() -> None:
    with pytest.raises(ValidationError, match="unknown site"):
        render(site="liver", sub_site="")
    with pytest.raises(ValidationError, match="size_cm"):
        render(size_cm=0.0)
    with pytest.raises(ValidationError, match="missing enhancement_hu"):
        render_ct(
            {"site": "stomach", "size_cm": 3.0}, QUIET, matrix=64, rng=np.random.default_rng(0)
        )

"""Growing an outline from one click on a tiny phantom: accuracy, the leak guard, tolerance."""

from __future__ import annotations

import numpy as np
import pytest

from gistcad.errors import ValidationError
from gistcad.imaging.volume import Volume
from gistcad.segmentation import GrowOptions, SegmentationError, grow_from_seed, seed_index
from gistcad.segmentation.region_growing import (
    FAT_EDGE_HU,
    FLUID_EDGE_HU,
    LEAK_MESSAGE,
    _Box,
    _in_plane_step,
    _leak,
)
from tests.segmentation.phantoms import AFFINE, SHAPE, dice, phantom


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_a_centre_click_outlines_the_tumour_beside_a_brighter_organ(seed: int) -> None:
    p = phantom(seed=seed)
    grown = grow_from_seed(p.ct, seed_ijk=p.centre)
    mask = np.asarray(grown.array, dtype=bool)
    assert grown.same_grid(p.ct) and grown.array.dtype == np.uint8
    assert dice(mask, p.tumour) >= 0.9
    assert (mask & p.organ).sum() < 0.02 * p.organ.sum()


def test_a_click_given_in_mm_is_the_same_click() -> None:
    p = phantom()
    world = p.ct.index_to_world(np.array(p.centre, dtype=float))[0]
    by_mm = grow_from_seed(p.ct, seed_mm=world)
    by_voxel = grow_from_seed(p.ct, seed_ijk=p.centre)
    assert np.array_equal(by_mm.array, by_voxel.array)


def test_a_click_inside_the_large_organ_is_refused_as_a_leak() -> None:
    p = phantom()
    with pytest.raises(SegmentationError, match="grew into the surrounding organs"):
        grow_from_seed(p.ct, seed_ijk=(55, 32, 16))
    assert str(LEAK_MESSAGE).endswith("lower the tolerance")


@pytest.mark.parametrize("where", [(2, 2, 2), (10, 10, 10)], ids=["air", "fat"])
def test_a_click_on_air_or_fat_is_refused(where: tuple[int, int, int]) -> None:
    with pytest.raises(SegmentationError, match="is on air or fat"):
        grow_from_seed(phantom().ct, seed_ijk=where)


def test_a_huge_tolerance_never_takes_in_fat() -> None:
    """The range's floor stays at FAT_EDGE_HU: at ±300 HU fat (−100) is still out of range."""
    p = phantom()
    mask = np.asarray(grow_from_seed(p.ct, seed_ijk=p.centre, tolerance_hu=300.0).array, bool)
    fat = np.asarray(p.ct.array) > -1000  # the body ...
    fat &= ~p.tumour & ~p.organ  # ... less tumour and organ
    assert (mask & fat).sum() < 0.05 * p.tumour.sum()  # at most a closing's rim
    assert FAT_EDGE_HU > -100
    assert dice(mask, p.tumour) >= 0.85


def test_the_volume_limit_refuses_an_outline_bigger_than_it() -> None:
    p = phantom()
    volume_ml = p.tumour.sum() * 2.0 / 1000.0
    with pytest.raises(SegmentationError, match="grew into the surrounding organs"):
        grow_from_seed(p.ct, seed_ijk=p.centre, options=GrowOptions(max_volume_ml=volume_ml / 2))


def test_the_outline_grows_with_the_tolerance_until_the_organ_is_reached() -> None:
    """Below the organ's HU, a wider range can only add voxels (noise at the tumour's edge)."""
    p = phantom(noise_sd=20.0)
    sizes = [
        int(grow_from_seed(p.ct, seed_ijk=p.centre, tolerance_hu=t).array.sum())
        for t in (10.0, 20.0, 30.0, 40.0)
    ]
    assert sizes == sorted(sizes)
    assert sizes[0] < sizes[-1]


def test_a_tumour_with_a_necrotic_core_is_filled() -> None:
    p = phantom()
    hu = np.array(p.ct.array)
    core = np.zeros(SHAPE, dtype=bool)
    core[29:37, 29:36, 14:19] = True
    hu[core] = 130  # a core outside the range (like calcification): a hole to fill
    grown = grow_from_seed(p.ct.with_array(hu), seed_ijk=(26, 32, 16), tolerance_hu=60.0)
    assert np.asarray(grown.array, dtype=bool)[core].all()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({}, "either as voxel indices or in mm"),
        ({"seed_ijk": (1, 2, 3), "seed_mm": (1.0, 2.0, 3.0)}, "either as voxel indices or in mm"),
        ({"seed_ijk": (64, 2, 3)}, "outside the scan"),
        ({"seed_ijk": (1, 2)}, "three finite numbers"),
    ],
)
def test_bad_clicks_say_what_is_wrong(kwargs: dict, message: str) -> None:  # type: ignore[type-arg]
    from gistcad.imaging.volume import Volume

    with pytest.raises(ValidationError, match=message):
        seed_index(Volume(np.zeros(SHAPE, dtype=np.int16), AFFINE), **kwargs)


def test_a_non_positive_tolerance_is_refused() -> None:
    with pytest.raises(ValidationError, match="positive number of HU"):
        grow_from_seed(phantom().ct, seed_ijk=(33, 32, 16), tolerance_hu=0.0)


# --- a large box is grown on a coarser in-plane grid: a leak or a large tumour costs little ---


def test_a_box_over_the_voxel_budget_is_grown_on_a_coarser_grid_and_still_outlines() -> None:
    p = phantom()
    fine = np.asarray(grow_from_seed(p.ct, seed_ijk=p.centre).array, dtype=bool)
    # the phantom's first box holds 64 x 64 x 32 voxels: a budget of 20,000 needs step 3
    coarse = grow_from_seed(p.ct, seed_ijk=p.centre, options=GrowOptions(max_box_voxels=20_000))
    mask = np.asarray(coarse.array, dtype=bool)
    assert coarse.same_grid(p.ct)
    assert not np.array_equal(mask, fine)  # grown on another grid ...
    assert dice(mask, p.tumour) >= 0.8  # ... and still the tumour
    assert (mask & p.organ).sum() < 0.05 * p.organ.sum()


def test_a_leak_on_a_coarser_grid_is_still_refused() -> None:
    p = phantom()
    with pytest.raises(SegmentationError, match="grew into the surrounding organs"):
        grow_from_seed(p.ct, seed_ijk=(55, 32, 16), options=GrowOptions(max_box_voxels=20_000))


@pytest.mark.parametrize(
    ("box", "budget", "step"),
    [
        ((64, 64, 32), 200_000, 1),
        ((64, 64, 32), 131_072, 1),
        ((64, 64, 32), 20_000, 3),
        ((64, 64, 32), 10_000, 4),
    ],
)
def test_the_in_plane_step_is_the_smallest_within_the_budget(
    box: tuple[int, int, int], budget: int, step: int
) -> None:
    found = _in_plane_step(
        _Box(np.zeros(3, dtype=int), np.array(box)), GrowOptions(max_box_voxels=budget)
    )
    assert found == step
    assert np.prod(box) / found**2 <= budget  # within the budget ...
    assert found == 1 or np.prod(box) / (found - 1) ** 2 > budget  # ... with the finest step


def test_the_leak_guard_of_a_box_counts_only_the_scan_s_own_edges() -> None:
    mask = np.zeros((10, 10, 5), dtype=bool)
    mask[0, :, :] = True  # 50 voxels on the box's first plane of axis 0
    spacing = np.array([1.0, 1.0, 2.0])
    options = GrowOptions(max_edge_area_mm2=60.0)  # 50 voxels x 2 mm² = 100 mm²
    inner = ((False, True), (True, True), (False, False))  # that plane is inside the scan
    assert _leak(mask, spacing, options, inner) is None
    assert "in-plane edges" in str(_leak(mask, spacing, options))  # the scan's own edge


# --- the range's floor: above the fluid against a tumour first, the fat edge when that leaks ---


def _beside_fluid() -> tuple[Volume, np.ndarray, np.ndarray, tuple[int, int, int]]:
    """The phantom with its organ replaced by fluid (water, 0 HU, same noise)."""
    p = phantom()
    hu = np.asarray(p.ct.array, dtype=np.float64)
    noise = np.random.default_rng(1).normal(0.0, 8.0, hu.shape)
    hu[p.organ] = 0.0 + noise[p.organ]
    return p.ct.with_array(hu.astype(np.int16)), p.tumour, p.organ, p.centre


def test_a_tumour_against_fluid_is_outlined_without_the_fluid() -> None:
    ct, tumour, fluid, centre = _beside_fluid()
    mask = np.asarray(grow_from_seed(ct, seed_ijk=centre).array, dtype=bool)
    assert dice(mask, tumour) >= 0.85
    assert (mask & fluid).sum() < 0.02 * fluid.sum()
    # with the fat edge as the only floor the region runs into the fluid, and the opening that
    # cuts it off again takes the tumour's rim with it
    fat_edge_only = GrowOptions(floors_hu=(FAT_EDGE_HU,))
    other = np.asarray(grow_from_seed(ct, seed_ijk=centre, options=fat_edge_only).array, bool)
    assert dice(mask, tumour) > dice(other, tumour) + 0.03


def test_a_click_on_a_necrotic_core_at_the_floor_is_outlined_with_the_core() -> None:
    p = phantom()
    hu = np.asarray(p.ct.array, dtype=np.float64)
    i, j, k = np.meshgrid(*(np.arange(n) for n in SHAPE), indexing="ij")
    core = ((i - p.centre[0]) ** 2 + (j - p.centre[1]) ** 2 + ((k - p.centre[2]) * 2) ** 2) <= 16
    hu[core] = FLUID_EDGE_HU  # necrosis at the floor itself, 4 mm around the click
    ct = p.ct.with_array(hu.astype(np.int16))
    mask = np.asarray(grow_from_seed(ct, seed_ijk=p.centre).array, dtype=bool)
    assert mask[core].all()  # the core is inside the outline
    assert dice(mask, p.tumour) >= 0.85

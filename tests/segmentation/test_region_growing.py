"""Growing an outline from one click on a tiny phantom: accuracy, the leak guard, tolerance."""

from __future__ import annotations

import numpy as np
import pytest

from gistcad.errors import ValidationError
from gistcad.segmentation import GrowOptions, SegmentationError, grow_from_seed, seed_index
from gistcad.segmentation.region_growing import FAT_EDGE_HU, LEAK_MESSAGE
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

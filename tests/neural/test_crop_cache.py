from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest

from gistcad.errors import ValidationError
from gistcad.neural.crop import Crop, CropSettings, tumour_crop
from gistcad.neural.crop_cache import CropCache
from tests.neural.conftest import Scene

IMAGE_SHA = "a" * 64
MASK_SHA = "b" * 64


class Maker:
    """A ``make`` callable that counts its calls."""

    def __init__(self, scene: Scene, settings: CropSettings) -> None:
        self.scene, self.settings, self.calls = scene, settings, 0

    def __call__(self) -> Crop:
        self.calls += 1
        return tumour_crop(self.scene.image, self.scene.mask, self.settings)


def test_miss_then_hit_returns_the_same_crop(tmp_path: Path, scene: Scene) -> None:
    cache, settings = CropCache(tmp_path), CropSettings(size=16)
    make = Maker(scene, settings)
    first = cache.get_or_make(IMAGE_SHA, MASK_SHA, settings, make)
    second = cache.get_or_make(IMAGE_SHA, MASK_SHA, settings, make)
    assert make.calls == 1 and (cache.hits, cache.misses) == (1, 1)
    np.testing.assert_array_equal(first.array, second.array)
    np.testing.assert_array_equal(first.affine, second.affine)
    np.testing.assert_array_equal(first.tumour_extent_mm, second.tumour_extent_mm)
    assert first.spacing_mm == second.spacing_mm


def test_key_changes_with_settings_image_and_mask(tmp_path: Path, scene: Scene) -> None:
    cache = CropCache(tmp_path)
    for settings in (CropSettings(size=16), CropSettings(size=16, margin_mm=3.0)):
        cache.get_or_make(IMAGE_SHA, MASK_SHA, settings, Maker(scene, settings))
    settings = CropSettings(size=16)
    cache.get_or_make("c" * 64, MASK_SHA, settings, Maker(scene, settings))
    cache.get_or_make(IMAGE_SHA, "d" * 64, settings, Maker(scene, settings))
    assert cache.misses == 4 and cache.hits == 0
    assert len(list(tmp_path.rglob("*.npz"))) == 4


def test_damaged_file_is_a_miss_and_is_replaced(tmp_path: Path, scene: Scene) -> None:
    cache, settings = CropCache(tmp_path), CropSettings(size=16)
    cache.get_or_make(IMAGE_SHA, MASK_SHA, settings, Maker(scene, settings))
    path = cache.path_for(IMAGE_SHA, MASK_SHA, settings)
    path.write_bytes(b"not a zip")
    make = Maker(scene, settings)
    cache.get_or_make(IMAGE_SHA, MASK_SHA, settings, make)
    assert make.calls == 1 and cache.get(IMAGE_SHA, MASK_SHA, settings) is not None


def test_concurrent_writers_leave_one_whole_file(tmp_path: Path, scene: Scene) -> None:
    settings = CropSettings(size=16)
    crop = tumour_crop(scene.image, scene.mask, settings)
    start = threading.Barrier(4)

    def write() -> None:
        start.wait()
        for _ in range(5):
            CropCache(tmp_path).put(IMAGE_SHA, MASK_SHA, settings, crop)

    threads = [threading.Thread(target=write) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [p.suffix for p in tmp_path.rglob("*") if p.is_file()] == [".npz"]
    stored = CropCache(tmp_path).get(IMAGE_SHA, MASK_SHA, settings)
    assert stored is not None
    np.testing.assert_array_equal(stored.array, crop.array)


def test_keys_must_be_sha256(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="image_sha must be"):
        CropCache(tmp_path).path_for("../../etc", MASK_SHA, CropSettings())

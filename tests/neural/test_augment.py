from __future__ import annotations

import numpy as np
import pytest
import torch

from gistcad.errors import ValidationError
from gistcad.neural.augment import AugmentSettings, augment_batch, jitter_windowed
from gistcad.neural.crop import window
from tests.neural.conftest import blob_crops

NONE = AugmentSettings(max_rotation_deg=0, max_translation_fraction=0, hu_scale=0, hu_shift=0)


def test_seeded_shape_preserving_and_input_untouched() -> None:
    batch = torch.from_numpy(blob_crops(3, size=16)[0])
    before = batch.clone()
    a = augment_batch(batch, AugmentSettings(), np.random.default_rng(7))
    b = augment_batch(batch, AugmentSettings(), np.random.default_rng(7))
    assert a.shape == batch.shape
    assert torch.equal(a, b) and torch.equal(batch, before)
    assert not torch.allclose(a, batch)
    assert float(a.min()) >= 0.0 and float(a.max()) <= 1.0


def test_zero_ranges_are_the_identity() -> None:
    batch = torch.from_numpy(blob_crops(2, size=16)[0])
    out = augment_batch(batch, NONE, np.random.default_rng(0))
    torch.testing.assert_close(out, batch, atol=1e-5, rtol=0)


def test_rotation_is_about_the_craniocaudal_axis() -> None:
    # content that varies only along S (the last axis) is unchanged by any turn about S
    profile = torch.linspace(0, 1, 16)
    batch = profile.expand(2, 2, 16, 16, 16).contiguous()
    turn = AugmentSettings(max_translation_fraction=0, hu_scale=0, hu_shift=0)
    out = augment_batch(batch, turn, np.random.default_rng(3))
    torch.testing.assert_close(out, batch, atol=1e-5, rtol=0)


def test_intensity_jitter_equals_jittering_hu_before_windowing() -> None:
    hu = np.array([-150.0, -20.0, 40.0, 180.0])
    scale, shift = 1.08, -12.0
    expected = window(scale * hu + shift, (-160, 240))
    got = jitter_windowed(
        torch.from_numpy(window(hu, (-160, 240)))[None],
        torch.tensor([scale]),
        torch.tensor([shift]),
        (-160.0, 240.0),
    )
    np.testing.assert_allclose(got[0].numpy(), expected, atol=1e-6)


def test_mask_channel_is_not_jittered() -> None:
    batch = torch.from_numpy(blob_crops(2, size=16)[0])
    jitter_only = AugmentSettings(max_rotation_deg=0, max_translation_fraction=0)
    out = augment_batch(batch, jitter_only, np.random.default_rng(1))
    torch.testing.assert_close(out[:, 1], batch[:, 1], atol=1e-5, rtol=0)


def test_refuses_unrealistic_ranges() -> None:
    with pytest.raises(ValidationError, match="rotation"):
        AugmentSettings(max_rotation_deg=90)

"""The phantom's anatomy: tissue values of the organ template, rendered without noise."""

from __future__ import annotations

import numpy as np
import pytest

from gistcad.synth.anatomy import build_abdomen
from gistcad.synth.shapes import Cylinder, Grid, render_slices
from gistcad.synth.tissues import Tissues


def test_tissue_values_of_the_anatomy() -> None:
    """Noise-free anatomy: liver, fat, muscle, air, aorta, bone in expected ranges."""
    tissues = Tissues()
    abdomen = build_abdomen(np.random.default_rng(1), tissues, female=True)
    coords = (np.arange(256) - 127.5).astype(np.float32) * 1.6
    img = render_slices(
        abdomen.shapes, abdomen.body, tissues, Grid(coords, coords, 1.6), np.array([360.0]), 3.0
    )[0]

    def at(x: float, y: float) -> float:
        return float(img[int(np.argmin(np.abs(coords - y))), int(np.argmin(np.abs(coords - x)))])

    _, b_ant, _ = abdomen.body.axes_at(360.0)
    assert 100 <= at(-90, 0) <= 120  # liver (right = −x), PV phase
    assert at(0, -b_ant + 0.4 * abdomen.body.fat_mm) == pytest.approx(-100)  # subcut fat
    assert at(0, -b_ant - 20) == pytest.approx(-1000)  # air in front of the patient
    aorta = next(s for s in abdomen.shapes if isinstance(s, Cylinder) and s.hu == tissues.aorta)
    assert 150 <= at(*aorta.centre0) <= 200
    assert img.max() >= 700  # cortical bone
    assert 40 <= at(30, 76 * 1.0 + 2) <= 70 or 40 <= at(-30, 78) <= 70  # paraspinal muscle

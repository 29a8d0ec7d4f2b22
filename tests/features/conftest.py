"""The IBSI 1 digital phantom (tests/data/ibsi, CC BY 4.0, see tests/data/LICENCE_NOTES.md)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

IBSI_DIR = Path(__file__).resolve().parents[1] / "data" / "ibsi"

#: The phantom's voxels are 2 mm cubes.
PHANTOM_SPACING_MM = (2.0, 2.0, 2.0)


@dataclass(frozen=True)
class Phantom:
    """The phantom in the project's (i, j, k) order (the files are (z, y, x))."""

    image: npt.NDArray[np.float64]
    mask: npt.NDArray[np.bool_]
    spacing_mm: tuple[float, float, float] = PHANTOM_SPACING_MM


def load_phantom() -> Phantom:
    image = np.load(IBSI_DIR / "phantom_image.npy").transpose(2, 1, 0).astype(np.float64)
    mask = np.load(IBSI_DIR / "phantom_mask.npy").transpose(2, 1, 0).astype(bool)
    return Phantom(image, mask)


@pytest.fixture(scope="session")
def phantom() -> Phantom:
    return load_phantom()


def ct_like_roi(seed: int = 0) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.bool_]]:
    """A 60×60×40 box of CT-like soft tissue (HU) with an ellipsoidal tumour ROI."""
    rng = np.random.default_rng(seed)
    i, j, k = np.mgrid[:60, :60, :40]
    image = 40.0 + 30.0 * rng.standard_normal((60, 60, 40)) + 25.0 * np.sin(i / 5.0)
    roi = (i - 30) ** 2 + (j - 30) ** 2 + ((k - 20) * 1.5) ** 2 < 28**2
    return image, roi

"""Tiny seeded CT phantoms for the outline tests: a tumour in fat, touching a bright organ."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gistcad.imaging.volume import Volume

SHAPE = (64, 64, 32)
SPACING = (1.0, 1.0, 2.0)
AFFINE = np.diag([*SPACING, 1.0])
AIR, FAT, TUMOUR, ORGAN = -1000.0, -100.0, 45.0, 110.0


@dataclass(frozen=True)
class Phantom:
    ct: Volume
    tumour: np.ndarray  # bool (i, j, k)
    organ: np.ndarray  # bool (i, j, k)
    centre: tuple[int, int, int]


def phantom(
    *, noise_sd: float = 8.0, seed: int = 0, radii_mm: tuple[float, ...] = (11, 9, 10)
) -> Phantom:
    """Air around a body of fat; an organ (110 HU) filling the body's right part over every
    slice; an ellipsoidal tumour (45 HU) touching the organ; Gaussian noise of ``noise_sd``."""
    i, j, k = np.meshgrid(*(np.arange(n) for n in SHAPE), indexing="ij")
    mm = [i * SPACING[0], j * SPACING[1], k * SPACING[2]]
    body = (i >= 4) & (i < SHAPE[0] - 4) & (j >= 4) & (j < SHAPE[1] - 4)
    organ = body & (i >= 44)
    centre_mm = (44.0 - radii_mm[0], 32.0, 32.0)
    rho = sum(((m - c) / r) ** 2 for m, c, r in zip(mm, centre_mm, radii_mm, strict=True))
    tumour = (rho <= 1.0) & body & ~organ
    hu = np.full(SHAPE, AIR)
    hu[body] = FAT
    hu[organ] = ORGAN
    hu[tumour] = TUMOUR
    hu += np.random.default_rng(seed).normal(0.0, noise_sd, SHAPE)
    centre = tuple(round(c / s) for c, s in zip(centre_mm, SPACING, strict=True))
    return Phantom(Volume(hu.astype(np.int16), AFFINE), tumour, organ, centre)  # type: ignore[arg-type]


def dice(a: np.ndarray, b: np.ndarray) -> float:
    """2|A∩B| / (|A| + |B|)."""
    return 2.0 * float(np.logical_and(a, b).sum()) / float(a.sum() + b.sum())

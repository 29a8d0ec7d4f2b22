"""Tiny synthetic scenes for the model tests: a CT-like volume with a cube tumour of known
geometry, and crops where the class is written into the image (a bright or a dark blob)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest
import torch

from gistcad.imaging.volume import Volume

TUMOUR_HU = 100.0
BACKGROUND_HU = 0.0


@dataclass(frozen=True)
class Scene:
    image: Volume
    mask: Volume
    centre_mm: np.ndarray  # RAS centre of the tumour's voxel box
    extent_mm: np.ndarray  # RAS extent of the tumour's voxel box (edges included)


def cube_scene(
    shape: tuple[int, int, int] = (60, 50, 24),
    spacing: tuple[float, float, float] = (0.8, 0.8, 2.5),
    first: tuple[int, int, int] = (20, 15, 8),
    size: tuple[int, int, int] = (25, 25, 8),
    lps: bool = False,
) -> Scene:
    """A volume of 0 HU with a box of 100 HU (voxels ``first`` … ``first + size - 1``).

    ``lps=True`` stores the same scene the DICOM way: i to the patient's left, j posterior
    (affine diag(−sx, −sy, sz) in RAS, array flipped along i and j): the world is identical.
    """
    hu = np.full(shape, BACKGROUND_HU, dtype=np.float32)
    box = tuple(slice(f, f + n) for f, n in zip(first, size, strict=True))
    hu[box] = TUMOUR_HU
    labels = np.zeros(shape, dtype=np.uint8)
    labels[box] = 1
    affine = np.diag([*spacing, 1.0])
    affine[:3, 3] = (-20.0, 35.0, -400.0)
    lo = np.array(first) - 0.5
    hi = np.array(first) + np.array(size) - 0.5
    centre = affine[:3, :3] @ ((lo + hi) / 2) + affine[:3, 3]
    extent = np.array(size) * np.array(spacing)
    if lps:
        flip = np.diag([-1.0, -1.0, 1.0, 1.0])
        flip[:2, 3] = [shape[0] - 1, shape[1] - 1]  # index i' = (I-1) - i
        affine = affine @ flip
        hu = hu[::-1, ::-1, :].copy()
        labels = labels[::-1, ::-1, :].copy()
    return Scene(Volume(hu, affine), Volume(labels, affine), centre, extent)


@pytest.fixture
def scene() -> Scene:
    return cube_scene()


def blob_crops(n: int, size: int = 32, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``n`` crops (n, 2, size³) with a sphere, bright (class 0) or dark (class 2).

    Alternating classes; centre and radius vary; the mask channel marks the sphere.
    """
    rng = np.random.default_rng(seed)
    grid = np.indices((size,) * 3, dtype=np.float32)
    labels = np.tile([0, 2], n // 2 + 1)[:n]
    crops = np.empty((n, 2, size, size, size), dtype=np.float32)
    for i, label in enumerate(labels):
        centre = (size - 1) / 2 + rng.uniform(-3, 3, 3)
        radius = rng.uniform(0.15, 0.28) * size
        inside = ((grid - centre[:, None, None, None]) ** 2).sum(axis=0) < radius**2
        image = 0.5 + 0.1 * rng.standard_normal((size,) * 3)
        image[inside] += 0.3 if label == 0 else -0.3
        crops[i, 0] = np.clip(image, 0, 1)
        crops[i, 1] = inside
    return crops, labels


@pytest.fixture(autouse=True)
def _one_thread() -> Iterator[None]:
    """One intra-op thread: on a shared 2-core machine, two OpenMP threads that lose their
    core to another process stall at every barrier (measured: 4.6–6.5 s per training step
    with 2 threads against 1.0 s with 1 at load average 4.7; 0.4 s with 2 threads idle)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture
def loader_workers_seen(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The ``num_workers`` of every ``DataLoader`` built while the test runs (the loader
    itself is the real one): proof that read-ahead workers did read the batches."""
    seen: list[int] = []
    real_loader = torch.utils.data.DataLoader

    def spy(*args: Any, **kwargs: Any) -> Any:
        seen.append(kwargs["num_workers"])
        return real_loader(*args, **kwargs)

    monkeypatch.setattr(torch.utils.data, "DataLoader", spy)
    return seen

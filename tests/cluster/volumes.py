"""Tiny synthetic CT volumes with a tumour mask, for the cluster tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from gistcad.imaging.nifti_io import write_canonical
from gistcad.imaging.volume import Volume


def tiny_case(folder: Path, name: str, rng: np.random.Generator) -> dict[str, str]:
    """A 28 x 28 x 14 CT of 1 x 1 x 2.5 mm with a noisy ellipsoid "tumour" and its mask."""
    i, j, k = np.mgrid[:28, :28, :14]
    centre = rng.uniform(11, 17, size=3) * (1, 1, 0.5)
    radii = rng.uniform(5, 8, size=3) * (1, 1, 0.4)
    inside = (((i - centre[0]) / radii[0]) ** 2 + ((j - centre[1]) / radii[1]) ** 2) + (
        (k - centre[2]) / radii[2]
    ) ** 2 <= 1
    image = rng.normal(40, 30, size=inside.shape) + np.where(inside, rng.uniform(20, 120), 0)
    affine = np.diag([1.0, 1.0, 2.5, 1.0])
    (folder / "volumes").mkdir(parents=True, exist_ok=True)
    volume_sha = write_canonical(
        Volume(image.astype(np.int16), affine), folder / "volumes" / f"{name}.nii"
    )
    mask_sha = write_canonical(
        Volume(inside.astype(np.uint8), affine), folder / "volumes" / f"{name}_mask.nii"
    )
    return {
        "volume_path": f"volumes/{name}.nii",
        "mask_path": f"volumes/{name}_mask.nii",
        "volume_sha256": volume_sha,
        "mask_sha256": mask_sha,
    }

"""Local intensity features (IBSI 3.2, family code 9ST6).

The mean intensity in a sphere of 1 cm³ (radius 6.2 mm) around a voxel centre takes every
image voxel whose centre lies in the sphere, inside the ROI or not, within the image bounds.
Reference: Zwanenburg et al., IBSI reference manual, arXiv:1612.07003, section 3.2.

=========  ====  ==================================================================
feature    IBSI  definition
=========  ====  ==================================================================
peak_loc   VJGA  sphere mean around the ROI voxel of highest intensity (the largest
                 such mean if several voxels share that intensity)
peak_glob  0F91  largest sphere mean over all ROI voxels
=========  ====  ==================================================================

Sphere means are computed for the whole array at once by FFT convolution.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt
from scipy import signal

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

#: Radius (mm) of the sphere of volume 1 cm³.
SPHERE_RADIUS_MM = (3.0 * 1000.0 / (4.0 * math.pi)) ** (1.0 / 3.0)


def sphere_kernel(spacing_mm: tuple[float, float, float]) -> FloatArray:
    """1 where a voxel centre is within :data:`SPHERE_RADIUS_MM` of the centre voxel."""
    half = [int(SPHERE_RADIUS_MM // d) for d in spacing_mm]
    grids = np.meshgrid(
        *[np.arange(-h, h + 1) * d for h, d in zip(half, spacing_mm, strict=True)],
        indexing="ij",
    )
    distance = np.sqrt(sum(g**2 for g in grids))
    return (distance <= SPHERE_RADIUS_MM + 1e-9).astype(np.float64)


def sphere_means(image: FloatArray, spacing_mm: tuple[float, float, float]) -> FloatArray:
    """Mean intensity in the 1 cm³ sphere around every voxel (voxels outside the image skipped)."""
    kernel = sphere_kernel(spacing_mm)
    total = signal.fftconvolve(image, kernel, mode="same")
    count = signal.fftconvolve(np.ones_like(image), kernel, mode="same")
    return np.asarray(total / np.round(count))


def local_intensity(
    image: FloatArray, intensity_mask: BoolArray, spacing_mm: tuple[float, float, float]
) -> dict[str, float]:
    """Local and global intensity peak (names ``loc_peak_loc``, ``loc_peak_glob``)."""
    means = sphere_means(image, spacing_mm)[intensity_mask]
    values = image[intensity_mask]
    return {
        "loc_peak_loc": float(means[values == values.max()].max()),
        "loc_peak_glob": float(means.max()),
    }

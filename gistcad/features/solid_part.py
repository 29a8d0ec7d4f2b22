"""The solid (enhancing) part of a tumour and what describes it.

A GIST's necrotic core does not enhance, so features of the whole mask mix two tissues whose
share varies from tumour to tumour. :func:`solid_part` keeps the mask voxels whose HU, after a
Gaussian smoothing of :data:`SMOOTHING_MM` (sigma, in millimetres, per axis by the spacing),
lie above :data:`NECROSIS_BELOW_HU` (30 HU: necrosis and fluid lie below, enhancing tumour
above on portal-venous CT). The smoothing keeps single noisy voxels from being called
necrotic; it averages over the mask only (normalised convolution), so the fat around a tumour
does not make its rim look necrotic. :func:`solid_part_features` gives the necrosis share
(1 − solid voxels / mask voxels), the solid part's 10th, 50th and 90th HU percentiles, and
the IBSI intensity statistics of the solid part
(:func:`gistcad.features.first_order.intensity_statistics`), under the prefix ``solid_``.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray
from scipy.ndimage import gaussian_filter

from gistcad.features.first_order import intensity_statistics

#: HU below which a (smoothed) voxel inside the mask counts as necrotic
NECROSIS_BELOW_HU = 30.0
#: the smoothing's sigma before the threshold, millimetres
SMOOTHING_MM = 1.0
#: the prefix of the solid part's features
PREFIX = "solid_"


def solid_part(
    image: NDArray[np.floating],
    mask: NDArray[np.bool_],
    spacing_mm: tuple[float, float, float],
    *,
    threshold_hu: float = NECROSIS_BELOW_HU,
    smoothing_mm: float = SMOOTHING_MM,
) -> NDArray[np.bool_]:
    """The mask's voxels whose smoothed HU lie at or above ``threshold_hu``.

    Parameters
    ----------
    image : ndarray
        HU, any 3-D shape.
    mask : ndarray of bool
        The tumour, the shape of ``image``.
    spacing_mm : tuple of float
        Voxel size per axis, millimetres.
    threshold_hu, smoothing_mm : float
        The necrosis threshold and the Gaussian sigma (0: no smoothing).

    Returns
    -------
    ndarray of bool
        The solid part (a subset of ``mask``; may be empty).
    """
    if image.shape != mask.shape:
        raise ValueError(f"image {image.shape} and mask {mask.shape} differ in shape")
    hu = np.asarray(image, dtype=np.float64)
    if smoothing_mm > 0:
        sigma = [smoothing_mm / s for s in spacing_mm]
        inside = np.asarray(mask, dtype=np.float64)
        weight = gaussian_filter(inside, sigma=sigma, mode="nearest")
        total = gaussian_filter(hu * inside, sigma=sigma, mode="nearest")
        hu = np.divide(total, weight, out=np.full_like(hu, -np.inf), where=weight > 0)
    return np.asarray(mask, dtype=bool) & (hu >= threshold_hu)


def solid_part_features(
    image: NDArray[np.floating],
    mask: NDArray[np.bool_],
    spacing_mm: tuple[float, float, float],
) -> dict[str, float]:
    """Necrosis share, solid-part percentiles and intensity statistics (prefix ``solid_``).

    The HU statistics are NaN when no voxel is solid (a wholly necrotic tumour): the model's
    imputation fills them; the necrosis share is then 1.
    """
    inside = np.asarray(mask, dtype=bool)
    if not inside.any():
        raise ValueError("the mask is empty: a tumour without voxels has no solid part")
    solid = solid_part(image, inside, spacing_mm)
    values = np.asarray(image, dtype=np.float64)[solid]
    features = {f"{PREFIX}necrosis_share": float(1.0 - solid.sum() / inside.sum())}
    if values.size == 0:
        stats = {name: float("nan") for name in intensity_statistics(np.zeros(1))}
        p10 = p50 = p90 = float("nan")
    else:
        stats = intensity_statistics(values)
        p10, p50, p90 = (float(v) for v in np.percentile(values, [10, 50, 90]))
    features.update({f"{PREFIX}p10": p10, f"{PREFIX}p50": p50, f"{PREFIX}p90": p90})
    features.update({f"{PREFIX}{name}": value for name, value in stats.items()})
    return features

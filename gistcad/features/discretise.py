"""Re-segmentation and grey-level discretisation (IBSI sections 2.5 and 2.7).

All texture families work on a :class:`GreyLevels` array: integer grey levels 1…Ng inside
the intensity mask and 0 outside it, so "outside the ROI" needs no separate mask.

Reference: Zwanenburg et al., IBSI reference manual, arXiv:1612.07003, section 2.7
(fixed bin size: ``X_d = floor((X - X_min) / w_b) + 1``; fixed bin number:
``X_d = floor(N_g (X - X_min) / (X_max - X_min)) + 1``, with ``X_d = N_g`` at ``X_max``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from gistcad.errors import ValidationError
from gistcad.features.settings import Discretisation, FeatureSettings

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]


@dataclass(frozen=True)
class GreyLevels:
    """A discretised ROI.

    Attributes
    ----------
    levels
        Same shape as the image; grey level 1…``n_levels`` inside the intensity mask, 0 outside.
    n_levels
        Ng, the number of grey levels (size of the texture matrices).
    intensities
        Shape (Ng,): the intensity represented by each level (bin centre for a fixed bin
        width, the level itself otherwise); used by the intensity-volume histogram.
    step
        Intensity difference between consecutive levels.
    """

    levels: IntArray
    n_levels: int
    intensities: FloatArray
    step: float


def resegment(
    image: FloatArray, mask: BoolArray, value_range: tuple[float, float] | None
) -> BoolArray:
    """Intensity mask: ``mask`` restricted to ``low <= image <= high`` (IBSI 2.5)."""
    if value_range is None:
        return mask.copy()
    low, high = value_range
    return mask & (image >= low) & (image <= high)


def fixed_bin_width(values: FloatArray, bin_width: float, lower_bound: float) -> IntArray:
    """IBSI fixed bin size: ``floor((X - X_min) / w_b) + 1``; bin 1 starts at ``lower_bound``.

    >>> fixed_bin_width(np.array([-100.0, -75.0, -75.1, 0.0]), 25.0, -100.0).tolist()
    [1, 2, 1, 5]
    """
    return np.floor((values - lower_bound) / bin_width).astype(np.int64) + 1


def fixed_bin_number(values: FloatArray, bin_number: int) -> IntArray:
    """IBSI fixed bin number: ``floor(Ng (X - X_min) / (X_max - X_min)) + 1``, capped at Ng.

    >>> fixed_bin_number(np.array([0.0, 0.5, 1.0]), 4).tolist()
    [1, 3, 4]
    """
    low, high = float(values.min()), float(values.max())
    if high == low:
        return np.ones(values.shape, dtype=np.int64)
    scaled = np.floor(bin_number * (values - low) / (high - low)).astype(np.int64) + 1
    return np.minimum(scaled, bin_number)


def discretise(
    image: FloatArray, intensity_mask: BoolArray, settings: FeatureSettings
) -> GreyLevels:
    """Grey levels of the voxels in ``intensity_mask`` (0 elsewhere), per ``settings``.

    Raises
    ------
    ValidationError
        With ``Discretisation.NONE`` when the ROI holds values that are not integers ≥ 1.
    """
    values = image[intensity_mask]
    levels = np.zeros(image.shape, dtype=np.int64)
    method = settings.discretisation
    intensities: FloatArray
    if method is Discretisation.NONE:
        if np.any(values < 1) or np.any(values != np.round(values)):
            raise ValidationError(
                "discretisation 'none' needs integer intensities ≥ 1 in the ROI (grey levels); "
                f"found values from {values.min():g} to {values.max():g}. Use a fixed bin width "
                "or number instead."
            )
        binned = values.astype(np.int64)
        n_levels = int(binned.max())
        intensities = np.arange(1, n_levels + 1, dtype=np.float64)
        step = 1.0
    elif method is Discretisation.FIXED_BIN_WIDTH:
        width = settings.bin_width
        low = (
            settings.resegment_range[0]
            if settings.resegment_range is not None
            else float(values.min())
        )
        binned = fixed_bin_width(values, width, low)
        n_levels = int(binned.max())
        intensities = low + (np.arange(1, n_levels + 1, dtype=np.float64) - 0.5) * width
        step = width
    else:
        binned = fixed_bin_number(values, settings.bin_number)
        n_levels = settings.bin_number
        intensities = np.arange(1, n_levels + 1, dtype=np.float64)
        step = 1.0
    levels[intensity_mask] = binned
    return GreyLevels(levels, n_levels, intensities, step)


def bin_edges(lower_bound: float, bin_width: float, n_bins: int) -> FloatArray:
    """Edges of the fixed-width bins: bin ``k`` (1-based) is ``[edge[k-1], edge[k])``."""
    return lower_bound + bin_width * np.arange(n_bins + 1, dtype=np.float64)

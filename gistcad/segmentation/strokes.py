"""Per-slice corrections of an outline: paint a 2-D stroke into a slice, or erase it.

Pure functions, arrays in and a new array out; the axial slice is the last axis ``k`` of a
canonical (i, j, k) mask (see :mod:`gistcad.imaging.volume`).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from gistcad.errors import ValidationError


def _checked(
    mask: npt.NDArray[np.generic], slice_index: int, stroke: npt.NDArray[np.generic]
) -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.bool_]]:
    volume = np.asarray(mask)
    if volume.ndim != 3:
        raise ValidationError(f"a mask must be 3-D (i, j, k), got shape {volume.shape}")
    painted = np.asarray(stroke)
    if painted.shape != volume.shape[:2]:
        raise ValidationError(
            f"the stroke has shape {painted.shape} but a slice of the mask is "
            f"{volume.shape[:2]}: paint on the slice's own grid"
        )
    if not 0 <= slice_index < volume.shape[2]:
        raise ValidationError(
            f"slice {slice_index} is outside the scan (slices 0 to {volume.shape[2] - 1})"
        )
    return volume.astype(bool, copy=True), painted.astype(bool)


def add_stroke(
    mask: npt.NDArray[np.generic], slice_index: int, stroke: npt.NDArray[np.generic]
) -> npt.NDArray[np.bool_]:
    """The mask with ``stroke`` (a 2-D (i, j) boolean array) added to slice ``slice_index``.

    >>> add_stroke(np.zeros((2, 2, 2)), 1, np.eye(2)).sum()
    np.int64(2)
    """
    out, painted = _checked(mask, slice_index, stroke)
    out[:, :, slice_index] |= painted
    return out


def erase_stroke(
    mask: npt.NDArray[np.generic], slice_index: int, stroke: npt.NDArray[np.generic]
) -> npt.NDArray[np.bool_]:
    """The mask with the voxels of ``stroke`` removed from slice ``slice_index``.

    >>> erase_stroke(np.ones((2, 2, 2)), 0, np.eye(2)).sum()
    np.int64(6)
    """
    out, painted = _checked(mask, slice_index, stroke)
    out[:, :, slice_index] &= ~painted
    return out

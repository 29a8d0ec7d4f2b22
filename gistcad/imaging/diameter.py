"""The longest axial diameter of a lesion mask (RECIST 1.1's measure), from voxels.

Pure array functions: the mask's voxel centres on each axial slice, their convex hull, and
the longest distance between two hull vertices (mm). Voxel centres, not voxel edges: a
one-voxel lesion measures 0 mm.
"""

from __future__ import annotations

import contextlib

import numpy as np
import numpy.typing as npt
from scipy.spatial import ConvexHull, QhullError

from gistcad.imaging.volume import Volume


def longest_diameter_per_slice_mm(
    mask: npt.NDArray[np.generic], pixel_spacing_mm: tuple[float, float]
) -> float:
    """Largest over slices of the in-plane diameter of ``mask`` (slices, rows, cols), mm.

    ``pixel_spacing_mm`` is (row spacing, column spacing); 0 for an empty mask.

    >>> m = np.zeros((1, 3, 5), bool); m[0, 1, :] = True
    >>> longest_diameter_per_slice_mm(m, (1.0, 0.5))
    2.0
    """
    best = 0.0
    row_mm, col_mm = pixel_spacing_mm
    flat = np.asarray(mask).reshape(mask.shape[0], -1).astype(bool)
    for k in np.flatnonzero(flat.any(axis=1)):
        rows, cols = np.nonzero(np.asarray(mask[k]))
        points = np.column_stack([rows * row_mm, cols * col_mm]).astype(float)
        if len(points) > 3:
            with contextlib.suppress(QhullError):  # collinear: every point is on the hull
                points = points[ConvexHull(points).vertices]
        diffs = points[:, None, :] - points[None, :, :]
        best = max(best, float(np.sqrt((diffs**2).sum(axis=-1)).max()))
    return best


def longest_axial_diameter_mm(mask: Volume) -> float:
    """:func:`longest_diameter_per_slice_mm` of a mask volume, slicing along the voxel axis
    closest to the patient's cranio-caudal axis (mm)."""
    affine = np.asarray(mask.affine, dtype=float)
    slice_axis = int(np.argmax(np.abs(affine[2, :3]) / np.linalg.norm(affine[:3, :3], axis=0)))
    in_plane = [a for a in range(3) if a != slice_axis]
    array = np.moveaxis(np.asarray(mask.array) > 0, slice_axis, 0)
    spacing = np.linalg.norm(affine[:3, :3], axis=0)
    pixel = (float(spacing[in_plane[0]]), float(spacing[in_plane[1]]))
    return longest_diameter_per_slice_mm(array, pixel)

"""The numbers of RECIST 1.1 and Choi, measured on a CT volume and a lesion mask.

One function measures a lesion, :func:`measure_lesion` (arrays and spacing in, a
:class:`LesionMeasures` out, no I/O); the viewer, the case report and the follow-up
assessment all call it. :func:`measure_volume` does the same on two :class:`Volume` s,
whatever their array order. The longest axial diameter alone, of a mask without its CT, is
:func:`longest_axial_diameter_mm` (arrays) and :func:`mask_diameter_mm` (a :class:`Volume`):
the same computation, which the importer (is a lesion measurable?) and the generator's truth
call, so that the truth, the import and the assessment measure alike.

Definitions
-----------
longest axial diameter
    The largest distance between the centres of two lesion voxels in one axial slice, over all
    slices [RECIST]_ (the voxel-centre convention: a lesion one voxel wide measures 0 mm).
short axis
    In that slice, the longest chord of the lesion perpendicular to the longest diameter
    [RECIST]_, between voxel centres: the widest extent, across the long axis, of the voxels
    within a band one voxel diagonal wide perpendicular to it (the band slides along the axis).
volume
    Voxel count times the voxel volume, in ml.
mean HU
    The mean attenuation of every lesion voxel (the density of Choi [Choi]_).
solid mean HU
    The mean attenuation of the lesion's voxels above :data:`NECROSIS_HU` (30 HU): necrotic and
    cystic tissue is fluid-like, about 0–30 HU and non-enhancing, whereas enhancing solid GIST
    is about 40–80 HU in the portal-venous phase (``gist_facts.md``, section 8). ``None`` when
    no voxel is above it.

References
----------
.. [RECIST] Eisenhauer EA et al. New response evaluation criteria in solid tumours: revised
   RECIST guideline (version 1.1). Eur J Cancer 2009;45:228-247.
.. [Choi] Choi H et al. J Clin Oncol 2007;25:1753-1759 (tumour attenuation in HU).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import nibabel.orientations as nio
import numpy as np
from numpy.typing import NDArray
from scipy.ndimage import maximum_filter1d, minimum_filter1d
from scipy.spatial import ConvexHull, QhullError

from gistcad.errors import ValidationError
from gistcad.imaging.volume import Volume, require_same_grid

#: Attenuation (HU) at or below which a lesion voxel counts as necrotic or cystic.
NECROSIS_HU = 30.0
_BAND_STEPS = 8


@dataclass(frozen=True)
class LesionMeasures:
    """What RECIST and Choi read off one lesion.

    Attributes
    ----------
    longest_axial_diameter_mm
        Longest diameter within one axial slice, mm.
    short_axis_mm
        Longest chord perpendicular to it in the same slice, mm.
    slice_index
        The axial slice (index along the cranio-caudal array axis) where both lie.
    volume_ml
        Lesion volume, ml.
    mean_hu
        Mean attenuation of the lesion, HU.
    solid_mean_hu
        Mean attenuation of its solid part (voxels above :data:`NECROSIS_HU`), HU; ``None``
        when the lesion has no solid voxel.
    """

    longest_axial_diameter_mm: float
    short_axis_mm: float
    slice_index: int
    volume_ml: float
    mean_hu: float
    solid_mean_hu: float | None


def _long_axis(points_mm: NDArray[np.float64]) -> tuple[float, NDArray[np.float64]]:
    """Length of the longest chord of ``points_mm`` (n, 2) and its unit direction."""
    if len(points_mm) < 2:
        return 0.0, np.array([1.0, 0.0])
    try:
        hull = points_mm[ConvexHull(points_mm).vertices] if len(points_mm) > 3 else points_mm
    except QhullError:  # collinear voxels
        hull = points_mm
    diff = hull[:, None, :] - hull[None, :, :]
    squared = (diff**2).sum(axis=2)
    a, b = np.unravel_index(int(np.argmax(squared)), squared.shape)
    length = float(np.sqrt(squared[a, b]))
    if length == 0:
        return 0.0, np.array([1.0, 0.0])
    return length, diff[b, a] / length


def _short_axis(
    points_mm: NDArray[np.float64], direction: NDArray[np.float64], band: float
) -> float:
    """Longest extent across ``direction`` of the points within a band ``band`` mm wide.

    The band slides along ``direction`` in steps of an eighth of its width, so that a column
    of voxels slightly oblique to it still falls in one band.
    """
    along = points_mm @ direction
    across = points_mm @ np.array([-direction[1], direction[0]])
    step = band / _BAND_STEPS
    bins = np.floor((along - along.min()) / step).astype(int)
    high = np.full(bins.max() + 1, -np.inf)
    low = np.full(bins.max() + 1, np.inf)
    np.maximum.at(high, bins, across)
    np.minimum.at(low, bins, across)
    high = maximum_filter1d(high, _BAND_STEPS, mode="constant", cval=-np.inf)
    low = minimum_filter1d(low, _BAND_STEPS, mode="constant", cval=np.inf)
    filled = np.isfinite(high)
    return float((high[filled] - low[filled]).max())


def _slice_diameters(
    inside: NDArray[np.bool_], sx: float, sy: float
) -> Iterator[tuple[int, float, NDArray[np.float64], NDArray[np.float64]]]:
    """Per axial slice with lesion voxels: its index, longest chord, direction and points."""
    for k in np.flatnonzero(inside.any(axis=(0, 1))):
        xs, ys = np.nonzero(inside[:, :, k])
        points = np.column_stack([xs * sx, ys * sy]).astype(float)
        length, direction = _long_axis(points)
        yield int(k), length, direction, points


def longest_axial_diameter_mm(
    mask: NDArray[np.generic], pixel_spacing_mm: tuple[float, float]
) -> float:
    """Longest axial diameter of ``mask > 0`` (shape (I, J, K), axis 2 cranio-caudal), mm.

    The largest distance between two voxel centres of one axial slice, over all slices
    (see the module docstring); 0 for an empty mask or a one-voxel lesion.
    ``pixel_spacing_mm`` is the voxel size along axes 0 and 1.

    >>> m = np.zeros((3, 5, 1), bool); m[1, :, 0] = True
    >>> longest_axial_diameter_mm(m, (1.0, 0.5))
    2.0
    """
    inside = np.asarray(mask) > 0
    sx, sy = (float(s) for s in pixel_spacing_mm)
    return max((length for _, length, _, _ in _slice_diameters(inside, sx, sy)), default=0.0)


def measure_lesion(
    hu: NDArray[np.generic], mask: NDArray[np.generic], spacing_mm: tuple[float, float, float]
) -> LesionMeasures:
    """Measure the lesion ``mask > 0`` on the CT ``hu`` (see the module docstring).

    Parameters
    ----------
    hu
        CT attenuation, shape (I, J, K), HU; axis 2 is the cranio-caudal (axial slice) axis.
    mask
        The lesion, same shape; voxels > 0 belong to it.
    spacing_mm
        Voxel size along the three axes, mm.

    Raises
    ------
    ValidationError
        When the shapes differ or the mask is empty.
    """
    image, inside = np.asarray(hu), np.asarray(mask) > 0
    if image.shape != inside.shape:
        raise ValidationError(
            f"the CT {image.shape} and the lesion mask {inside.shape} differ in shape"
        )
    if not inside.any():
        raise ValidationError("the tumour mask is empty: nothing to measure")
    sx, sy, sz = (float(s) for s in spacing_mm)
    best, best_k, best_axis = -1.0, 0, 0.0
    for k, length, direction, points in _slice_diameters(inside, sx, sy):
        if length > best:
            best, best_k = length, k
            best_axis = _short_axis(points, direction, float(np.hypot(sx, sy)))
    values = image[inside].astype(np.float64)
    solid = values[values > NECROSIS_HU]
    return LesionMeasures(
        longest_axial_diameter_mm=best,
        short_axis_mm=best_axis,
        slice_index=best_k,
        volume_ml=float(inside.sum()) * sx * sy * sz / 1000.0,
        mean_hu=float(values.mean()),
        solid_mean_hu=float(solid.mean()) if solid.size else None,
    )


def axial_last(volume: Volume) -> tuple[NDArray[np.generic], tuple[float, float, float]]:
    """``volume``'s array with its cranio-caudal axis last (a view, not a copy), and its spacing.

    The axis whose direction is closest to the patient's superior-inferior axis moves to
    position 2; the other two keep their order.
    """
    world = nio.io_orientation(volume.affine)[:, 0].astype(int)  # world axis of each array axis
    axial = int(np.flatnonzero(world == 2)[0])
    order = [a for a in range(3) if a != axial] + [axial]
    spacing = np.asarray(volume.spacing_mm, dtype=float)[order]
    return np.transpose(np.asarray(volume.array), order), (
        float(spacing[0]),
        float(spacing[1]),
        float(spacing[2]),
    )


def measure_volume(image: Volume, mask: Volume, *, source: str = "") -> LesionMeasures:
    """:func:`measure_lesion` on a CT and its mask on the same grid, in any array order.

    Raises
    ------
    GeometryMismatchError
        When the mask is not on the CT's grid (``source`` names them in the message).
    ValidationError
        When the mask is empty.
    """
    require_same_grid(image, mask, source=source)
    hu, spacing = axial_last(image)
    inside, _ = axial_last(mask)
    return measure_lesion(hu, inside, spacing)


def mask_diameter_mm(mask: Volume) -> float:
    """:func:`longest_axial_diameter_mm` of a mask volume, in any array order (mm)."""
    inside, spacing = axial_last(mask)
    return longest_axial_diameter_mm(inside, (spacing[0], spacing[1]))

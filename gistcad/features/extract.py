"""The public entry: IBSI-compliant radiomics features of one ROI as a flat ``dict``.

Why our own code: pyradiomics does not install on Python 3.11 and mirp pins a pandas
version that conflicts with lifelines'; the features are therefore written here on
numpy/scipy and validated against every applicable IBSI 1 digital-phantom reference value
(``tests/features/test_ibsi_phantom.py``). Reference for all formulas: Zwanenburg A, Leger
S, Vallières M, Löck S, et al., Image biomarker standardisation initiative, reference
manual, arXiv:1612.07003 (IBSI).

Feature names are the IBSI reference-table (mirp) names: ``<family>_<feature>[_<settings>]``,
e.g. ``morph_volume``, ``stat_kurt``, ``cm_contrast_d1_3d_avg``, ``rlm_sre_3d_v_mrg``,
``szm_lze_3d``. Families and their modules (where each feature's IBSI code and formula are
tabulated):

=======  =============================================  ==========================================
prefix   family                                          module
=======  =============================================  ==========================================
morph    morphology (25)                                 :mod:`gistcad.features.shape`
loc      local intensity (2)                             :mod:`gistcad.features.local_intensity`
stat     intensity statistics (18)                       :mod:`gistcad.features.first_order`
ih       intensity histogram (23)                        :mod:`gistcad.features.first_order`
ivh      intensity-volume histogram (6)                  :mod:`gistcad.features.first_order`
cm       GLCM, d = 1, ``3d_avg`` and ``3d_v_mrg`` (50)   :mod:`gistcad.features.glcm`
rlm      GLRLM, ``3d_avg`` and ``3d_v_mrg`` (32)         :mod:`gistcad.features.glrlm`
szm      GLSZM, 3-D, 26-connected (16)                   :mod:`gistcad.features.glszm`
dzm      GLDZM, 3-D (16)                                 :mod:`gistcad.features.gldzm`
ngt      NGTDM, 3-D (5)                                  :mod:`gistcad.features.neighbourhood`
ngl      NGLDM, 3-D, d = 1, α = 0 (17)                   :mod:`gistcad.features.neighbourhood`
=======  =============================================  ==========================================

2-D and 2.5-D aggregations are not computed. A value is NaN where the feature is undefined
for the ROI (e.g. GLCM correlation of a single grey level).

Pipeline (IBSI chapter 2): resampling is the caller's job; the morphological mask is the
given mask; the intensity mask is it re-segmented to ``settings.resegment_range``; morphology
uses the former (Moran's I, Geary's C and the intensity-weighted centre the latter); every
intensity and texture family uses the latter, discretised per ``settings``. Arrays are cropped
to the ROI's bounding box (plus the local-intensity sphere) first, so the result does not
depend on where the ROI sits in the image nor on the voxels away from it.
"""

from __future__ import annotations

import math
from functools import cache, partial

import numpy as np
import numpy.typing as npt

from gistcad.errors import ValidationError
from gistcad.features.directions import PaddedLevels
from gistcad.features.discretise import discretise, resegment
from gistcad.features.first_order import (
    intensity_histogram,
    intensity_statistics,
    intensity_volume_histogram,
)
from gistcad.features.glcm import glcm_3d
from gistcad.features.gldzm import gldzm_3d
from gistcad.features.glrlm import glrlm_3d
from gistcad.features.glszm import find_zones, glszm_3d
from gistcad.features.local_intensity import SPHERE_RADIUS_MM, local_intensity
from gistcad.features.neighbourhood import neighbourhood_features
from gistcad.features.settings import Family, FeatureSettings
from gistcad.features.shape import morphology
from gistcad.imaging.volume import Volume, require_same_grid

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]
Spacing = tuple[float, float, float]


def _validate(
    image: npt.ArrayLike, mask: npt.ArrayLike, spacing_mm: object
) -> tuple[FloatArray, BoolArray, Spacing]:
    img, msk = np.asarray(image), np.asarray(mask)
    if img.ndim != 3 or msk.ndim != 3:
        raise ValidationError(
            f"image and mask must be 3-D arrays (i, j, k); got shapes {img.shape} and {msk.shape}"
        )
    if img.shape != msk.shape:
        raise ValidationError(
            f"image shape {img.shape} and mask shape {msk.shape} differ: the mask must be on the "
            "image's voxel grid (resample it to the image first)"
        )
    if img.dtype.kind not in "biuf":
        raise ValidationError(f"the image must hold numbers, got dtype {img.dtype}")
    if msk.dtype != np.bool_ and not np.isin(msk, (0, 1)).all():
        found = np.unique(msk)[:5].tolist()
        raise ValidationError(
            f"the mask must be binary (bool or 0/1), found values {found}…; select one label "
            "first (mask == label)"
        )
    spacing = tuple(float(s) for s in np.asarray(spacing_mm, dtype=np.float64).ravel())
    if len(spacing) != 3 or not all(math.isfinite(s) and s > 0 for s in spacing):
        raise ValidationError(f"spacing_mm must be 3 positive finite numbers, got {spacing_mm!r}")
    roi = msk.astype(bool)
    if not roi.any():
        raise ValidationError("the mask is empty (no voxel equals 1): there is no ROI to measure")
    values = img.astype(np.float64)
    bad = ~np.isfinite(values)
    if bad.any():
        where = tuple(int(v) for v in np.argwhere(bad)[0])
        raise ValidationError(
            f"the image holds {int(bad.sum())} non-finite values (NaN or inf), the first at voxel "
            f"(i, j, k) = {where}; replace them (e.g. with the air value) before extraction"
        )
    return values, roi, (spacing[0], spacing[1], spacing[2])


def _crop(image: FloatArray, mask: BoolArray, spacing: Spacing) -> tuple[FloatArray, BoolArray]:
    """Crop to the ROI's bounding box plus the local-intensity sphere's reach."""
    boxes = []
    for axis, index in enumerate(np.nonzero(mask)):
        margin = math.ceil(SPHERE_RADIUS_MM / spacing[axis]) + 1
        low = max(int(index.min()) - margin, 0)
        high = min(int(index.max()) + margin + 1, mask.shape[axis])
        boxes.append(slice(low, high))
    box = tuple(boxes)
    return image[box], mask[box]


class EmptyIntensityMaskError(ValidationError):
    """No voxel of the ROI lies in the re-segmentation range: the intensity mask is empty and
    no feature is defined (IBSI section 2.5)."""


def extract_features(
    image: npt.ArrayLike,
    mask: npt.ArrayLike,
    spacing_mm: tuple[float, float, float],
    settings: FeatureSettings,
) -> dict[str, float]:
    """IBSI features of the ROI ``mask`` in ``image``.

    Parameters
    ----------
    image
        Intensities (HU for CT), shape (I, J, K), all finite; already resampled.
    mask
        The ROI, same shape, bool or 0/1, not empty.
    spacing_mm
        Voxel spacing along (i, j, k) in mm; the axes are assumed orthogonal.
    settings
        Discretisation, re-segmentation range and families (:class:`FeatureSettings`).

    Returns
    -------
    dict[str, float]
        Feature name → value, grouped by family in the order of :class:`Family`; names and
        units are documented in this module and the family modules.

    Raises
    ------
    ValidationError
        Shape mismatch, non-binary or empty mask, non-finite intensities, bad spacing, or
        non-integer intensities with no discretisation.
    EmptyIntensityMaskError
        No voxel left after re-segmentation (a :class:`ValidationError`).
    """
    values, roi, spacing = _validate(image, mask, spacing_mm)
    values, roi = _crop(values, roi, spacing)
    intensity_mask = resegment(values, roi, settings.resegment_range)
    if not intensity_mask.any():
        raise EmptyIntensityMaskError(
            f"no ROI voxel lies in the re-segmentation range {settings.resegment_range}: "
            "widen the range or check the image units"
        )
    levels = discretise(values, intensity_mask, settings)
    padded = PaddedLevels.from_levels(levels.levels)
    zones = cache(partial(find_zones, levels.levels))  # shared by GLSZM and GLDZM
    families = {
        Family.MORPHOLOGY: lambda: morphology(values, roi, intensity_mask, spacing),
        Family.LOCAL_INTENSITY: lambda: local_intensity(values, intensity_mask, spacing),
        Family.STATISTICS: lambda: intensity_statistics(values[intensity_mask]),
        Family.INTENSITY_HISTOGRAM: lambda: intensity_histogram(levels),
        Family.INTENSITY_VOLUME_HISTOGRAM: lambda: intensity_volume_histogram(levels),
        Family.GLCM: lambda: glcm_3d(padded, levels.n_levels),
        Family.GLRLM: lambda: glrlm_3d(padded, levels.n_levels),
        Family.GLSZM: lambda: glszm_3d(zones(), levels.n_levels),
        Family.GLDZM: lambda: gldzm_3d(zones(), roi, levels.n_levels),
    }
    features: dict[str, float] = {}
    for family, compute in families.items():
        if family in settings.families:
            features.update(compute())
    if {Family.NGTDM, Family.NGLDM} & settings.families:
        neighbourhood = neighbourhood_features(padded, levels.n_levels)
        for family in (Family.NGTDM, Family.NGLDM):
            if family in settings.families:
                prefix = f"{family.value}_"
                features.update({k: v for k, v in neighbourhood.items() if k.startswith(prefix)})
    return features


def extract_from_volume(image: Volume, mask: Volume, settings: FeatureSettings) -> dict[str, float]:
    """:func:`extract_features` on two :class:`Volume` s that share a voxel grid.

    Raises
    ------
    GeometryMismatchError
        The mask is not on the image's grid (a :class:`ValidationError`).
    """
    require_same_grid(image, mask)
    spacing = tuple(float(s) for s in image.spacing_mm)
    return extract_features(image.array, mask.array, (spacing[0], spacing[1], spacing[2]), settings)

"""The covariates the deep model sees beside its crop: the tumour's size and its site.

A crop cut with :attr:`~gistcad.neural.crop.SpacingPolicy.FIT` is rescaled so that every tumour
fills the grid, so the network cannot tell a 2 cm tumour from a 20 cm one; and a tight crop
shows too little of the neighbourhood to tell the stomach from the jejunum. Both matter for
the genotype: the site sets the prior (PDGFRA is gastric, KIT exon 9 intestinal), and what a
tumour's texture, necrosis and contour say depends on its size (large tumours are necrotic and
lobulated whatever their genotype). :class:`~gistcad.neural.network.CovariateFusion` adds a
linear term of this vector to the network's outputs:

- ``log_size``: ln(largest extent of the mask's bounding box / 50 mm), from
  :attr:`Crop.tumour_extent_mm <gistcad.neural.crop.Crop.tumour_extent_mm>` — measured on the
  CT, so every crop has it;
- one indicator per :class:`~gistcad.domain.Site` (all zero when the site is unknown).

Both are read off the CT, as the synthetic cohort's ceiling assumes (it conditions on site,
size and the tumour's appearance).

:func:`clinical_covariates` adds what the clinical baseline knows besides: age and sex
(``age_z`` = (age − 60) / 15, 0 when unknown; ``female`` 1 or 0, 0.5 when unknown). With them,
the deep model sees everything the clinical baseline sees plus the CT, so the two can be
compared on what the image adds. Models trained before they existed leave them out
(:class:`gistcad.modelling.dl_model.DlSettings`).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from gistcad.domain import Sex, Site
from gistcad.errors import ValidationError

#: Names of the covariate vector's entries, in order.
COVARIATE_NAMES: tuple[str, ...] = ("log_size", *(f"site_{site.value}" for site in Site))
#: Names of the clinical covariates appended by :func:`clinical_covariates`.
CLINICAL_COVARIATE_NAMES: tuple[str, ...] = ("age_z", "female")
#: Reference size of ``log_size`` (0 at a 50 mm tumour).
REFERENCE_SIZE_MM = 50.0
#: Centre and scale of ``age_z`` (years).
AGE_CENTRE, AGE_SCALE = 60.0, 15.0


def covariate_matrix(extents_mm: npt.ArrayLike, sites: Sequence[object]) -> npt.NDArray[np.float32]:
    """Covariates of N tumours, shape (N, len(COVARIATE_NAMES)), float32.

    Parameters
    ----------
    extents_mm
        Bounding-box extent of each tumour's mask along R, A, S in mm, shape (N, 3)
        (:attr:`~gistcad.neural.crop.Crop.tumour_extent_mm`).
    sites
        Primary site of each tumour: a :class:`~gistcad.domain.Site` value, or None / NaN when
        unknown.

    >>> covariate_matrix([[50.0, 20.0, 30.0]], ["stomach"])[0, :3].tolist()
    [0.0, 1.0, 0.0]
    """
    extents = np.asarray(extents_mm, dtype=np.float64).reshape(-1, 3)
    if len(extents) != len(sites):
        raise ValidationError(
            f"got {len(extents)} tumour extents but {len(sites)} sites; pass one of each per crop"
        )
    largest = extents.max(axis=1)
    if not np.all(np.isfinite(largest) & (largest > 0)):
        raise ValidationError(
            "every tumour extent must be finite and > 0 mm; cut the crops with "
            "gistcad.neural.crop.tumour_crop, which measures them"
        )
    out = np.zeros((len(extents), len(COVARIATE_NAMES)), dtype=np.float32)
    out[:, 0] = np.log(largest / REFERENCE_SIZE_MM)
    codes = [site.value for site in Site]
    for row, site in enumerate(sites):
        if isinstance(site, str) and site in codes:
            out[row, 1 + codes.index(site)] = 1.0
    return out


def clinical_covariates(ages: Sequence[object], sexes: Sequence[object]) -> npt.NDArray[np.float32]:
    """Age and sex of N patients, shape (N, 2), float32 (:data:`CLINICAL_COVARIATE_NAMES`).

    >>> clinical_covariates([75, None], ["female", None]).tolist()
    [[1.0, 1.0], [0.0, 0.5]]
    """
    if len(ages) != len(sexes):
        raise ValidationError(f"got {len(ages)} ages but {len(sexes)} sexes; pass one of each")
    out = np.zeros((len(ages), len(CLINICAL_COVARIATE_NAMES)), dtype=np.float32)
    for row, (age, sex) in enumerate(zip(ages, sexes, strict=True)):
        try:
            years = float(age)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            years = float("nan")
        out[row, 0] = (years - AGE_CENTRE) / AGE_SCALE if np.isfinite(years) else 0.0
        out[row, 1] = {Sex.FEMALE.value: 1.0, Sex.MALE.value: 0.0}.get(str(sex).lower(), 0.5)
    return out

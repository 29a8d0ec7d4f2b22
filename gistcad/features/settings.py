"""How features are computed: discretisation, re-segmentation and which families to run.

Resampling to isotropic voxels is the caller's job (IBSI step "interpolation"); the
settings here cover the later steps of the IBSI image processing chain (Zwanenburg et al.,
IBSI reference manual, arXiv:1612.07003, ch. 2): re-segmentation of the intensity mask
and grey-level discretisation.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from enum import StrEnum

from gistcad.errors import ValidationError


class Discretisation(StrEnum):
    """Grey-level discretisation method (IBSI section 2.7)."""

    #: The intensities already are grey levels: integers 1, 2, … (the IBSI digital phantom).
    NONE = "none"
    #: Fixed bin size (IBSI FBS): bins of ``bin_width`` intensity units from the lower bound.
    FIXED_BIN_WIDTH = "fixed_bin_width"
    #: Fixed bin number (IBSI FBN): ``bin_number`` bins between the ROI minimum and maximum.
    FIXED_BIN_NUMBER = "fixed_bin_number"


class Family(StrEnum):
    """Feature families (IBSI chapter 3); the value is the prefix of the feature names."""

    MORPHOLOGY = "morph"
    LOCAL_INTENSITY = "loc"
    STATISTICS = "stat"
    INTENSITY_HISTOGRAM = "ih"
    INTENSITY_VOLUME_HISTOGRAM = "ivh"
    GLCM = "cm"
    GLRLM = "rlm"
    GLSZM = "szm"
    GLDZM = "dzm"
    NGTDM = "ngt"
    NGLDM = "ngl"


@dataclass(frozen=True)
class FeatureSettings:
    """Settings of one feature extraction.

    Parameters
    ----------
    discretisation
        Grey-level discretisation (:class:`Discretisation`, or its string value).
    bin_width
        Bin width in intensity units (HU for CT) for ``fixed_bin_width``; IBSI uses 25 HU.
    bin_number
        Number of bins for ``fixed_bin_number``.
    resegment_range
        ``(low, high)``, inclusive, in intensity units (e.g. ``(-100, 400)`` HU): voxels of the
        ROI outside it are removed from the *intensity* mask; the *morphological* mask keeps
        them (IBSI section 2.5). With ``fixed_bin_width`` the lower bound is the first bin's
        edge; without a range it is the ROI minimum.
    families
        Which feature families to compute (default: all).
    """

    discretisation: Discretisation = Discretisation.FIXED_BIN_WIDTH
    bin_width: float = 25.0
    bin_number: int = 32
    resegment_range: tuple[float, float] | None = None
    families: frozenset[Family] = field(default_factory=lambda: frozenset(Family))

    def __post_init__(self) -> None:
        try:
            object.__setattr__(self, "discretisation", Discretisation(self.discretisation))
            families = frozenset(Family(f) for f in self.families)
        except ValueError as error:
            raise ValidationError(f"unknown feature setting: {error}") from None
        object.__setattr__(self, "families", families)
        if not (math.isfinite(self.bin_width) and self.bin_width > 0):
            raise ValidationError(f"bin_width must be a positive number, got {self.bin_width}")
        if int(self.bin_number) != self.bin_number or self.bin_number < 1:
            raise ValidationError(f"bin_number must be an integer ≥ 1, got {self.bin_number}")
        if self.resegment_range is not None:
            low, high = (float(v) for v in self.resegment_range)
            if not (math.isfinite(low) and math.isfinite(high) and low < high):
                raise ValidationError(
                    f"resegment_range must be (low, high) with finite low < high, "
                    f"got {self.resegment_range}"
                )
            object.__setattr__(self, "resegment_range", (low, high))

    @classmethod
    def ct(
        cls, bin_width_hu: float = 25.0, resegment_range_hu: tuple[float, float] | None = None
    ) -> FeatureSettings:
        """CT defaults: fixed bin width (25 HU unless given), optional re-segmentation range."""
        return cls(Discretisation.FIXED_BIN_WIDTH, bin_width_hu, 32, resegment_range_hu)

    @classmethod
    def ibsi_phantom(cls) -> FeatureSettings:
        """The IBSI 1 digital phantom configuration: no discretisation, no re-segmentation."""
        return cls(discretisation=Discretisation.NONE)

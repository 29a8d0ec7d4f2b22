"""ComBat for the deep model: each crop's tumour brought to the level of the training rows'
scanners, fitted on the training rows only.

The radiomics model harmonises its features per center (:mod:`.harmonisation`); a network reads
voxels, so the deep model harmonises what its crops carry of the genotype: the level of the
tumour's CT. A scanner changes it physically: iodine attenuates more at a lower tube voltage,
so a tumour's enhancement reads higher at 100 kVp than at 120 (the synthetic centers scale it
by 1.12–1.15 at 100 kVp and 0.9 at 140: 6–9 HU, about the difference between KIT exon 11 and
the other genotypes).

:class:`CropHarmoniser`, fitted on the training rows of a fold (those the network holds out for
early stopping included: they are the fold's training data too), never on the rows it
predicts:

1. the **level** of each crop (:func:`tumour_levels`): the median of the windowed CT over the
   voxels at least half inside the tumour mask;
2. **ComBat** on that one feature, exactly as the radiomics model's: batches are the centers,
   the tumour's log size and its site are protected (their effect on the level is kept), and
   the scan's kVp is removed as a scanner effect when it varies within a center (else the
   centers' terms hold it), a missing kVp imputed by its center's training median;
3. each crop's tumour voxels are **shifted** by the change ComBat makes to its level, weighted by
   the mask channel (a voxel half inside the tumour moves half as far), clipped to the window.
   The surroundings (fat, air, other organs) are left as they are: the level says nothing of
   how they changed.

One feature has no other features to shrink its batch terms toward, so ComBat's empirical
Bayes step is not used, and only the location is harmonised (``mean_only``): a center's scale
term, estimated from the spread of a few tumours, would multiply a new patient's distance from
the center's mean (from two rows of nearly equal level, by a hundred). A center not seen in
training (a new hospital, or the held-out center under leave-one-center-out validation) and
one with fewer than :data:`MIN_CENTER` training rows are left as they are, but for the kVp term
when it is used.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from gistcad.modelling.harmonisation import (
    ComBat,
    center_kvp_medians,
    impute_kvp,
    varies_within_a_center,
)
from gistcad.modelling.targets import pd_numeric
from gistcad.neural.covariates import covariate_matrix

FloatArray = NDArray[np.float64]

#: a voxel counts in the tumour's level when at least this share of it is inside the mask
LEVEL_MASK = 0.5
#: the fewest training rows a center needs to be harmonised: its location term is the mean
#: of its tumours' levels, whose spread between patients (about 12 HU) it must not carry
MIN_CENTER = 10


def tumour_levels(crops: NDArray[np.floating]) -> FloatArray:
    """The level of each crop's tumour (N,): the median of channel 0 (the windowed CT) over
    the voxels whose mask channel is at least :data:`LEVEL_MASK` (those with the crop's
    largest mask value when none is).

    >>> crop = np.zeros((1, 2, 2, 2, 2), dtype=np.float32)
    >>> crop[0, 0, 0] = 0.6; crop[0, 1, 0] = 1.0
    >>> tumour_levels(crop).tolist()
    [0.6000000238418579]
    """
    levels = np.empty(len(crops), dtype=np.float64)
    for i, crop in enumerate(crops):
        mask = crop[1]
        inside = mask >= min(LEVEL_MASK, float(mask.max()))
        levels[i] = float(np.median(crop[0][inside]))
    return levels


def protected_covariates(extents_mm: NDArray[np.floating], sites: Sequence[object]) -> FloatArray:
    """The covariates whose effect on the level is kept: log size and the site indicators
    (the first site left out: the batches carry the intercept), as the radiomics model's."""
    matrix = covariate_matrix(extents_mm, sites).astype(np.float64)
    return np.hstack([matrix[:, :1], matrix[:, 2:]])


@dataclass
class CropHarmoniser:
    """ComBat of the tumour's level per center, fitted on training crops (module docstring)."""

    combat: ComBat = field(
        default_factory=lambda: ComBat(empirical_bayes=False, mean_only=True, min_batch=MIN_CENTER)
    )
    #: whether the scan's kVp is removed as a scanner effect (it varies within a center)
    kvp_used: bool = False
    kvp_medians: dict[str, float] = field(default_factory=dict)
    kvp_median: float = float("nan")
    #: the window's width in HU (a shift of 1 in window units is this many HU)
    window_hu: float = 400.0

    @classmethod
    def fit(
        cls,
        crops: NDArray[np.floating],
        centers: Sequence[object],
        protected: FloatArray,
        kvp: Sequence[object],
        window_hu: float,
    ) -> CropHarmoniser:
        """Fit on the training rows' ``crops`` (N, 2, S, S, S), their ``centers``, protected
        covariates (:func:`protected_covariates`) and scans' ``kvp`` (None or NaN unknown)."""
        batch = np.asarray(centers, dtype=object).astype(str)
        values = _floats(kvp)
        medians, pooled = center_kvp_medians(values, batch)
        harmoniser = cls(kvp_medians=medians, kvp_median=pooled, window_hu=window_hu)
        filled = impute_kvp(values, batch, medians, pooled)
        harmoniser.kvp_used = bool(np.isfinite(pooled)) and varies_within_a_center(filled, batch)
        levels = tumour_levels(crops)[:, None]
        adjust = filled[:, None] if harmoniser.kvp_used else None
        harmoniser.combat.fit(levels, batch, protected, adjust)
        return harmoniser

    def shifts(
        self,
        crops: NDArray[np.floating],
        centers: Sequence[object],
        protected: FloatArray,
        kvp: Sequence[object],
    ) -> FloatArray:
        """The change of each crop's tumour level, in window units (N,)."""
        batch = np.asarray(centers, dtype=object).astype(str)
        levels = tumour_levels(crops)[:, None]
        adjust = None
        if self.kvp_used:
            values = impute_kvp(_floats(kvp), batch, self.kvp_medians, self.kvp_median)
            adjust = values[:, None]
        harmonised = self.combat.transform(levels, batch, protected, adjust)
        return np.asarray(harmonised[:, 0] - levels[:, 0], dtype=np.float64)

    def apply(
        self,
        crops: NDArray[np.floating],
        centers: Sequence[object],
        protected: FloatArray,
        kvp: Sequence[object],
    ) -> NDArray[np.float32]:
        """A copy of ``crops`` with each tumour's voxels shifted (module docstring, step 3)."""
        shift = self.shifts(crops, centers, protected, kvp).astype(np.float32)
        out = np.array(crops, dtype=np.float32, copy=True)
        out[:, 0] = np.clip(out[:, 0] + shift[:, None, None, None] * out[:, 1], 0.0, 1.0)
        return out

    def center_shifts_hu(self) -> dict[str, float]:
        """Each harmonised center's location term in HU: how far ComBat moves the level of
        its average tumour scanned at the training rows' mean kVp (positive: brought up)."""
        combat = self.combat
        if combat.gamma_.shape[0] == 0:
            return {}
        terms = -combat.gamma_[:, 0] * combat.sigma_[0]
        return {
            str(b): float(t * self.window_hu) for b, t in zip(combat.batches_, terms, strict=True)
        }

    def describe(self) -> str:
        """One line for the training log: the model card's sentence (:func:`summary_text`)."""
        return f"harmonisation: {summary_text(self.summary())}"

    def summary(self) -> dict[str, Any]:
        """What a model card says of it (:func:`summary_text`): the centers' shifts in HU and
        whether kVp was removed (it is only beside two harmonised centers or more)."""
        shifts = self.center_shifts_hu()
        return {"center_shifts_hu": shifts, "kvp_used": self.kvp_used and bool(shifts)}

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (stored in the model's weights file)."""
        return {
            "combat": self.combat.to_dict(),
            "kvp_used": self.kvp_used,
            "kvp_medians": {k: v for k, v in self.kvp_medians.items() if np.isfinite(v)},
            "kvp_median": None if not np.isfinite(self.kvp_median) else self.kvp_median,
            "window_hu": self.window_hu,
        }

    @classmethod
    def from_dict(cls, stored: Mapping[str, Any]) -> CropHarmoniser:
        """The harmoniser of :meth:`to_dict`."""
        pooled = stored["kvp_median"]
        return cls(
            combat=ComBat.from_dict(stored["combat"]),
            kvp_used=bool(stored["kvp_used"]),
            kvp_medians={str(k): float(v) for k, v in stored["kvp_medians"].items()},
            kvp_median=float("nan") if pooled is None else float(pooled),
            window_hu=float(stored["window_hu"]),
        )


def summary_text(summary: Mapping[str, Any]) -> str:
    """A model card's sentence on the harmonisation of :meth:`CropHarmoniser.summary`."""
    shifts = summary.get("center_shifts_hu") or {}
    if not shifts:
        return (
            f"none: fewer than two centers had the {MIN_CENTER} training patients it needs, so "
            "the crops were used as read"
        )
    moved = ", ".join(f"{name} {value:+.1f} HU" for name, value in shifts.items())
    kvp = "; the scan's kVp removed as a scanner effect" if summary.get("kvp_used") else ""
    return (
        "the tumour's CT level moved per center by ComBat fitted on the training patients "
        f"(size and site kept; the average tumour of each center): {moved}{kvp}."
    )


def _floats(values: Sequence[object]) -> FloatArray:
    """``values`` as floats, NaN where missing or not a number."""
    return pd_numeric(pd.Series(list(values), dtype=object))

"""What a CT shows of the tumour's phenotype: cheap measurements and their calibrated error.

While the generator has a tumour's CT in memory, :func:`measure_tumour` measures what a
reader (or an image model) can see of the latent phenotype of :mod:`gistcad.synth.phenotype`:

- ``solid_hu``: the median HU of the solid part (interior voxels at or above
  :data:`NECROSIS_BELOW_HU`) — enhancement;
- ``necrosis_share``: the share of interior voxels below :data:`NECROSIS_BELOW_HU` — necrosis;
- ``texture_sd``: the robust SD (IQR / 1.349) of the solid part, HU — heterogeneity;
- ``solidity``: mask volume / convex-hull volume — lobulation.

"Interior" is the mask eroded by one pixel in-plane (the whole mask when that leaves fewer
than :data:`MIN_INTERIOR` voxels), away from partial volume with the neighbours.

:func:`observed_features` maps them (with the scanner's known kVp scale and noise) to four
roughly linear features ``F``. The calibration (:class:`ObservationCalibration`, built by
``python -m gistcad.synth.calibrate`` from renderings whose latent values are known and
shipped as ``gistcad/data/observation_calibration.json``) is a multivariate linear model per
tumour-size bin (by the mask's voxel count)::

    F = [1, η, ln size, noise SD, slice thickness] · coef + e,    e ~ N(0, Σ_bin),

with η the four latent linear predictors (enhancement HU; logits of heterogeneity, necrosis /
its ceiling, lobulation). Since η given genotype and mitotic band is Gaussian
(:func:`~gistcad.synth.phenotype.latent_scales`), F given them is Gaussian too, and
:func:`log_likelihood` gives log p(F | genotype, band) for the observable reference of
:mod:`gistcad.synth.oracle`. It is a calibrated approximation (linear, Gaussian errors), not
the exact law of the renderer.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy import ndimage
from scipy.spatial import ConvexHull, QhullError
from scipy.special import logit

from gistcad.errors import ValidationError
from gistcad.synth.centers import CenterProfile
from gistcad.synth.phantom import RenderedCT

logger = logging.getLogger(__name__)

#: HU below which an interior voxel counts as necrotic (necrotic core ≈ 0–40 HU, solid part
#: ≈ 40–80 HU in portal-venous phase; gist_facts.md §8 [D]).
NECROSIS_BELOW_HU = 30.0
#: fewest interior voxels for the eroded mask to be used
MIN_INTERIOR = 10
#: the IQR of a normal distribution in SDs: the texture SD is the solid part's IQR / this
IQR_PER_SD = 1.349
#: the measurements of :func:`measure_tumour`
MEASUREMENTS: tuple[str, ...] = ("solid_hu", "necrosis_share", "texture_sd", "solidity")
#: the features of :func:`observed_features`, in the calibration's order
FEATURES: tuple[str, ...] = ("enhancement", "heterogeneity", "necrosis", "lobulation")
#: the design columns of the calibration: intercept, the four latent η, then covariates
DESIGN: tuple[str, ...] = (
    "intercept",
    "eta_enhancement",
    "eta_heterogeneity",
    "eta_necrosis",
    "eta_lobulation",
    "log_size_cm",
    "noise_sd_hu",
    "slice_thickness_mm",
)
#: lower edges of the size bins, in log10 of the mask's voxel count
BIN_EDGES: tuple[float, ...] = (0.0, 2.5, 3.5, 4.5)
CALIBRATION_FILE = "observation_calibration.json"


def _convex_hull_volume(mask: np.ndarray, spacing: tuple[float, float, float]) -> float:
    """Volume (mm³) of the convex hull of the voxels of ``mask`` (z, y, x), each a box.

    Per slice, the 2-D hull of the corners of each row's first and last pixel (the hull of
    the slice's pixels); those vertices at the slab's two faces make the 3-D hull (a few
    hundred points whatever the tumour's size).
    """
    points = []
    corners = np.array([[-0.5, -0.5], [-0.5, 0.5], [0.5, -0.5], [0.5, 0.5]])
    width = mask.shape[2]
    for k in np.flatnonzero(mask.any(axis=(1, 2))):
        rows = np.flatnonzero(mask[k].any(axis=1))
        first = np.argmax(mask[k, rows], axis=1)
        last = width - 1 - np.argmax(mask[k, rows, ::-1], axis=1)
        pixels = np.column_stack(
            [np.concatenate([rows, rows]), np.concatenate([first, last])]
        ).astype(float)
        boxes = (pixels[:, None, :] + corners[None, :, :]).reshape(-1, 2)
        try:
            vertices = boxes[ConvexHull(boxes).vertices]
        except QhullError:
            vertices = boxes
        for face in (k - 0.5, k + 0.5):
            points.append(np.column_stack([np.full(len(vertices), face), vertices]))
    stacked = np.concatenate(points) * np.asarray(spacing)
    return float(ConvexHull(stacked).volume)


def measure_tumour(
    hu: np.ndarray, mask: np.ndarray, spacing_mm: tuple[float, float, float]
) -> dict[str, float]:
    """The :data:`MEASUREMENTS` of one tumour.

    Parameters
    ----------
    hu
        CT in HU, (slices, rows, cols).
    mask
        bool tumour mask on the same grid; at least one voxel.
    spacing_mm
        (slice thickness, row spacing, column spacing), mm.

    Returns
    -------
    dict of float
        ``solid_hu`` (HU), ``necrosis_share`` (0–1), ``texture_sd`` (HU), ``solidity`` (0–1],
        and ``voxels`` (the mask's voxel count).
    """
    if mask.shape != hu.shape or not mask.any():
        raise ValidationError(
            f"measure_tumour needs a non-empty mask of the CT's shape {hu.shape} "
            f"(got {mask.shape}, {int(mask.sum())} voxels)"
        )
    box = ndimage.find_objects(mask.astype(np.uint8))[0]
    crop, values = mask[box], hu[box].astype(np.float32)
    in_plane = np.zeros((3, 3, 3), dtype=bool)
    in_plane[1] = ndimage.generate_binary_structure(2, 1)
    interior = ndimage.binary_erosion(crop, structure=in_plane)
    inside = values[interior] if interior.sum() >= MIN_INTERIOR else values[crop]
    necrotic = inside < NECROSIS_BELOW_HU
    solid = inside[~necrotic] if (~necrotic).sum() >= 5 else inside
    q25, median, q75 = np.percentile(solid, [25, 50, 75])
    volume = float(crop.sum()) * float(np.prod(spacing_mm))
    hull = _convex_hull_volume(crop, spacing_mm)
    return {
        "solid_hu": float(median),
        "necrosis_share": float(necrotic.mean()),
        "texture_sd": float((q75 - q25) / IQR_PER_SD),
        "solidity": float(min(volume / hull, 1.0)) if hull > 0 else 1.0,
        "voxels": float(crop.sum()),
    }


#: the columns of a measurements frame: :func:`measure_patient`'s keys
MEASUREMENT_COLUMNS: tuple[str, ...] = (
    "patient_index",
    *MEASUREMENTS,
    "voxels",
    "hu_scale",
    "noise_sd_hu",
    "slice_thickness_mm",
)


def measure_patient(ct: RenderedCT, center: CenterProfile, patient_index: int) -> dict[str, float]:
    """:func:`measure_tumour` of a rendered CT's tumour, with what is known of its scanner
    (kVp scale, noise SD, slice thickness): a row of a measurements frame
    (:data:`MEASUREMENT_COLUMNS`). A tumour too small to cover half a voxel anywhere has an
    empty mask: the CT shows nothing of it (NaN measurements, 0 voxels)."""
    spacing = (ct.slice_thickness_mm, *ct.pixel_spacing_mm)
    measured = (
        measure_tumour(ct.hu, ct.tumour_mask, spacing)
        if ct.tumour_mask.any()
        else {**{m: float("nan") for m in MEASUREMENTS}, "voxels": 0.0}
    )
    return {
        "patient_index": float(patient_index),
        **measured,
        "hu_scale": float(center.hu_scale),
        "noise_sd_hu": float(center.noise_sd_hu),
        "slice_thickness_mm": float(ct.slice_thickness_mm),
    }


def features_and_covariates(
    measurements: pd.DataFrame, size_cm: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """(:func:`observed_features` (n, 4), covariates (n, 3): ln size, noise SD, slice
    thickness) of a measurements frame's rows, whose tumours are ``size_cm`` (n,) large."""
    features = observed_features(
        {m: measurements[m].to_numpy(dtype=float) for m in MEASUREMENTS},
        measurements["hu_scale"].to_numpy(dtype=float),
        measurements["noise_sd_hu"].to_numpy(dtype=float),
    )
    covariates = np.column_stack(
        [
            np.log(np.asarray(size_cm, dtype=float)),
            measurements["noise_sd_hu"].to_numpy(dtype=float),
            measurements["slice_thickness_mm"].to_numpy(dtype=float),
        ]
    )
    return features, covariates


def observed_features(
    measured: dict[str, np.ndarray], hu_scale: np.ndarray, noise_sd_hu: np.ndarray
) -> np.ndarray:
    """The four :data:`FEATURES` of measurements (arrays of shape (n,)), shape (n, 4).

    Enhancement is the solid HU over the scanner's kVp scale; heterogeneity the log of the
    texture SD less the scanner's noise; necrosis and lobulation logits of the necrotic share
    and of 1 − solidity (clipped to [0.01, 0.99]).
    """
    texture = np.sqrt(np.maximum(np.square(measured["texture_sd"]) - np.square(noise_sd_hu), 4.0))
    return np.column_stack(
        [
            np.asarray(measured["solid_hu"], dtype=float) / hu_scale,
            np.log(texture),
            logit(np.clip(measured["necrosis_share"], 0.01, 0.99)),
            logit(np.clip(1.0 - np.asarray(measured["solidity"], dtype=float), 0.01, 0.99)),
        ]
    )


def size_bin(voxels: np.ndarray) -> np.ndarray:
    """Index of the size bin (:data:`BIN_EDGES`) of each voxel count."""
    return np.searchsorted(BIN_EDGES, np.log10(np.maximum(voxels, 1.0)), side="right") - 1


@dataclass(frozen=True)
class ObservationCalibration:
    """Per size bin, ``coef`` (len(DESIGN), 4) and residual covariance ``cov`` (4, 4)."""

    coef: np.ndarray  # (bins, len(DESIGN), 4)
    cov: np.ndarray  # (bins, 4, 4)
    renderings: int

    def to_json(self) -> dict[str, Any]:
        return {
            "design": list(DESIGN),
            "features": list(FEATURES),
            "bin_edges_log10_voxels": list(BIN_EDGES),
            "renderings": self.renderings,
            "coef": np.round(self.coef, 6).tolist(),
            "cov": np.round(self.cov, 6).tolist(),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any], where: str = "calibration") -> ObservationCalibration:
        if data.get("design") != list(DESIGN) or data.get("features") != list(FEATURES):
            raise ValidationError(
                f"{where}: not an observation calibration of this version (design or "
                "features differ); rebuild it with python -m gistcad.synth.calibrate"
            )
        coef, cov = np.asarray(data["coef"], float), np.asarray(data["cov"], float)
        bins = len(BIN_EDGES)
        if coef.shape != (bins, len(DESIGN), 4) or cov.shape != (bins, 4, 4):
            raise ValidationError(f"{where}: coef or cov has the wrong shape; rebuild it")
        return cls(coef, cov, int(data.get("renderings", 0)))

    @classmethod
    def load(cls, path: Path | None = None) -> ObservationCalibration:
        """The shipped table (``gistcad/data``), or the file ``path``."""
        if path is None:
            text = resources.files("gistcad").joinpath("data", CALIBRATION_FILE).read_text()
            return cls.from_json(json.loads(text), CALIBRATION_FILE)
        return cls.from_json(json.loads(Path(path).read_text()), str(path))


def fit_calibration(
    eta: np.ndarray, covariates: np.ndarray, features: np.ndarray, voxels: np.ndarray
) -> ObservationCalibration:
    """Least squares of ``features`` (n, 4) on [1, ``eta`` (n, 4), ``covariates`` (n, 3)]
    per size bin, with the residual covariance (ddof = number of design columns)."""
    design = np.column_stack([np.ones(len(eta)), eta, covariates])
    bins = size_bin(voxels)
    coef = np.zeros((len(BIN_EDGES), len(DESIGN), 4))
    cov = np.zeros((len(BIN_EDGES), 4, 4))
    for b in range(len(BIN_EDGES)):
        rows = bins == b
        if rows.sum() < 3 * len(DESIGN):
            raise ValidationError(
                f"size bin {b} has {int(rows.sum())} renderings, fewer than {3 * len(DESIGN)} "
                "needed to calibrate; render more tumours"
            )
        coef[b], *_ = np.linalg.lstsq(design[rows], features[rows], rcond=None)
        residual = features[rows] - design[rows] @ coef[b]
        cov[b] = residual.T @ residual / (rows.sum() - len(DESIGN))
    return ObservationCalibration(coef, cov, len(eta))


def log_likelihood(
    calibration: ObservationCalibration,
    features: np.ndarray,
    covariates: np.ndarray,
    voxels: np.ndarray,
    eta_mean: np.ndarray,
    eta_sd: np.ndarray,
) -> np.ndarray:
    """log p(F | η ~ N(``eta_mean``, diag(``eta_sd``²))) of each patient and hypothesis.

    Parameters
    ----------
    features
        (n, 4) of :func:`observed_features`.
    covariates
        (n, 3): ln size (cm), noise SD (HU), slice thickness (mm).
    voxels
        (n,) mask voxel counts (the size bin).
    eta_mean
        (n, H, 4) latent means under each of H hypotheses (genotype × mitotic band).
    eta_sd
        (4,) latent SDs.

    Returns
    -------
    numpy.ndarray
        (n, H) log densities.
    """
    bins = size_bin(voxels)
    coef = calibration.coef[bins]  # (n, D, 4)
    base = coef[:, 0, :] + np.einsum("nc,ncf->nf", covariates, coef[:, 5:, :])
    loading = coef[:, 1:5, :]  # (n, 4 eta, 4 features)
    mean = base[:, None, :] + np.einsum("nhe,nef->nhf", eta_mean, loading)
    total = calibration.cov[bins] + np.einsum("nef,e,neg->nfg", loading, np.square(eta_sd), loading)
    chol = np.linalg.cholesky(total)  # (n, 4, 4)
    diff = features[:, None, :] - mean  # (n, H, 4)
    n, h, f = diff.shape
    solved = np.linalg.solve(np.broadcast_to(chol[:, None], (n, h, f, f)), diff[..., None])[..., 0]
    log_det = 2.0 * np.log(np.diagonal(chol, axis1=1, axis2=2)).sum(axis=1)
    return -0.5 * (np.square(solved).sum(axis=-1) + log_det[:, None] + f * np.log(2 * np.pi))

"""Small tabular cohorts with a known answer: one feature that drives the hazard, or none.

:func:`planted_cohort` simulates the clinical factors, the survival and a feature table in
which ``planted`` expresses a latent prognostic trait, ``size_echo`` is a function of size and
the rest are noise. Its ``trait`` argument takes a trait from elsewhere.

:func:`generated_cohort` takes the synthetic generator's own cohort instead (drawn without
images): its clinical factors, survival and planted ``prognostic_trait_z``, so discovery is
tested against the generator's own planted effect and its non-log-linear AFIP hazard.

:func:`rendered_cohort` goes one step further: the same build's CTs are rendered and the
discovery's candidate radiomics features computed on each tumour, as ``gistcad biomarkers
discover`` computes them after an import, without writing or reading any file.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray

from gistcad.errors import ValidationError
from gistcad.progress import Progress

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class PlantedCohort:
    """A simulated cohort: features, survival, the adjustment and the centers."""

    features: pd.DataFrame
    durations: NDArray[np.float64]
    events: NDArray[np.float64]
    covariates: pd.DataFrame
    centers: NDArray[np.object_]
    log_size: NDArray[np.float64]


def planted_cohort(
    n: int = 300,
    *,
    hazard_ratio: float = 2.0,
    noise_features: int = 30,
    centers: int = 3,
    center_shift: float = 0.0,
    seed: int = 0,
    trait: ArrayLike | None = None,
) -> PlantedCohort:
    """Patients whose hazard is exp(0.8 log size + 0.3 log(1 + mitoses) + log(HR) trait).

    Parameters
    ----------
    hazard_ratio
        Hazard ratio per SD of the trait (1: no signal).
    noise_features
        Columns of pure noise beside ``planted`` and ``size_echo``.
    center_shift
        Each center adds ``center_shift × its index`` to every feature (a scanner effect,
        unrelated to the outcome).
    trait
        The latent trait per patient (shape (n,), SD about 1); default drawn here.
    """
    rng = np.random.default_rng(seed)
    center = rng.integers(0, centers, n)
    log_size = np.log(np.clip(rng.lognormal(np.log(5.0), 0.6, n), 0.5, 40.0))
    log_mitoses = np.log1p(rng.poisson(np.exp(0.4 * log_size)))
    latent = rng.normal(size=n) if trait is None else np.asarray(trait, dtype=float)
    linear = 0.8 * log_size + 0.3 * log_mitoses + np.log(hazard_ratio) * latent
    event_time = rng.exponential(60.0 * np.exp(-(linear - linear.mean())))
    censor = rng.uniform(24.0, 120.0, n)
    durations = np.round(np.minimum(event_time, censor), 1)
    events = (event_time <= censor).astype(float)
    columns = {
        "planted": latent + rng.normal(scale=0.3, size=n),
        "size_echo": 2.0 * log_size + rng.normal(scale=0.1, size=n),
    }
    for j in range(noise_features):
        columns[f"noise_{j:02d}"] = rng.normal(size=n)
    features = pd.DataFrame(columns) + center_shift * center[:, None]
    covariates = pd.DataFrame({"log_size": log_size, "log_mitoses": log_mitoses})
    return PlantedCohort(
        features=features,
        durations=durations,
        events=events,
        covariates=covariates,
        centers=np.array([f"C{c}" for c in center], dtype=object),
        log_size=log_size,
    )


#: features of :func:`generated_cohort` that are noisy functions of size, on their natural
#: scale as the radiomics features are: exp(a · log size + noise), (a, noise SD)
SIZE_LINKED = {
    "volume": (3.0, 0.25),
    "surface": (2.0, 0.2),
    "major_axis": (1.0, 0.15),
    "surface_volume_ratio": (-1.0, 0.1),
}


def generated_cohort(
    n: int = 600,
    *,
    signal: float = 1.0,
    centers: int = 3,
    noise_features: int = 20,
    trait_noise_sd: float = 0.5,
    seed: int = 0,
    adjust: tuple[str, ...] = ("risk", "afip"),
) -> PlantedCohort:
    """The synthetic generator's own cohort (drawn without images) as a feature table.

    The clinical factors, the trait ``prognostic_trait_z`` and the recurrence-free survival are
    those of :func:`gistcad.synth.clinical.draw_cohort` (AFIP cells, genotype, rupture,
    adjuvant imatinib, the trait's hazard ratio 1.8 per SD scaled by ``signal``). Features:
    ``trait`` is z plus measurement noise of SD ``trait_noise_sd`` (its correlation with z is
    (1 + sd²)^-1/2, 0.89 at 0.5); :data:`SIZE_LINKED` are size^a with log-normal noise, as volume,
    surface, major axis and surface-to-volume ratio are; ``noise_XX`` are pure noise. The
    covariates are the discovery command's ``adjust`` (:func:`~gistcad.biomarkers.discovery
    .adjustment_covariates`; ``risk``: log size, log(1 + mitoses), non-gastric, rupture;
    ``afip``: the AFIP cell's log cumulative hazard).
    """
    from gistcad.biomarkers.discovery import (
        Adjustment,
        adjustment_covariates,
    )
    from gistcad.synth.centers import default_centers
    from gistcad.synth.clinical import draw_cohort

    drawn = draw_cohort(n, default_centers(centers), rng=np.random.default_rng(seed), signal=signal)
    rng = np.random.default_rng([seed, 1])
    log_size = np.log(drawn["size_cm"].to_numpy(dtype=float))
    columns = {
        "trait": drawn["prognostic_trait_z"].to_numpy(dtype=float)
        + rng.normal(scale=trait_noise_sd, size=n)
    }
    for name, (slope, sd) in SIZE_LINKED.items():
        columns[name] = np.exp(slope * log_size + rng.normal(scale=sd, size=n))
    for j in range(noise_features):
        columns[f"noise_{j:02d}"] = rng.normal(size=n)
    covariates, _ = adjustment_covariates(drawn, tuple(Adjustment(a) for a in adjust))
    return PlantedCohort(
        features=pd.DataFrame(columns),
        durations=drawn["rfs_months"].to_numpy(dtype=float),
        events=drawn["rfs_event"].to_numpy(dtype=float),
        covariates=covariates,
        centers=drawn["center"].to_numpy(dtype=object),
        log_size=log_size,
    )


@dataclass(frozen=True)
class RenderedCohort:
    """A generated cohort whose features were measured on its rendered CTs.

    Attributes
    ----------
    cohort
        The candidate features (one row per patient), survival, adjustment and centers.
    trait_z
        The planted prognostic trait ``prognostic_trait_z`` of each patient, shape (n,): the
        truth a discovery is judged against (never a candidate).
    """

    cohort: PlantedCohort
    trait_z: NDArray[np.float64]


@dataclass(frozen=True)
class _TumourFeatures:
    """One patient's baseline CT as the build renders it, described by the candidate
    features (a pure task for :mod:`gistcad.cluster`)."""

    seed: int
    matrix: int
    scan_length_mm: float

    def __call__(self, patient: tuple[Mapping[str, Any], Any]) -> dict[str, float]:
        from gistcad.biomarkers.discovery import CANDIDATE_SETTINGS
        from gistcad.modelling.radiomics_model import tumour_features
        from gistcad.synth.build import render_baseline

        record, center = patient
        ct = render_baseline(
            record, center, seed=self.seed, matrix=self.matrix, scan_length_mm=self.scan_length_mm
        )
        spacing = (ct.slice_thickness_mm, *ct.pixel_spacing_mm)  # per axis: slices, rows, cols
        # none for a tumour with no voxel in the re-segmentation range: left out below
        return tumour_features(ct.hu, ct.tumour_mask, spacing, CANDIDATE_SETTINGS) or {}


def rendered_cohort(
    n: int,
    *,
    signal: float = 1.0,
    seed: int = 0,
    centers: int = 6,
    matrix: int = 256,
    scan_length_mm: float = 200.0,
    adjust: tuple[str, ...] = ("risk", "afip", "genotype"),
    workers: int | None = None,
    progress: Progress | None = None,
) -> RenderedCohort:
    """The cohort ``gistcad demo build --patients n --centers centers --seed seed --signal
    signal --matrix matrix`` writes (``scan_length_mm``: the build's scanned range, 200 mm
    unless a test asks for less), with the discovery's candidate features of every tumour.

    Every patient's baseline CT is rendered exactly as the build renders it
    (:func:`gistcad.synth.build.render_baseline`, the same seed streams) and its
    tumour mask described by :func:`gistcad.modelling.radiomics_model.tumour_features` with
    the discovery's settings (:data:`gistcad.biomarkers.discovery.CANDIDATE_SETTINGS`). What
    this skips: writing and reading the DICOM series, the SEG/RTSTRUCT/NIfTI masks and the
    clinical tables, and the import (pseudonyms, the database, the NIfTI the import stores).
    The survival, clinical factors and trait are the build's clinical table (the import reads
    the same values from it). One task per patient (:func:`gistcad.cluster.run_cases`,
    ``workers`` processes of a local cluster where it starts one).

    Raises
    ------
    ValidationError
        An option the build refuses (its message names it).
    """
    from pathlib import Path

    from gistcad.biomarkers.discovery import CANDIDATE_SETTINGS, Adjustment, adjustment_covariates
    from gistcad.cluster import run_cases
    from gistcad.modelling.radiomics_model import described_rows
    from gistcad.synth.build import BuildOptions, draw_build_cohort

    options = BuildOptions(
        out=Path("unused"),
        patients=n,
        centers=centers,
        seed=seed,
        signal=signal,
        matrix=matrix,
        scan_length_mm=scan_length_mm,
        follow_up=False,
    )
    drawn, profiles = draw_build_cohort(options)
    patients = [(r, profiles[str(r["center"])]) for r in drawn.to_dict(orient="records")]
    task = _TumourFeatures(seed, matrix, options.scan_length_mm)
    rows = run_cases(task, patients, workers=workers, progress=progress, what="tumours")
    features = pd.DataFrame(rows, index=drawn.index).astype(float)
    described = described_rows(features)
    if not described.any():
        raise ValidationError(
            f"none of the {n} rendered tumours has a voxel in the re-segmentation range "
            f"{CANDIDATE_SETTINGS.resegment_hu} HU: no feature describes them"
        )
    if not described.all():
        logger.warning(
            "%d tumour(s) without a voxel in the re-segmentation range %s HU left out",
            int((~described).sum()),
            CANDIDATE_SETTINGS.resegment_hu,
        )
        drawn = drawn[described].reset_index(drop=True)
        features = features[described].reset_index(drop=True)
    covariates, _ = adjustment_covariates(drawn, tuple(Adjustment(a) for a in adjust))
    cohort = PlantedCohort(
        features=features,
        durations=drawn["rfs_months"].to_numpy(dtype=float),
        events=drawn["rfs_event"].to_numpy(dtype=float),
        covariates=covariates,
        centers=drawn["center"].to_numpy(dtype=object),
        log_size=np.log(drawn["size_cm"].to_numpy(dtype=float)),
    )
    return RenderedCohort(cohort, drawn["prognostic_trait_z"].to_numpy(dtype=float))

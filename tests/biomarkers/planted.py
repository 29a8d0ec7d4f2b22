"""Small tabular cohorts with a known answer: one feature that drives the hazard, or none.

:func:`planted_cohort` simulates the clinical factors, the survival and a feature table in
which ``planted`` expresses a latent prognostic trait, ``size_echo`` is a function of size and
the rest are noise. Its ``trait`` argument takes a trait from elsewhere: when the synthetic
generator writes ``prognostic_trait_z`` to ``oracle.csv``, pass that column to test discovery
against the generator's own planted effect.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray


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

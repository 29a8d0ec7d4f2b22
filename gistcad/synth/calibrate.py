"""Build the calibration of what the CT shows against the latent phenotype.

Draws a cohort at full signal, renders each tumour's CT (at in-plane matrices cycling over
:data:`MATRICES`, as builds use), measures it (:func:`~gistcad.synth.observation.measure_tumour`)
and fits :func:`~gistcad.synth.observation.fit_calibration`. The table shipped in
``gistcad/data/observation_calibration.json`` was written by::

    nice -n 10 python -m gistcad.synth.calibrate --renderings 1500 --seed 2024 \\
        --out gistcad/data/observation_calibration.json

The calibration uses its own seed, never a cohort's: the observable reference of a build is
not fitted on that build's patients.
"""

from __future__ import annotations

import argparse
import json
import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.special import logit

from gistcad.synth.centers import default_centers
from gistcad.synth.clinical import draw_cohort
from gistcad.synth.observation import (
    MEASUREMENT_COLUMNS,
    ObservationCalibration,
    features_and_covariates,
    fit_calibration,
    measure_patient,
)
from gistcad.synth.params import DEFAULT_PARAMS, CohortParams
from gistcad.synth.phantom import render_ct

logger = logging.getLogger(__name__)

MATRICES: tuple[int, ...] = (64, 128, 256)


def latent_eta(cohort: pd.DataFrame, params: CohortParams = DEFAULT_PARAMS) -> np.ndarray:
    """The four latent linear predictors η of each patient, shape (n, 4)."""
    ceiling = params.phenotype.necrosis_max

    def clipped(values: pd.Series, top: float) -> np.ndarray:
        return np.clip(values.to_numpy(dtype=float) / top, 1e-9, 1 - 1e-9)

    return np.column_stack(
        [
            cohort["enhancement_hu"].to_numpy(dtype=float),
            logit(clipped(cohort["heterogeneity"], 1.0)),
            logit(clipped(cohort["necrosis_fraction"], ceiling)),
            logit(clipped(cohort["lobulation"], 1.0)),
        ]
    )


def render_measurements(
    renderings: int, seed: int, matrices: Sequence[int] = MATRICES, signal: float = 1.0
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(cohort, measurements) of ``renderings`` patients drawn at ``signal`` whose CTs are
    rendered (tumour and the anatomy around it, a short scan) and measured
    (:func:`~gistcad.synth.observation.measure_patient`)."""
    profiles = default_centers(6)
    centers = {c.name: c for c in profiles}
    rng = np.random.default_rng(np.random.SeedSequence([seed, 7]))
    cohort = draw_cohort(renderings, profiles, rng=rng, signal=signal)
    rows: list[dict[str, float]] = []
    for i, record in enumerate(cohort.to_dict(orient="records")):
        center = centers[record["center"]]
        ct = render_ct(
            record,
            center,
            matrix=matrices[i % len(matrices)],
            rng=np.random.default_rng(np.random.SeedSequence([seed, 8, i])),
            scan_length_mm=60.0,
        )
        rows.append(measure_patient(ct, center, int(record["patient_index"])))
        if (i + 1) % 100 == 0:
            logger.info("calibration: %d of %d tumours rendered", i + 1, renderings)
    measurements = pd.DataFrame(rows, columns=list(MEASUREMENT_COLUMNS))
    measurements["patient_index"] = measurements["patient_index"].astype(int)
    return cohort, measurements


def calibrate(
    renderings: int, seed: int, matrices: Sequence[int] = MATRICES
) -> ObservationCalibration:
    """Render ``renderings`` tumours and fit the calibration (see the module doc)."""
    cohort, measured = render_measurements(renderings, seed, matrices)
    features, covariates = features_and_covariates(measured, cohort["size_cm"].to_numpy(float))
    return fit_calibration(
        latent_eta(cohort), covariates, features, measured["voxels"].to_numpy(dtype=float)
    )


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--renderings", type=int, default=1500)
    parser.add_argument("--seed", type=int, default=2024)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    table = calibrate(args.renderings, args.seed)
    args.out.write_text(json.dumps(table.to_json(), indent=1) + "\n")
    logger.info("calibration of %d renderings written to %s", table.renderings, args.out)


if __name__ == "__main__":
    main()

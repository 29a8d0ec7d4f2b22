"""The planted prognostic imaging trait of the synthetic cohort: the known answer of a
biomarker discovery.

Each patient has a latent z ~ N(0, 1) (``prognostic_trait_z``), drawn from its own random
stream so that every other draw of the generator is the same as without it, and independent
of center, site, size, mitoses, rupture, genotype, sex and age. It enters

- the **image**, at every signal, as the grain of the tumour's texture: the texture field's
  correlation cell is :func:`grain_cell_mm` (1 mm for z ≤ −1.4, 3 mm at 0, 12 mm for z ≥ 1.7
  with the default parameters) at a texture SD that does not depend on z and is at least
  25 HU, so that the grain shows in every tumour
  (:func:`~gistcad.synth.tumour.texture_sd_hu`, :func:`~gistcad.synth.tumour.paint_tumour`);
- the **recurrence hazard**, scaled by the cohort's signal s, as the multiplier
  ``exp(β·s·z − (β·s)²/2)`` (:func:`log_hazard_multiplier`), β = ln HR per SD
  (:class:`~gistcad.synth.params.PrognosticTraitParams`, HR 1.8). The proportional-hazards
  cure model of :mod:`gistcad.synth.survival_model` makes it an exact hazard ratio of
  HR^s per SD of z given every other factor; at signal 0 the trait carries no prognosis.
"""

from __future__ import annotations

import numpy as np

from gistcad.synth.params import CohortParams


def trait_rng(rng: np.random.Generator) -> np.random.Generator:
    """The trait's own stream: the first child of ``rng``'s seed sequence.

    Spawning draws nothing from ``rng``, so the cohort's other draws are those of a generator
    that never had the trait; the same seed gives the same trait.
    """
    return rng.spawn(1)[0]


def draw_trait(n: int, rng: np.random.Generator) -> np.ndarray:
    """z ~ N(0, 1) of ``n`` patients, shape (n,), from the trait's stream (:func:`trait_rng`)."""
    return rng.standard_normal(n)


def log_hazard_multiplier(z: np.ndarray, signal: float, params: CohortParams) -> np.ndarray:
    """log of the trait's recurrence multiplier, β·s·z − (β·s)²/2, shape of ``z``.

    β = ln ``params.trait.hazard_ratio_per_sd``; the offset −(β·s)²/2 makes the mean
    multiplier 1 (the log-normal mean, E exp(βsz) = exp((βs)²/2)), so adding the trait keeps
    the cohort's average recurrence risk. 0 at signal 0.
    """
    beta_s = float(signal) * np.log(params.trait.hazard_ratio_per_sd)
    return beta_s * np.asarray(z, dtype=float) - 0.5 * beta_s**2


def grain_cell_mm(z: float, params: CohortParams) -> float:
    """Correlation cell of the tumour's texture field (mm) of a patient with trait ``z``:
    ``grain_cell_mm · exp(grain_log_per_sd · z)`` clipped to ``grain_range_mm``."""
    trait = params.trait
    cell = trait.grain_cell_mm * float(np.exp(trait.grain_log_per_sd * z))
    return float(np.clip(cell, *trait.grain_range_mm))

"""The latent imaging phenotype: what CT shows of the tumour besides site and size.

Each continuous variable is ``inverse_link(location + scale·z)`` with z ~ N(s·effect[g], 1),
s the ``signal`` and g the genotype; the location is a function of site, size and (necrosis
only) s·[mitoses > 5]. The inverse link is the identity for enhancement (HU) and
``ceiling·logistic`` for the fractions. Binary variables are Bernoulli(logistic(base +
s·effect[g])), the base a function of site and size. Parameters and sources are in
:class:`~gistcad.synth.params.PhenotypeParams`.

:mod:`gistcad.synth.clinical` draws the phenotype with :func:`draw_phenotype`;
:mod:`gistcad.synth.oracle` evaluates the same densities for the exact posterior. Site
arguments are site codes: indices into :class:`~gistcad.domain.Site` in enum order
(:data:`gistcad.synth.clinical.SITES`); genotype arguments index
:data:`~gistcad.synth.params.DRAWN_GENOTYPES`.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from scipy.special import expit, logit

from gistcad.domain import Site
from gistcad.synth.params import DRAWN_GENOTYPES, CohortParams

#: Continuous phenotype columns, each a monotone map of its latent z.
CONTINUOUS_PHENOTYPE: tuple[str, ...] = (
    "enhancement_hu",
    "heterogeneity",
    "necrosis_fraction",
    "lobulation",
)
#: Binary phenotype columns.
BINARY_PHENOTYPE: tuple[str, ...] = ("exophytic", "calcification")


def genotype_effects(name: str, params: CohortParams) -> np.ndarray:
    """Effect of each drawn genotype on one phenotype variable, shape (G,).

    In SD of z for a continuous variable, in logits for a binary one; KIT exon 11 is 0.
    """
    short = name.split("_")[0]
    table = getattr(params.phenotype, f"effect_{short}")
    return np.array([table[g] for g in DRAWN_GENOTYPES])


class LatentScale(NamedTuple):
    """value = inverse_link(location + scale·z) for one continuous phenotype variable."""

    location: np.ndarray
    scale: float
    ceiling: float  # 0 for the identity link; else value = ceiling·logistic(...)


def latent_scales(
    sites: np.ndarray,
    size_cm: np.ndarray,
    high_mitoses: np.ndarray,
    signal: float,
    params: CohortParams,
) -> dict[str, LatentScale]:
    """Location and scale of each continuous phenotype's latent map (§8, §6.1 [D]).

    Parameters
    ----------
    sites
        Site codes, shape (n,).
    size_cm
        Tumour diameter in cm, shape (n,).
    high_mitoses
        Whether the count exceeds 5 per 50 HPF, shape (n,); raises necrosis by
        ``signal · necrosis_high_mitoses`` logits.
    signal, params
        As in :func:`~gistcad.synth.clinical.draw_cohort`.

    Returns
    -------
    dict of LatentScale
        Keyed by :data:`CONTINUOUS_PHENOTYPE`; locations of shape (n,).
    """
    ph = params.phenotype
    log5 = np.log(size_cm / 5.0)
    offset = np.array([ph.enhancement_site_offset_hu.get(site, 0.0) for site in Site])[sites]
    small_bowel = np.array([site.is_small_bowel for site in Site])[sites]
    necrosis = (
        ph.necrosis_logit
        + ph.necrosis_size_slope * np.log(size_cm / 10.0)
        + ph.necrosis_small_bowel * small_bowel
        + signal * ph.necrosis_high_mitoses * high_mitoses
    )
    return {
        "enhancement_hu": LatentScale(ph.enhancement_mean_hu + offset, ph.enhancement_sd_hu, 0.0),
        "heterogeneity": LatentScale(
            ph.heterogeneity_logit + ph.heterogeneity_size_slope * log5, 1.0, 1.0
        ),
        "necrosis_fraction": LatentScale(necrosis, 1.0, ph.necrosis_max),
        "lobulation": LatentScale(ph.lobulation_logit + ph.lobulation_size_slope * log5, 1.0, 1.0),
    }


def to_phenotype(z: np.ndarray, latent: LatentScale) -> np.ndarray:
    """Map latent z to the phenotype value (monotone increasing)."""
    eta = latent.location + latent.scale * z
    return eta if latent.ceiling == 0.0 else latent.ceiling * expit(eta)


def to_latent(value: np.ndarray, latent: LatentScale) -> np.ndarray:
    """Inverse of :func:`to_phenotype`; values rounded onto the bounds are pulled 1e-12 in."""
    if latent.ceiling == 0.0:
        eta = np.asarray(value, dtype=float)
    else:
        eta = logit(np.clip(np.asarray(value, dtype=float) / latent.ceiling, 1e-12, 1 - 1e-12))
    return (eta - latent.location) / latent.scale


def binary_base_logits(
    sites: np.ndarray, size_cm: np.ndarray, params: CohortParams
) -> dict[str, np.ndarray]:
    """Genotype-free part of the logits of the binary phenotype variables, shape (n,)."""
    ph = params.phenotype
    log5 = np.log(size_cm / 5.0)
    exo = np.array([ph.exophytic_logit[site] for site in Site])[sites]
    return {
        "exophytic": exo + ph.exophytic_size_slope * log5,
        "calcification": ph.calcification_logit + ph.calcification_size_slope * log5,
    }


def draw_phenotype(
    sites: np.ndarray,
    size_cm: np.ndarray,
    mitoses: np.ndarray,
    genotypes: np.ndarray,
    signal: float,
    rng: np.random.Generator,
    params: CohortParams,
) -> dict[str, np.ndarray]:
    """Draw the latent imaging phenotype of each patient (§8, §6.1 [D]).

    Parameters
    ----------
    sites
        Site codes, shape (n,).
    size_cm
        Tumour diameter in cm, shape (n,).
    mitoses
        Mitotic count per 50 HPF, shape (n,).
    genotypes
        Indices into :data:`~gistcad.synth.params.DRAWN_GENOTYPES`, shape (n,).
    signal, rng, params
        As in :func:`~gistcad.synth.clinical.draw_cohort`.

    Returns
    -------
    dict of numpy.ndarray
        Float arrays for :data:`CONTINUOUS_PHENOTYPE` (enhancement in HU, the rest
        fractions), then bool arrays for :data:`BINARY_PHENOTYPE`, each of shape (n,).
    """
    n = len(sites)
    scales = latent_scales(sites, size_cm, mitoses > 5, signal, params)
    out: dict[str, np.ndarray] = {}
    for name in CONTINUOUS_PHENOTYPE:
        z = signal * genotype_effects(name, params)[genotypes] + rng.standard_normal(n)
        out[name] = to_phenotype(z, scales[name])
    base = binary_base_logits(sites, size_cm, params)
    for name in BINARY_PHENOTYPE:
        eta = base[name] + signal * genotype_effects(name, params)[genotypes]
        out[name] = rng.random(n) < expit(eta)
    return out

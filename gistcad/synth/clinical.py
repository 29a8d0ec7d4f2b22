"""One row per synthetic patient: demography, tumour, genotype, imaging phenotype, outcome.

The generative model, in the order it is drawn (parameters and sources in
:mod:`gistcad.synth.params`):

1. center by weight; site from §1.2 with the center's ``gastric_shift``; sub-site;
2. genotype detail from P_s(g | site) = s·P(g | site) + (1 − s)·P(g), where s is ``signal``
   and P(g) the marginal under the default site shares, so that at s = 0 the genotype is
   independent of site and center;
3. sex and age (SDH-deficient young and female, mixed towards the others by s);
4. size: log-normal truncated to 0.5–40 cm, median by site × sub-site × multiplier[g]^s;
5. mitotic count: negative binomial in size, site and genotype (not visible on CT, so it
   keeps its genotype effects at every signal); rupture; histology;
6. latent imaging phenotype (:mod:`gistcad.synth.phenotype`): each continuous variable is
   ``inverse_link(location + scale·z)`` with z ~ N(s·effect[g], 1), and location a function
   of site, size and (necrosis only) s·[mitoses > 5]; binary ones are
   Bernoulli(logistic(base + s·effect[g]));
7. the prognostic imaging trait z ~ N(0, 1), from its own stream and independent of all the
   above (:mod:`gistcad.synth.prognostic_trait`): rendered as the texture's grain at every
   signal, a recurrence hazard ratio of 1.8^s per SD;
8. adjuvant imatinib, recurrence, death, follow-up (:mod:`gistcad.synth.survival_model`).

At ``signal = 0`` nothing the image shows (site, size, phenotype) depends on the genotype,
and neither do age and sex (DICOM headers carry them), and the trait the image shows carries
no prognosis: the negative control.
The same densities give the exact posterior in :mod:`gistcad.synth.oracle`.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy.special import expit, ndtr, ndtri

from gistcad.domain import GenotypeDetail, MitosisUnit, Sex, Site, genotype_class
from gistcad.errors import ValidationError
from gistcad.synth.centers import CenterProfile
from gistcad.synth.params import DEFAULT_PARAMS, DRAWN_GENOTYPES, CohortParams
from gistcad.synth.phenotype import BINARY_PHENOTYPE, CONTINUOUS_PHENOTYPE, draw_phenotype
from gistcad.synth.prognostic_trait import draw_trait, log_hazard_multiplier, trait_rng
from gistcad.synth.survival_model import draw_outcomes

logger = logging.getLogger(__name__)

SITES: tuple[Site, ...] = tuple(Site)
HISTOLOGIES: tuple[str, ...] = ("spindle", "epithelioid", "mixed")

#: The columns of :func:`draw_cohort`, in order.
COLUMNS: tuple[str, ...] = (
    "patient_index", "center", "hospital_id", "patient_name", "birth_date", "sex",
    "age_years", "site", "sub_site", "genotype_detail", "genotype_class", "size_cm",
    "mitotic_count", "mitotic_unit", "rupture", "histology", "adjuvant_imatinib",
    "imatinib_dose_mg_per_day", "imatinib_months", "surgery_date", "rfs_months", "rfs_event",
    "os_months", "os_event", "last_follow_up", *CONTINUOUS_PHENOTYPE, *BINARY_PHENOTYPE,
    "prognostic_trait_z",
)  # fmt: skip

_DETAIL_VALUES = np.array([g.value for g in DRAWN_GENOTYPES], dtype=object)
_CLASS_VALUES = np.array([str(genotype_class(g)) for g in DRAWN_GENOTYPES], dtype=object)


# --- shared densities (also used by the oracle) -----------------------------------------------


def site_codes(sites: Sequence[str] | np.ndarray | pd.Series) -> np.ndarray:
    """Index into :data:`SITES` of each site value."""
    lookup = {site.value: code for code, site in enumerate(SITES)}
    return np.array([lookup[str(s)] for s in sites], dtype=np.int64)


def genotype_prior(sites: np.ndarray, signal: float, params: CohortParams) -> np.ndarray:
    """P_s(genotype | site), shape (n, len(DRAWN_GENOTYPES)); ``sites`` are site codes."""
    table = np.array(
        [[params.genotype_by_site[site][g] for g in DRAWN_GENOTYPES] for site in SITES]
    )
    shares = np.array([params.site_shares[site] for site in SITES])
    marginal = shares @ table / shares.sum()
    return (signal * table + (1.0 - signal) * marginal)[sites]


def size_log_location(
    sites: np.ndarray, sub_sites: np.ndarray, signal: float, params: CohortParams
) -> np.ndarray:
    """Log median size (ln cm) of each patient under each genotype, shape (n, G)."""
    tumour = params.tumour
    median = np.array([tumour.size_median_cm[site] for site in SITES])[sites]
    sub = np.array([tumour.size_sub_site_multiplier.get(str(s), 1.0) for s in sub_sites])
    multiplier = np.array([tumour.size_multiplier[g] for g in DRAWN_GENOTYPES])
    return np.log(median * sub)[:, None] + signal * np.log(multiplier)[None, :]


def size_log_density(size_cm: np.ndarray, location: np.ndarray, params: CohortParams) -> np.ndarray:
    """Log density of ln(size) under the truncated normal, broadcast over ``location``."""
    tumour = params.tumour
    sigma = tumour.size_sigma_log
    lo = (np.log(tumour.size_min_cm) - location) / sigma
    hi = (np.log(tumour.size_max_cm) - location) / sigma
    z = (np.log(size_cm)[:, None] - location) / sigma
    return -0.5 * z**2 - np.log(sigma) - np.log(ndtr(hi) - ndtr(lo))


def mitosis_mean(sites: np.ndarray, size_cm: np.ndarray, params: CohortParams) -> np.ndarray:
    """Mean mitotic count per 50 HPF under each genotype, shape (n, G)."""
    tumour = params.tumour
    log_mean = np.array([tumour.mitosis_log_mean[site] for site in SITES])[sites]
    base = np.exp(log_mean + tumour.mitosis_size_slope * np.log(size_cm / 5.0))
    multiplier = np.array([tumour.mitosis_multiplier[g] for g in DRAWN_GENOTYPES])
    return base[:, None] * multiplier[None, :]


# --- drawing ----------------------------------------------------------------------------------


def _categorical(probabilities: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One index per row of an (n, k) probability matrix."""
    cumulative = np.cumsum(probabilities, axis=1)
    u = rng.random(len(probabilities)) * cumulative[:, -1]
    return np.minimum((u[:, None] >= cumulative).sum(axis=1), probabilities.shape[1] - 1)


def _truncated_normal(
    mean: np.ndarray, sd: float, lo: float, hi: float, rng: np.random.Generator
) -> np.ndarray:
    """Normal(mean, sd) truncated to [lo, hi] by inversion."""
    a, b = ndtr((lo - mean) / sd), ndtr((hi - mean) / sd)
    u = a + rng.random(len(mean)) * (b - a)
    return np.clip(mean + sd * ndtri(u), lo, hi)


def _site_probabilities(centers: Sequence[CenterProfile], params: CohortParams) -> np.ndarray:
    """Site distribution of each center, shape (centers, sites): §1.2 plus gastric_shift,
    taken proportionally from duodenum and jejunum/ileum."""
    base = np.array([params.site_shares[site] for site in SITES], dtype=float)
    base = base / base.sum()
    small = np.array([site.is_small_bowel for site in SITES])
    gastric = SITES.index(Site.STOMACH)
    rows = []
    for center in centers:
        p = base.copy()
        shift = float(np.clip(center.gastric_shift, -p[gastric], p[small].sum()))
        p[gastric] += shift
        p[small] -= shift * p[small] / p[small].sum()
        rows.append(p)
    return np.array(rows)


def _draw_sub_sites(
    sites: np.ndarray, rng: np.random.Generator, params: CohortParams
) -> np.ndarray:
    u = rng.random(len(sites))
    out = np.empty(len(sites), dtype=object)
    for code, site in enumerate(SITES):
        names = list(params.sub_site_shares[site])
        weights = np.cumsum([params.sub_site_shares[site][k] for k in names])
        mask = sites == code
        pick = np.searchsorted(weights / weights[-1], u[mask], side="right")
        out[mask] = np.array(names, dtype=object)[np.minimum(pick, len(names) - 1)]
    return out


def _draw_demography(
    genotypes: np.ndarray, signal: float, rng: np.random.Generator, params: CohortParams
) -> tuple[np.ndarray, np.ndarray]:
    """Male indicator and age in years (§9 [D])."""
    demo = params.demography
    male_p = np.array(
        [demo.male_share_by_genotype.get(g, demo.male_share) for g in DRAWN_GENOTYPES]
    )
    male_p = signal * male_p + (1.0 - signal) * demo.male_share
    male = rng.random(len(genotypes)) < male_p[genotypes]
    sdh = np.array([g is GenotypeDetail.WT_SDH_DEFICIENT for g in DRAWN_GENOTYPES])[genotypes]
    mean = np.where(
        sdh,
        demo.age_mean_years + signal * (demo.sdh_age_mean_years - demo.age_mean_years),
        demo.age_mean_years,
    )
    age = _truncated_normal(mean, demo.age_sd_years, demo.age_min_years, demo.age_max_years, rng)
    return male, age


def _draw_tumour(
    sites: np.ndarray,
    sub_sites: np.ndarray,
    genotypes: np.ndarray,
    signal: float,
    rng: np.random.Generator,
    params: CohortParams,
) -> dict[str, np.ndarray]:
    """Size (cm), mitotic count per 50 HPF, rupture and histology."""
    tumour, n, rows = params.tumour, len(sites), np.arange(len(sites))
    location = size_log_location(sites, sub_sites, signal, params)[rows, genotypes]
    log_size = _truncated_normal(
        location,
        tumour.size_sigma_log,
        np.log(tumour.size_min_cm),
        np.log(tumour.size_max_cm),
        rng,
    )
    size = np.exp(log_size)
    mean = mitosis_mean(sites, size, params)[rows, genotypes]
    k = tumour.mitosis_dispersion
    mitoses = rng.negative_binomial(k, k / (k + mean))
    small_bowel = np.array([site.is_small_bowel for site in SITES])[sites]
    rupture_logit = (
        tumour.rupture_logit
        + tumour.rupture_size_slope * np.log(size / 5.0)
        + tumour.rupture_small_bowel * small_bowel
    )
    rupture = rng.random(n) < expit(rupture_logit)
    histology_p = np.array([tumour.histology[g] for g in DRAWN_GENOTYPES])[genotypes]
    histology = np.array(HISTOLOGIES, dtype=object)[_categorical(histology_p, rng)]
    return {
        "size_cm": size,
        "mitotic_count": mitoses.astype(np.int64),
        "rupture": rupture,
        "histology": histology,
    }


# --- identity and dates -----------------------------------------------------------------------

# Small built-in name lists [D], mixed across the consortium's countries; fake by design.
# fmt: off
_FAMILY = (
    "JANSEN", "DE VRIES", "BAKKER", "MARTIN", "BERNARD", "DUBOIS", "NOWAK", "KOWALSKI",
    "WOJCIK", "KIM", "LEE", "PARK", "SMITH", "JOHNSON", "BROWN", "ROSSI", "RUSSO", "BIANCHI",
    "MULLER", "GARCIA",
)
_GIVEN_MALE = (
    "JAN", "PIETER", "LUCAS", "PIERRE", "THOMAS", "PIOTR", "TOMASZ", "MINHO", "JIHOON",
    "JAMES", "ROBERT", "MARCO", "LUCA", "PAUL", "DAVID",
)
_GIVEN_FEMALE = (
    "ANNA", "EMMA", "SOPHIE", "MARIE", "CLAIRE", "AGNIESZKA", "KATARZYNA", "JIYEON", "SEOYEON",
    "MARY", "LINDA", "GIULIA", "FRANCESCA", "EVA", "LAURA",
)
# fmt: on
_DAYS_PER_YEAR = 365.25


def _center_codes(centers: Sequence[CenterProfile]) -> list[str]:
    """Three-letter code of each center (first letters of its name, made unique)."""
    codes: list[str] = []
    for i, center in enumerate(centers):
        letters = "".join(ch for ch in center.name.upper() if ch.isalpha()) or "CTR"
        code = letters[:3].ljust(3, "X")
        codes.append(code if code not in codes else f"{code[:2]}{i % 10}")
    return codes


def _draw_identities(
    center_idx: np.ndarray,
    centers: Sequence[CenterProfile],
    male: np.ndarray,
    age: np.ndarray,
    rng: np.random.Generator,
    params: CohortParams,
) -> dict[str, np.ndarray]:
    """Hospital id, DICOM PN name, surgery date, birth date and exact age at surgery."""
    n = len(center_idx)
    numbers = np.empty(n, dtype=np.int64)
    for i in range(len(centers)):
        mask = center_idx == i
        numbers[mask] = 1_000_000 + rng.choice(9_000_000, size=int(mask.sum()), replace=False)
    codes = _center_codes(centers)
    hospital_id = np.array(
        [f"{codes[c]}{k:07d}" for c, k in zip(center_idx, numbers, strict=True)], dtype=object
    )
    family = rng.integers(len(_FAMILY), size=n)
    given_m = rng.integers(len(_GIVEN_MALE), size=n)
    given_f = rng.integers(len(_GIVEN_FEMALE), size=n)
    names = np.array(
        [
            f"{_FAMILY[f]}^{_GIVEN_MALE[gm] if m else _GIVEN_FEMALE[gf]}"
            for f, gm, gf, m in zip(family, given_m, given_f, male, strict=True)
        ],
        dtype=object,
    )
    survival = params.survival
    start = np.datetime64(survival.accrual_start, "D")
    span = int((np.datetime64(survival.accrual_end, "D") - start).astype(int))
    surgery = start + rng.integers(0, span + 1, size=n).astype("timedelta64[D]")
    age_days = np.round(age * _DAYS_PER_YEAR).astype(np.int64)
    birth = surgery - age_days.astype("timedelta64[D]")
    return {
        "hospital_id": hospital_id,
        "patient_name": names,
        "surgery_date": surgery.astype(object),
        "birth_date": birth.astype(object),
        "age_years": age_days / _DAYS_PER_YEAR,
    }


def _validate(n: int, centers: Sequence[CenterProfile], signal: float) -> None:
    if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 1:
        raise ValidationError(f"n is {n!r}; the cohort needs a whole number of patients >= 1")
    if not 0.0 <= float(signal) <= 1.0:
        raise ValidationError(
            f"signal is {signal!r}; it scales the genotype's imaging effects and must lie in "
            "[0, 1] (0: negative control, 1: default effect sizes)"
        )
    if not centers:
        raise ValidationError("no centers given; pass at least one CenterProfile")
    weights = np.array([c.weight for c in centers], dtype=float)
    if np.any(weights < 0) or weights.sum() <= 0:
        raise ValidationError(f"center weights {weights.tolist()} must be >= 0 with a positive sum")
    names = [c.name for c in centers]
    if len(set(names)) != len(names):
        raise ValidationError(f"center names must be unique; got {names}")


def draw_cohort(
    n: int,
    centers: Sequence[CenterProfile],
    *,
    rng: np.random.Generator,
    signal: float = 1.0,
    params: CohortParams = DEFAULT_PARAMS,
) -> pd.DataFrame:
    """Draw ``n`` synthetic resected GIST patients, one row each.

    Parameters
    ----------
    n
        Number of patients, >= 1.
    centers
        The consortium; each patient's center is drawn by ``weight``.
    rng
        The only source of randomness; the same seed gives the identical frame. It must
        come from a seed (``numpy.random.default_rng(seed)``): the trait's stream is
        spawned from its seed sequence.
    signal
        0–1: scales every genotype effect the CT shows (site mix, size multipliers,
        phenotype effects) and the log hazard ratio of the prognostic trait. 0 is the
        negative control (see module docstring).
    params
        Model parameters; :data:`~gistcad.synth.params.DEFAULT_PARAMS` by default.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`COLUMNS`; ``attrs["signal"]`` records ``signal``. Sizes in cm,
        counts per 50 HPF, times in months (30.44 days), enhancement in HU above water.

    Raises
    ------
    ValidationError
        If ``n < 1``, ``signal`` is outside [0, 1], or the centers are unusable.

    Notes
    -----
    Targets of the default parameters, measured in ``tests/synth/test_clinical.py`` on
    30,000 patients with adjuvant therapy switched off (tolerance in brackets): site shares
    of §1.2 (±2 points); genotype classes KIT11 0.66, KIT9 0.08, PDGFRA 0.11, other 0.15
    (±1.5–2 points; §2.1/§2.2); P(> 5 mitoses) 0.25 gastric, 0.46 small bowel (±0.03);
    NIH 2002 high risk 0.37 ([0.35, 0.45]); Kaplan–Meier RFS 0.67 at 5 years
    ([0.63, 0.72]) and 0.61 at 15 years ([0.55, 0.65]); Cox HR of PDGFRA vs KIT-mutant,
    stratified by AFIP cell, 0.34 ([0.25, 0.48]; Joensuu 2015: 0.34). 100,000 patients
    take about one second.
    """
    _validate(n, centers, signal)
    signal = float(signal)
    trait = draw_trait(n, trait_rng(rng))  # its own stream: every draw below is unchanged
    weights = np.array([c.weight for c in centers], dtype=float)
    center_idx = rng.choice(len(centers), size=n, p=weights / weights.sum())
    sites = _categorical(_site_probabilities(centers, params)[center_idx], rng)
    sub_sites = _draw_sub_sites(sites, rng, params)
    genotypes = _categorical(genotype_prior(sites, signal, params), rng)
    male, age = _draw_demography(genotypes, signal, rng, params)
    tumour = _draw_tumour(sites, sub_sites, genotypes, signal, rng, params)
    phenotype = draw_phenotype(
        sites, tumour["size_cm"], tumour["mitotic_count"], genotypes, signal, rng, params
    )
    people = _draw_identities(center_idx, centers, male, age, rng, params)
    site_values = np.array([s.value for s in SITES], dtype=object)[sites]
    outcomes = draw_outcomes(
        site_values,
        genotypes,
        male,
        people["age_years"],
        people["surgery_date"],
        tumour,
        rng,
        params,
        trait_log_hazard=log_hazard_multiplier(trait, signal, params),
    )
    frame = pd.DataFrame(
        {
            "patient_index": np.arange(n, dtype=np.int64),
            "center": np.array([c.name for c in centers], dtype=object)[center_idx],
            **{k: people[k] for k in ("hospital_id", "patient_name", "birth_date")},
            "sex": np.where(male, Sex.MALE.value, Sex.FEMALE.value).astype(object),
            "age_years": people["age_years"],
            "site": site_values,
            "sub_site": sub_sites,
            "genotype_detail": _DETAIL_VALUES[genotypes],
            "genotype_class": _CLASS_VALUES[genotypes],
            "size_cm": tumour["size_cm"],
            "mitotic_count": tumour["mitotic_count"],
            "mitotic_unit": np.full(n, MitosisUnit.PER_50_HPF.value, dtype=object),
            "rupture": tumour["rupture"],
            "histology": tumour["histology"],
            "surgery_date": people["surgery_date"],
            **outcomes,
            **phenotype,
            "prognostic_trait_z": trait,
        }
    )[list(COLUMNS)]
    frame.attrs["signal"] = signal
    logger.info("drew %d synthetic patients at signal %.2f", n, signal)
    return frame

"""Adjuvant imatinib, recurrence, death and follow-up of the synthetic cohort.

Recurrence follows a proportional-hazards cure model (§9 of the reference page, [D]):

    S(t) = (1 − p_afip · F(t))^m,
    m = hazard_scale · m_genotype · m_rupture · m_sex · m_adjuvant · m_trait,

where ``p_afip`` is the AFIP 2006 risk of progressive disease of the patient's cell
(:mod:`gistcad.analysis.risk`, Miettinen & Lasota 2006) and F the log-normal distribution
of the time to recurrence of those who recur (most within 5 years, almost none after 10).
1 − p_afip·F(t) is the baseline of the cell, so the multipliers are exact hazard ratios
within an AFIP cell, and P(ever recur) = 1 − (1 − p_afip)^m. Treated patients recur later
by the months of adjuvant imatinib. m_trait = exp(β·s·z − (β·s)²/2) is the planted
prognostic imaging trait (:mod:`gistcad.synth.prognostic_trait`; 1 at signal 0), and
log m is the patient's true linear predictor (:func:`recurrence_multiplier` gives m
without the trait). Death is the earlier of background mortality (Gompertz
in age and sex) and death after recurrence. Follow-up ends at the analysis date or at loss
to follow-up.

RFS here counts recurrence only; a death without recurrence censors RFS [D] (the definition
of the reference figure, Joensuu 2012, is taken to be this one [M]).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

import numpy as np
from scipy.special import ndtri

from gistcad.analysis.risk import classify_many
from gistcad.domain import RiskClass, RiskScheme, Site
from gistcad.synth.params import DRAWN_GENOTYPES, IMATINIB_SENSITIVE, CohortParams

logger = logging.getLogger(__name__)

DAYS_PER_MONTH = 365.25 / 12.0


def afip_recurrence_probability(
    sites: np.ndarray, size_cm: np.ndarray, mitoses: np.ndarray, floor: float
) -> np.ndarray:
    """AFIP 2006 risk of progressive disease as a probability, at least ``floor``.

    Cells with insufficient data (duodenum and rectum, > 5 cm) take the jejunum/ileum
    value of the same group [D], the usual non-gastric convention (§3.2 caveat 4 [M]).
    """
    _, percent = classify_many(RiskScheme.AFIP_2006, sites, size_cm, mitoses)
    missing = np.isnan(percent)
    if missing.any():
        fallback = np.full(int(missing.sum()), Site.JEJUNUM_ILEUM.value, dtype=object)
        _, percent[missing] = classify_many(
            RiskScheme.AFIP_2006, fallback, size_cm[missing], mitoses[missing]
        )
    return np.clip(percent / 100.0, floor, 0.97)


def _draw_treatment(
    eligible: np.ndarray, years: np.ndarray, rng: np.random.Generator, params: CohortParams
) -> dict[str, np.ndarray]:
    treatment = params.treatment
    n = len(eligible)
    uptake = np.where(
        years >= treatment.uptake_change_year, treatment.uptake_after, treatment.uptake_before
    )
    treated = eligible & (rng.random(n) < uptake)
    long_share = np.where(
        years >= treatment.long_change_year,
        treatment.long_share_after,
        treatment.long_share_before,
    )
    months = np.where(rng.random(n) < long_share, 36.0, 12.0)
    return {
        "adjuvant_imatinib": treated,
        "imatinib_dose_mg_per_day": np.where(treated, treatment.dose_mg_per_day, np.nan),
        "imatinib_months": np.where(treated, months, np.nan),
    }


def _background_death_months(
    male: np.ndarray, age_years: np.ndarray, rng: np.random.Generator, params: CohortParams
) -> np.ndarray:
    """Gompertz time to death from other causes: H(t) = h65/B·e^{B(a−65)}(e^{Bt} − 1)."""
    s = params.survival
    h65 = np.where(male, s.background_hazard_65_male, s.background_hazard_65_female)
    slope = s.background_gompertz_slope
    at_age = h65 * np.exp(slope * (age_years - 65.0))
    years = np.log1p(rng.exponential(size=len(male)) * slope / at_age) / slope
    return years * 12.0


def recurrence_multiplier(
    genotypes: np.ndarray,
    rupture: np.ndarray,
    male: np.ndarray,
    imatinib_months: np.ndarray,
    params: CohortParams,
) -> np.ndarray:
    """m without the trait; its log is the clinical part of the true linear predictor.

    hazard_scale · m_genotype · m_rupture · m_sex · m_adjuvant, shape (n,), with ``genotypes``
    indices into :data:`~gistcad.synth.params.DRAWN_GENOTYPES`, ``rupture`` and ``male``
    bool and ``imatinib_months`` the months of adjuvant imatinib (0 or NaN: untreated).
    """
    s, t = params.survival, params.treatment
    months_on = np.nan_to_num(np.asarray(imatinib_months, dtype=float))
    adjuvant = np.where(
        months_on >= 36, t.recurrence_multiplier_long, t.recurrence_multiplier_short
    )
    multiplier = (
        s.hazard_scale
        * np.array([s.genotype_multiplier[g] for g in DRAWN_GENOTYPES])[genotypes]
        * np.where(rupture, s.rupture_multiplier, 1.0)
        * np.where(male, s.male_multiplier, 1.0)
        * np.where(months_on > 0, adjuvant, 1.0)
    )
    return multiplier


def draw_outcomes(
    sites: np.ndarray,
    genotypes: np.ndarray,
    male: np.ndarray,
    age_years: np.ndarray,
    surgery_date: np.ndarray,
    tumour: Mapping[str, np.ndarray],
    rng: np.random.Generator,
    params: CohortParams,
    trait_log_hazard: np.ndarray | None = None,
) -> dict[str, np.ndarray]:
    """Adjuvant imatinib, RFS, OS and last follow-up of each patient.

    Parameters
    ----------
    sites
        Site values (str), shape (n,).
    genotypes
        Indices into :data:`~gistcad.synth.params.DRAWN_GENOTYPES`.
    male, age_years
        Sex and age at surgery (years).
    surgery_date
        ``datetime.date`` objects.
    tumour
        ``size_cm``, ``mitotic_count`` (per 50 HPF) and ``rupture`` arrays.
    trait_log_hazard
        log m_trait of each patient, shape (n,)
        (:func:`~gistcad.synth.prognostic_trait.log_hazard_multiplier`); None: 0. It draws
        nothing, so the random stream is the same with and without it.

    Returns
    -------
    dict of numpy.ndarray
        ``adjuvant_imatinib``, ``imatinib_dose_mg_per_day``, ``imatinib_months``,
        ``rfs_months``, ``rfs_event``, ``os_months``, ``os_event``, ``last_follow_up``;
        months of 30.44 days.
    """
    s, n = params.survival, len(sites)
    size, mitoses, rupture = tumour["size_cm"], tumour["mitotic_count"], tumour["rupture"]
    surgery = np.array(surgery_date, dtype="datetime64[D]")
    years = surgery.astype("datetime64[Y]").astype(np.int64) + 1970
    modified_nih, _ = classify_many(RiskScheme.MODIFIED_NIH_2008, sites, size, mitoses, rupture)
    sensitive = np.array([g in IMATINIB_SENSITIVE for g in DRAWN_GENOTYPES])[genotypes]
    therapy = _draw_treatment((modified_nih == RiskClass.HIGH) & sensitive, years, rng, params)

    treated = therapy["adjuvant_imatinib"]
    months_on = np.nan_to_num(therapy["imatinib_months"])
    multiplier = recurrence_multiplier(genotypes, rupture, male, months_on, params)
    if trait_log_hazard is not None:
        multiplier = multiplier * np.exp(trait_log_hazard)
    p_afip = afip_recurrence_probability(sites, size, mitoses, s.afip_floor)
    # Invert S(t) = (1 − p_afip·F(t))^m at a uniform u: F(t) = (1 − u^(1/m)) / p_afip.
    quantile = -np.expm1(np.log(rng.random(n)) / multiplier) / p_afip
    recurs = quantile < 1.0
    latency = s.recurrence_median_months * np.exp(
        s.recurrence_sigma_log * ndtri(np.where(recurs, quantile, 0.5))
    )
    recurrence = np.where(recurs, latency + months_on, np.inf)
    post = rng.exponential(s.post_recurrence_median_months / np.log(2.0), size=n)
    death = np.minimum(_background_death_months(male, age_years, rng, params), recurrence + post)

    admin = (np.datetime64(s.analysis_date, "D") - surgery).astype(np.int64) / DAYS_PER_MONTH
    lost = rng.exponential(12.0 / s.loss_to_follow_up_per_year, size=n)
    censor = np.minimum(admin, lost)
    os_months = np.minimum(death, censor)
    follow_up_days = np.floor(os_months * DAYS_PER_MONTH).astype(np.int64)
    logger.debug("%d of %d patients treated with adjuvant imatinib", treated.sum(), n)
    return {
        **therapy,
        "rfs_months": np.minimum(recurrence, os_months),
        "rfs_event": (recurrence <= os_months).astype(np.int64),
        "os_months": os_months,
        "os_event": (death <= censor).astype(np.int64),
        "last_follow_up": (surgery + follow_up_days.astype("timedelta64[D]")).astype(object),
    }

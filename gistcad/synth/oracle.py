"""The exact Bayes posterior of genotype and risk given what the CT shows, and its AUCs.

The image shows site, size and the latent phenotype (enhancement, heterogeneity, necrosis,
lobulation, exophytic growth, calcification). The generator of
:mod:`gistcad.synth.clinical` draws them from known densities (the phenotype's in
:mod:`gistcad.synth.phenotype`), so the posterior of every genotype is exact:

    P(g, b | x) ∝ P_s(g | site) · p(size | site, sub-site, g) · P(b | size, site, g)
                  · Π_k p(phenotype_k | g, size, site, b),

with b the NIH mitotic band (≤ 5, 6–10, > 10 per 50 HPF), which enters the image only
through the necrosis bonus for > 5 mitoses. It is computed at
:class:`~gistcad.domain.GenotypeDetail` resolution and summed to the four
:class:`~gistcad.domain.GenotypeClass` values and to "KIT-mutant" (exon 11, 9, 13/17; the
class ``wt_other`` holds KIT 13/17, so the KIT-mutant posterior is summed from details).
Age and sex (in DICOM headers) are not conditioned on: the oracle is the ceiling of an
image model.

High risk means **NIH 2002** (Fletcher 2002) high risk: ``p_high_risk`` integrates the
NIH class of the patient's size over the posterior of the mitotic band.

Its AUCs are the ceilings no model of the images can beat on average (``ceiling_aucs``).
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
from scipy.special import log_expit, logsumexp, ndtr
from scipy.stats import nbinom

from gistcad.analysis.performance import roc_auc
from gistcad.analysis.risk import classify_many
from gistcad.domain import GenotypeClass, GenotypeDetail, RiskClass, RiskScheme, genotype_class
from gistcad.errors import ValidationError
from gistcad.synth.clinical import (
    genotype_prior,
    mitosis_mean,
    site_codes,
    size_log_density,
    size_log_location,
)
from gistcad.synth.observation import (
    MEASUREMENT_COLUMNS,
    MEASUREMENTS,
    ObservationCalibration,
    features_and_covariates,
    log_likelihood,
)
from gistcad.synth.params import DEFAULT_PARAMS, DRAWN_GENOTYPES, CohortParams
from gistcad.synth.phenotype import (
    BINARY_PHENOTYPE,
    CONTINUOUS_PHENOTYPE,
    binary_base_logits,
    genotype_effects,
    latent_scales,
    to_latent,
)

logger = logging.getLogger(__name__)

#: Column of the posterior of each class.
CLASS_COLUMNS: dict[GenotypeClass, str] = {
    GenotypeClass.KIT11: "p_kit11",
    GenotypeClass.KIT9: "p_kit9",
    GenotypeClass.PDGFRA: "p_pdgfra",
    GenotypeClass.WT_OTHER: "p_wt_other",
}

#: The posterior columns of every reference.
POSTERIOR_COLUMNS: tuple[str, ...] = (*CLASS_COLUMNS.values(), "p_kit_mutant", "p_high_risk")

#: Task name → (score column, label column) of :func:`ceiling_aucs`.
TASKS: dict[str, tuple[str, str]] = {
    "kit11_vs_rest": ("p_kit11", "is_kit11"),
    "kit_mutant_vs_not": ("p_kit_mutant", "is_kit_mutant"),
    "pdgfra_vs_rest": ("p_pdgfra", "is_pdgfra"),
    "high_risk_vs_not": ("p_high_risk", "is_high_risk"),
}

_NEEDED = (
    "patient_index",
    "center",
    "hospital_id",
    "site",
    "sub_site",
    "size_cm",
    "genotype_detail",
    "mitotic_count",
    *CONTINUOUS_PHENOTYPE,
    *BINARY_PHENOTYPE,
)
#: Representative counts of the NIH mitotic bands ≤ 5, 6–10, > 10 per 50 HPF.
_BAND_COUNTS = (0.0, 8.0, 20.0)


def _validate(cohort: pd.DataFrame, signal: float) -> None:
    missing = [c for c in _NEEDED if c not in cohort.columns]
    if missing:
        raise ValidationError(
            f"the cohort lacks column(s) {missing}; pass the frame of draw_cohort"
        )
    if not 0.0 <= float(signal) <= 1.0:
        raise ValidationError(f"signal is {signal!r}; it must lie in [0, 1]")
    drawn_with = cohort.attrs.get("signal")
    if drawn_with is not None and not np.isclose(float(drawn_with), float(signal)):
        raise ValidationError(
            f"the cohort was drawn at signal {drawn_with} but the oracle was asked for "
            f"signal {signal}; the posterior is exact only under the generating signal"
        )


def _band_probabilities(mean: np.ndarray, dispersion: float) -> np.ndarray:
    """P(mitoses ≤ 5), P(6–10), P(> 10) of the negative binomial, shape (..., 3)."""
    p = dispersion / (dispersion + mean)
    low = nbinom.cdf(5, dispersion, p)
    high = nbinom.sf(10, dispersion, p)
    return np.stack([low, np.clip(1.0 - low - high, 0.0, 1.0), high], axis=-1)


def _clinical_log_joint(cohort: pd.DataFrame, signal: float, params: CohortParams) -> np.ndarray:
    """log P(g) P(size | site, sub-site, g) P(band | size, site), shape (n, G, 3)."""
    sites = site_codes(cohort["site"].to_numpy())
    size = cohort["size_cm"].to_numpy(dtype=float)
    sub_sites = cohort["sub_site"].to_numpy()
    with np.errstate(divide="ignore"):
        log_w = np.log(genotype_prior(sites, signal, params))
        bands = np.log(
            _band_probabilities(mitosis_mean(sites, size, params), params.tumour.mitosis_dispersion)
        )
    location = size_log_location(sites, sub_sites, signal, params)
    log_w = log_w + size_log_density(size, location, params)
    return log_w[:, :, None] + bands


def _phenotype_log_density(cohort: pd.DataFrame, signal: float, params: CohortParams) -> np.ndarray:
    """log p(latent phenotype | g, band, site, size), shape (n, G, 3)."""
    n = len(cohort)
    sites = site_codes(cohort["site"].to_numpy())
    size = cohort["size_cm"].to_numpy(dtype=float)
    log_w = np.zeros((n, len(DRAWN_GENOTYPES)))
    low = latent_scales(sites, size, np.zeros(n, dtype=bool), signal, params)
    high = latent_scales(sites, size, np.ones(n, dtype=bool), signal, params)
    for name in CONTINUOUS_PHENOTYPE:
        if name == "necrosis_fraction":
            continue
        z = to_latent(cohort[name].to_numpy(dtype=float), low[name])
        log_w = log_w - 0.5 * (z[:, None] - signal * genotype_effects(name, params)) ** 2
    base = binary_base_logits(sites, size, params)
    for name in BINARY_PHENOTYPE:
        eta = base[name][:, None] + signal * genotype_effects(name, params)
        sign = np.where(cohort[name].to_numpy(dtype=bool), 1.0, -1.0)[:, None]
        log_w = log_w + log_expit(sign * eta)
    necrosis = cohort["necrosis_fraction"].to_numpy(dtype=float)
    effect = signal * genotype_effects("necrosis_fraction", params)
    z_low = to_latent(necrosis, low["necrosis_fraction"])[:, None]
    z_high = to_latent(necrosis, high["necrosis_fraction"])[:, None]
    nec_low, nec_high = -0.5 * (z_low - effect) ** 2, -0.5 * (z_high - effect) ** 2
    necrosis_term = np.stack([nec_low, nec_high, nec_high], axis=-1)
    return log_w[:, :, None] + necrosis_term


def _log_joint(cohort: pd.DataFrame, signal: float, params: CohortParams) -> np.ndarray:
    """Unnormalised log P(g, band, x) of every patient, shape (n, G, 3)."""
    return _clinical_log_joint(cohort, signal, params) + _phenotype_log_density(
        cohort, signal, params
    )


def _summarise(log_joint: np.ndarray, cohort: pd.DataFrame) -> dict[str, np.ndarray]:
    """The posterior columns (:data:`POSTERIOR_COLUMNS`) of an unnormalised log P(g, band, ·)
    of shape (n, G, 3)."""
    posterior = np.exp(log_joint - logsumexp(log_joint, axis=(1, 2), keepdims=True))
    by_detail, by_band = posterior.sum(axis=2), posterior.sum(axis=1)
    sites = cohort["site"].to_numpy()
    size = cohort["size_cm"].to_numpy(dtype=float)
    high_in_band = np.stack(
        [
            classify_many(RiskScheme.NIH_2002, sites, size, np.full(len(size), count))[0]
            == RiskClass.HIGH
            for count in _BAND_COUNTS
        ],
        axis=1,
    )
    classes = [genotype_class(g) for g in DRAWN_GENOTYPES]
    kit = np.array([g.is_kit for g in DRAWN_GENOTYPES])
    return {
        **{
            column: by_detail[:, [c is cls for c in classes]].sum(axis=1)
            for cls, column in CLASS_COLUMNS.items()
        },
        "p_kit_mutant": by_detail[:, kit].sum(axis=1),
        "p_high_risk": (by_band * high_in_band).sum(axis=1),
    }


def oracle_posterior(
    cohort: pd.DataFrame, *, signal: float, params: CohortParams = DEFAULT_PARAMS
) -> pd.DataFrame:
    """Exact posterior of genotype class, KIT mutation and NIH 2002 high risk.

    Parameters
    ----------
    cohort
        A frame of :func:`~gistcad.synth.clinical.draw_cohort`.
    signal
        The signal the cohort was drawn with (checked against ``cohort.attrs`` if set).
    params
        The parameters the cohort was drawn with.

    Returns
    -------
    pandas.DataFrame
        ``patient_index``, ``center``, ``hospital_id``, ``p_kit11``, ``p_kit9``,
        ``p_pdgfra``, ``p_wt_other`` (summing to 1), ``p_kit_mutant``, ``p_high_risk``
        (NIH 2002), and the truth: ``genotype_class``, ``is_kit11``, ``is_kit_mutant``,
        ``is_pdgfra``, ``is_high_risk``.

    Raises
    ------
    ValidationError
        On missing columns, a signal outside [0, 1] or one that differs from the cohort's.
    """
    _validate(cohort, signal)
    signal = float(signal)
    sites = cohort["site"].to_numpy()
    size = cohort["size_cm"].to_numpy(dtype=float)
    classes = [genotype_class(g) for g in DRAWN_GENOTYPES]
    details = cohort["genotype_detail"].astype(str)
    true_class = details.map(
        {g.value: str(c) for g, c in zip(DRAWN_GENOTYPES, classes, strict=True)}
    )
    true_nih = classify_many(
        RiskScheme.NIH_2002, sites, size, cohort["mitotic_count"].to_numpy(dtype=float)
    )[0]
    frame = pd.DataFrame(
        {
            "patient_index": cohort["patient_index"].to_numpy(),
            "center": cohort["center"].to_numpy(),
            "hospital_id": cohort["hospital_id"].to_numpy(),
            **_summarise(_log_joint(cohort, signal, params), cohort),
            "genotype_class": true_class.to_numpy(dtype=object),
            "is_kit11": (true_class == GenotypeClass.KIT11.value).to_numpy(),
            "is_kit_mutant": details.isin(
                [g.value for g in DRAWN_GENOTYPES if g.is_kit]
            ).to_numpy(),
            "is_pdgfra": (true_class == GenotypeClass.PDGFRA.value).to_numpy(),
            "is_high_risk": true_nih == RiskClass.HIGH,
        }
    )
    logger.info("oracle posterior of %d patients at signal %.2f", len(frame), signal)
    return frame


def ceiling_aucs(oracle: pd.DataFrame) -> dict[str, float]:
    """Bayes-ceiling AUC of each task in :data:`TASKS` (NaN where a class is absent)."""
    return {
        task: roc_auc(oracle[score].to_numpy(), oracle[label].to_numpy().astype(int))
        for task, (score, label) in TASKS.items()
    }


def ceiling_aucs_by_center(oracle: pd.DataFrame) -> pd.DataFrame:
    """:func:`ceiling_aucs` per center: index ``center``, a column per task and ``n``."""
    rows = {
        center: {**ceiling_aucs(group), "n": len(group)}
        for center, group in oracle.groupby("center", sort=True)
    }
    return pd.DataFrame.from_dict(rows, orient="index").rename_axis("center")


#: The references of :func:`reference_posteriors`, each the posterior of genotype and risk
#: given what its name says (see the module doc).
REFERENCES: tuple[str, ...] = ("latent", "latent_with_age_sex", "observable", "clinical_oracle")


def reference_column(reference: str, column: str) -> str:
    """The column of ``reference``'s ``column`` (e.g. ``p_kit11``) in a references frame:
    the latent ceiling keeps the plain name, the others are prefixed by their name."""
    return column if reference == "latent" else f"{reference}_{column}"


def _demography_log_density(
    cohort: pd.DataFrame, signal: float, params: CohortParams
) -> np.ndarray:
    """log p(sex, age | g) of :func:`~gistcad.synth.clinical.draw_cohort`, shape (n, G)."""
    demo = params.demography
    male_p = np.array(
        [demo.male_share_by_genotype.get(g, demo.male_share) for g in DRAWN_GENOTYPES]
    )
    male_p = signal * male_p + (1.0 - signal) * demo.male_share
    male = (cohort["sex"].astype(str).str.lower() == "male").to_numpy()[:, None]
    log_sex = np.where(male, np.log(male_p), np.log1p(-male_p))
    sdh = np.array([g is GenotypeDetail.WT_SDH_DEFICIENT for g in DRAWN_GENOTYPES])
    mean = np.where(
        sdh,
        demo.age_mean_years + signal * (demo.sdh_age_mean_years - demo.age_mean_years),
        demo.age_mean_years,
    )
    sd, lo, hi = demo.age_sd_years, demo.age_min_years, demo.age_max_years
    age = cohort["age_years"].to_numpy(dtype=float)[:, None]
    mass = ndtr((hi - mean) / sd) - ndtr((lo - mean) / sd)
    log_age = -0.5 * ((age - mean) / sd) ** 2 - np.log(mass)
    return log_sex + log_age


def _observation_log_density(
    cohort: pd.DataFrame,
    measurements: pd.DataFrame,
    signal: float,
    params: CohortParams,
    calibration: ObservationCalibration,
) -> np.ndarray:
    """log p(measured features | g, band, site, size, scanner), shape (n, G, 3)."""
    missing = [c for c in MEASUREMENT_COLUMNS if c not in measurements.columns]
    if missing:
        raise ValidationError(
            f"the measurements lack column(s) {missing}; pass the frame the build measured"
        )
    rows = cohort[["patient_index"]].merge(
        measurements, on="patient_index", how="left", validate="one_to_one"
    )
    if rows["voxels"].isna().any():
        raise ValidationError(
            "some patients of the cohort have no measurements; measure every rendered tumour"
        )
    # a tumour whose mask is empty shows nothing: its phenotype stays unobserved (log 1 = 0)
    seen = rows["voxels"].to_numpy(dtype=float) > 0
    rows.loc[~seen, list(MEASUREMENTS)] = [60.0, 0.1, 20.0, 0.9]  # any values: ignored below
    n, genotypes = len(cohort), len(DRAWN_GENOTYPES)
    sites = site_codes(cohort["site"].to_numpy())
    size = cohort["size_cm"].to_numpy(dtype=float)
    low = latent_scales(sites, size, np.zeros(n, dtype=bool), signal, params)
    high = latent_scales(sites, size, np.ones(n, dtype=bool), signal, params)
    eta_mean = np.zeros((n, genotypes, 3, 4))
    for k, name in enumerate(CONTINUOUS_PHENOTYPE):
        effect = signal * low[name].scale * genotype_effects(name, params)  # (G,)
        for band, scales in enumerate((low, high, high)):
            eta_mean[:, :, band, k] = scales[name].location[:, None] + effect[None, :]
    eta_sd = np.array([low[name].scale for name in CONTINUOUS_PHENOTYPE])
    features, covariates = features_and_covariates(rows, size)
    log_like = log_likelihood(
        calibration,
        features,
        covariates,
        rows["voxels"].to_numpy(dtype=float),
        eta_mean.reshape(n, genotypes * 3, 4),
        eta_sd,
    )
    return np.where(seen[:, None, None], log_like.reshape(n, genotypes, 3), 0.0)


def reference_posteriors(
    cohort: pd.DataFrame,
    *,
    signal: float,
    measurements: pd.DataFrame | None = None,
    params: CohortParams = DEFAULT_PARAMS,
    calibration: ObservationCalibration | None = None,
) -> pd.DataFrame:
    """The posterior of every reference in :data:`REFERENCES`, beside the truth.

    ``latent``: given site, sub-site, size and the exact latent phenotype
    (:func:`oracle_posterior`); ``latent_with_age_sex``: the same and age and sex, which the
    clinical and image models read; ``observable``: given site, sub-site, size, age, sex and
    what the CT shows of the phenotype (``measurements`` of
    :func:`~gistcad.synth.observation.measure_tumour`, with the calibrated measurement error
    of ``calibration``, the shipped table by default; left out when ``measurements`` is None);
    ``clinical_oracle``: given site, sub-site, size, age and sex only.

    Returns
    -------
    pandas.DataFrame
        :func:`oracle_posterior`'s frame, and the :data:`POSTERIOR_COLUMNS` of each other
        reference named by :func:`reference_column`.
    """
    frame = oracle_posterior(cohort, signal=signal, params=params)
    missing = [c for c in ("sex", "age_years") if c not in cohort.columns]
    if missing:
        raise ValidationError(f"the cohort lacks column(s) {missing}; pass draw_cohort's frame")
    signal = float(signal)
    demography = _demography_log_density(cohort, signal, params)[:, :, None]
    clinical = _clinical_log_joint(cohort, signal, params) + demography
    parts = {
        "latent_with_age_sex": clinical + _phenotype_log_density(cohort, signal, params),
        "clinical_oracle": clinical,
    }
    if measurements is not None:
        table = calibration or ObservationCalibration.load()
        parts["observable"] = clinical + _observation_log_density(
            cohort, measurements, signal, params, table
        )
    for reference in REFERENCES[1:]:
        if reference in parts:
            for column, values in _summarise(parts[reference], cohort).items():
                frame[reference_column(reference, column)] = values
    return frame


def reference_aucs(frame: pd.DataFrame) -> dict[str, dict[str, float]]:
    """Per reference present in ``frame`` (:func:`reference_posteriors`), the AUC of each
    task of :data:`TASKS`."""
    return {
        reference: {
            task: roc_auc(
                frame[reference_column(reference, score)].to_numpy(),
                frame[label].to_numpy().astype(int),
            )
            for task, (score, label) in TASKS.items()
        }
        for reference in REFERENCES
        if reference_column(reference, "p_kit11") in frame.columns
    }

"""The true recurrence risk of each synthetic patient, and the C-index ceilings of RFS.

The generator's recurrence model (:mod:`gistcad.synth.survival_model`) is the cure model

    S(t) = (1 − p_afip · F(t))^m,   log m = clinical part + trait part,

with p_afip the AFIP 2006 probability of the patient's cell (size, site, mitoses), the
clinical part log(hazard_scale · m_genotype · m_rupture · m_sex · m_adjuvant) and the trait
part β·s·z − (β·s)²/2 of the planted prognostic trait (:mod:`gistcad.synth.prognostic_trait`).
:func:`recurrence_truth` gives, per patient, everything of that model (the oracle's survival
columns); :func:`rfs_ceilings` the Harrell's C of RFS that the true risk reaches, without and
with the trait: no imaging score may claim more than ``rfs_c_with_trait``, and an imaging
score adds prognosis beyond the clinical risk factors only in the gap above
``rfs_c_clinical``.

The risk that ranks patients is the log cumulative hazard of ever recurring,
log m + log(−log(1 − p_afip)) (:func:`lifetime_log_hazard`): P(ever recur) =
1 − (1 − p_afip)^m is increasing in it. (The timing F is common to all patients, but for the
months of adjuvant imatinib by which treated patients recur later, which it leaves out.)
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from gistcad.analysis.performance import concordance_index
from gistcad.errors import ValidationError
from gistcad.synth.params import DEFAULT_PARAMS, DRAWN_GENOTYPES, CohortParams
from gistcad.synth.prognostic_trait import log_hazard_multiplier
from gistcad.synth.survival_model import afip_recurrence_probability, recurrence_multiplier

logger = logging.getLogger(__name__)

#: The oracle's survival columns of :func:`recurrence_truth` (besides ``patient_index``).
RECURRENCE_TRUTH_COLUMNS: tuple[str, ...] = (
    "prognostic_trait_z",
    "afip_recurrence_probability",
    "clinical_linear_predictor",
    "true_linear_predictor",
)
#: The keys of :func:`rfs_ceilings` (and of ``ceiling.json``).
CEILING_KEYS: tuple[str, ...] = ("rfs_c_clinical", "rfs_c_with_trait")

_NEEDED = (
    "patient_index",
    "site",
    "size_cm",
    "mitotic_count",
    "rupture",
    "genotype_detail",
    "sex",
    "imatinib_months",
    "prognostic_trait_z",
)


def recurrence_truth(
    cohort: pd.DataFrame, *, signal: float, params: CohortParams = DEFAULT_PARAMS
) -> pd.DataFrame:
    """The true recurrence model of every patient of a drawn cohort.

    Parameters
    ----------
    cohort
        A frame of :func:`~gistcad.synth.clinical.draw_cohort`, n rows.
    signal
        The signal it was drawn with (checked against ``cohort.attrs`` if set).
    params
        The parameters it was drawn with.

    Returns
    -------
    pandas.DataFrame
        n rows: ``patient_index``; ``prognostic_trait_z`` (z, SD units);
        ``afip_recurrence_probability`` (p_afip, the cure model's baseline probability of
        ever recurring in the patient's AFIP cell, floored as the generator does);
        ``clinical_linear_predictor`` (log m without the trait: genotype, rupture, sex,
        adjuvant imatinib and the calibration scale) and ``true_linear_predictor`` (log m,
        the trait included: β·s·z − (β·s)²/2 added, β = ln 1.8 by default).

    Raises
    ------
    ValidationError
        On a missing column or a signal other than the cohort's.
    """
    missing = [c for c in _NEEDED if c not in cohort.columns]
    if missing:
        raise ValidationError(
            f"the cohort lacks column(s) {missing}; pass the frame of draw_cohort"
        )
    drawn_with = cohort.attrs.get("signal")
    if drawn_with is not None and not np.isclose(float(drawn_with), float(signal)):
        raise ValidationError(
            f"the cohort was drawn at signal {drawn_with} but its truth was asked for signal "
            f"{signal}; pass the signal of the build"
        )
    index = {g.value: k for k, g in enumerate(DRAWN_GENOTYPES)}
    genotypes = np.array([index[str(g)] for g in cohort["genotype_detail"]], dtype=np.int64)
    male = (cohort["sex"].astype(str).str.lower() == "male").to_numpy()
    clinical = np.log(
        recurrence_multiplier(
            genotypes,
            cohort["rupture"].to_numpy(dtype=bool),
            male,
            cohort["imatinib_months"].to_numpy(dtype=float),
            params,
        )
    )
    z = cohort["prognostic_trait_z"].to_numpy(dtype=float)
    p_afip = afip_recurrence_probability(
        cohort["site"].to_numpy(dtype=object),
        cohort["size_cm"].to_numpy(dtype=float),
        cohort["mitotic_count"].to_numpy(dtype=float),
        params.survival.afip_floor,
    )
    return pd.DataFrame(
        {
            "patient_index": cohort["patient_index"].to_numpy(),
            "prognostic_trait_z": z,
            "afip_recurrence_probability": p_afip,
            "clinical_linear_predictor": clinical,
            "true_linear_predictor": clinical + log_hazard_multiplier(z, signal, params),
        }
    )


def lifetime_log_hazard(linear_predictor: np.ndarray, p_afip: np.ndarray) -> np.ndarray:
    """log of the cumulative hazard of ever recurring, log m + log(−log(1 − p_afip)).

    Parameters
    ----------
    linear_predictor
        log m, shape (n,).
    p_afip
        The AFIP baseline probability of ever recurring, in (0, 1), shape (n,).

    Returns
    -------
    numpy.ndarray
        Shape (n,); P(ever recur) = 1 − exp(−exp(value)) = 1 − (1 − p_afip)^m.
    """
    return np.asarray(linear_predictor, dtype=float) + np.log(-np.log1p(-np.asarray(p_afip)))


def rfs_ceilings(cohort: pd.DataFrame, truth: pd.DataFrame) -> dict[str, dict[str, float]]:
    """Harrell's C of RFS of the true risk, without and with the trait, pooled and per center.

    Parameters
    ----------
    cohort
        ``patient_index``, ``center``, ``rfs_months`` and ``rfs_event`` of each patient.
    truth
        :func:`recurrence_truth` of the same patients (any row order).

    Returns
    -------
    dict
        ``rfs_c_clinical``: the C of :func:`lifetime_log_hazard` of the clinical linear
        predictor (the true model given size, site, mitoses, rupture, genotype, sex and
        adjuvant treatment alone); ``rfs_c_with_trait``: of the true linear predictor (the
        full true model). Each ``{"pooled": C, "<center>": C, ...}``; C is NaN where no
        pair is usable (Harrell 1982, :func:`~gistcad.analysis.performance.concordance_index`).
    """
    rows = cohort[["patient_index", "center", "rfs_months", "rfs_event"]].merge(
        truth, on="patient_index", how="left", validate="one_to_one"
    )
    if rows["true_linear_predictor"].isna().any():
        raise ValidationError("some patients of the cohort have no truth row; pass both frames")
    p_afip = rows["afip_recurrence_probability"].to_numpy(dtype=float)
    risks = {
        "rfs_c_clinical": lifetime_log_hazard(
            rows["clinical_linear_predictor"].to_numpy(dtype=float), p_afip
        ),
        "rfs_c_with_trait": lifetime_log_hazard(
            rows["true_linear_predictor"].to_numpy(dtype=float), p_afip
        ),
    }
    months = rows["rfs_months"].to_numpy(dtype=float)
    events = rows["rfs_event"].to_numpy(dtype=int)
    centers = rows["center"].astype(str).to_numpy()
    out: dict[str, dict[str, float]] = {}
    for key, risk in risks.items():
        by_center = {"pooled": concordance_index(risk, months, events)}
        for center in sorted(set(centers)):
            mine = centers == center
            by_center[center] = concordance_index(risk[mine], months[mine], events[mine])
        out[key] = by_center
    logger.info(
        "RFS C ceilings (pooled): clinical %.3f, with trait %.3f",
        out["rfs_c_clinical"]["pooled"],
        out["rfs_c_with_trait"]["pooled"],
    )
    return out

"""Follow-up CT under neoadjuvant imatinib: who is treated, how each lesion responds, when.

The cohort of :mod:`gistcad.synth.clinical` is a resected one. Some patients receive
neoadjuvant imatinib before their surgery, as large or awkwardly placed tumours do: the CT the
build has always written becomes their baseline, dated 12 months plus 4 weeks before
surgery, and three follow-up CTs come at 2, 6 and 12 months after the start of imatinib (the
last one 3 weeks before surgery). Everybody else keeps the single preoperative CT.

Who (drawn from its own child generator, so the baseline draws are untouched):
P(neoadjuvant) = 0.6 for tumours ≥ 10 cm, 0.4 for 5–10 cm tumours of the rectum,
oesophagus or duodenum, 0.03 otherwise [D]; imatinib 400 mg/day for all (the genotype is
rarely known before a neoadjuvant start).

How (effect sizes [D], after Demetri 2002, Heinrich 2003/2008, Choi 2007, Corless 2005,
Cassier 2012): each patient has a latent response score

    u = s·(μ[g] + β·trait) + (1 − s)·μ̄ + ε,   ε ~ N(0, 0.7²),

with s the ``signal``, μ[g] per genotype (:data:`GENOTYPE_RESPONSE`: KIT exon 11 +1.2,
KIT exon 9 +0.2 at 400 mg, KIT 13/17 +0.5, PDGFRA non-D842V +0.8, PDGFRA D842V −1.5,
wild-type −0.8 (NF1 and others), SDH-deficient −1.0), μ̄ = :data:`MEAN_RESPONSE`, β =
:data:`TRAIT_EFFECT` = 0.6 per SD of the trait. The **trait** is the latent z of the
baseline tumour's enhancement (:mod:`gistcad.synth.phenotype`), visible in the baseline CT:
brighter tumours respond better. At ``signal = 0`` u depends on neither genotype nor image.

From u (months m after the start), for the primary lesion:

- u ≥ 0 (response): log size ratio −0.5·tanh(u)·(1 − e^(−m/4)); density (the tumour's
  enhancement) ratio −0.45·tanh(u)·(1 − e^(−m)): at 2 months the density has fallen about
  twice as much as the size (the Choi pattern);
- u < 0 (progression): log size ratio +0.6·tanh(−u)·m/12; enhancement +5 %·tanh(−u);
- each timepoint adds measurement-free jitter: N(0, 0.03) on the log size and the density;
- progression may seed the liver: P(new liver lesion) = 0.8·Φ(−u − 0.5), first seen at 6
  months (or 12 with probability 1/2), 12–18 mm, growing 40 % by the next CT.

The truth (:data:`TRUTH_COLUMNS`, ``follow_up_truth.csv``, one row per patient, timepoint and
lesion) is measured on the rendered masks and HU with the assessment's own measurement,
:func:`gistcad.imaging.lesion_measures.longest_axial_diameter_mm` (the longest axial diameter
between voxel centres of the mask on any slice), and the mean HU inside the mask. Its RECIST
1.1 and Choi categories (:data:`CATEGORY_COLUMNS`, ``follow_up_categories.csv``, one row per
treated patient and follow-up CT, with the reason) are the rule functions of
:mod:`gistcad.analysis.response` applied to it by :func:`truth_categories` (one
implementation of the rules).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy.special import ndtr

from gistcad.analysis.response import (
    MEASURABLE_MM,
    LesionSize,
    TrackedLesion,
    Visit,
    choi,
    count_new_lesions,
    recist,
    select_targets,
)
from gistcad.domain import Drug, GenotypeDetail, LesionOrgan, LesionRole, Site
from gistcad.synth.clinical import site_codes
from gistcad.synth.params import DEFAULT_PARAMS, CohortParams
from gistcad.synth.phenotype import latent_scales, to_latent

#: Months after the start of imatinib of the follow-up CTs.
FOLLOW_UP_MONTHS: tuple[float, ...] = (2.0, 6.0, 12.0)
#: Days from the baseline CT to the start of imatinib.
BASELINE_TO_START_DAYS = 7
#: Days from the last follow-up CT to surgery (the old preoperative interval).
LAST_CT_TO_SURGERY_DAYS = 21
#: Days from stopping imatinib to surgery.
STOP_TO_SURGERY_DAYS = 7
DOSE_MG_PER_DAY = 400.0
DAYS_PER_MONTH = 365.25 / 12.0

#: Mean latent response μ[g] at signal 1 [D].
GENOTYPE_RESPONSE: dict[GenotypeDetail, float] = {
    GenotypeDetail.KIT11_DEL_557_558: 1.2,
    GenotypeDetail.KIT11_DEL_OTHER: 1.2,
    GenotypeDetail.KIT11_SUBSTITUTION: 1.2,
    GenotypeDetail.KIT11_DUPLICATION: 1.2,
    GenotypeDetail.KIT11_UNSPECIFIED: 1.2,
    GenotypeDetail.KIT9: 0.2,
    GenotypeDetail.KIT13_17: 0.5,
    GenotypeDetail.PDGFRA_D842V: -1.5,
    GenotypeDetail.PDGFRA_OTHER: 0.8,
    GenotypeDetail.WT_SDH_DEFICIENT: -1.0,
    GenotypeDetail.WT_NF1: -0.8,
    GenotypeDetail.WT_OTHER: -0.8,
    GenotypeDetail.UNKNOWN: 0.0,
}
#: The latent response of everybody at signal 0 (about the cohort's mean at signal 1).
MEAN_RESPONSE = 0.75
#: Effect of one SD of the baseline enhancement trait on the latent response, at signal 1.
TRAIT_EFFECT = 0.6
NOISE_SD = 0.7
JITTER_SD = 0.03
_AWKWARD_SITES = {Site.RECTUM.value, Site.OESOPHAGUS.value, Site.DUODENUM.value}

#: Columns of ``follow_up_truth.csv``, one row per patient, timepoint and lesion present.
TRUTH_COLUMNS: tuple[str, ...] = (
    "center",
    "hospital_id",
    "timepoint",
    "study_date",
    "days_from_start",
    "lesion",
    "organ",
    "role",
    "new_lesion",
    "longest_diameter_mm",
    "mean_hu",
    "trait",
    "response_score",
)


def organ_of_site(site: str) -> LesionOrgan:
    """The :class:`LesionOrgan` of a primary tumour's :class:`Site` (``other`` otherwise)."""
    return LesionOrgan(Site(str(site)).value)


@dataclass(frozen=True)
class LesionState:
    """One lesion at one timepoint, as the phantom renders it."""

    number: int
    organ: LesionOrgan
    new: bool
    size_cm: float  # largest 3-D diameter
    enhancement_hu: float
    offset_mm: tuple[float, float, float]  # liver lesions: offset from the liver's centre


@dataclass(frozen=True)
class TimepointPlan:
    """One CT of a treated patient: its number (0 = baseline), date and lesions."""

    number: int
    study_date: dt.date
    days_from_start: int
    lesions: tuple[LesionState, ...]


@dataclass(frozen=True)
class PatientPlan:
    """The follow-up of one treated patient."""

    patient_index: int
    hospital_id: str
    center: str
    start: dt.date
    stop: dt.date
    trait: float
    response_score: float
    timepoints: tuple[TimepointPlan, ...]

    @property
    def baseline_date(self) -> dt.date:
        return self.timepoints[0].study_date


def follow_up_rng(seed: int) -> np.random.Generator:
    """The follow-up's own stream: a child of the seed no baseline draw uses."""
    return np.random.default_rng(np.random.SeedSequence([seed, 2]))


def enhancement_trait(cohort: pd.DataFrame, params: CohortParams = DEFAULT_PARAMS) -> np.ndarray:
    """The latent z of each patient's tumour enhancement (what the baseline CT shows)."""
    signal = float(cohort.attrs.get("signal", 1.0))
    scales = latent_scales(
        site_codes(cohort["site"].to_numpy()),
        cohort["size_cm"].to_numpy(dtype=float),
        cohort["mitotic_count"].to_numpy() > 5,
        signal,
        params,
    )
    return to_latent(cohort["enhancement_hu"].to_numpy(dtype=float), scales["enhancement_hu"])


def neoadjuvant_probability(site: np.ndarray, size_cm: np.ndarray) -> np.ndarray:
    """P(neoadjuvant imatinib) by size and site (see the module docstring) [D]."""
    awkward = np.isin(site.astype(str), list(_AWKWARD_SITES))
    return np.where(size_cm >= 10.0, 0.6, np.where(awkward & (size_cm >= 5.0), 0.4, 0.03))


def response_scores(
    genotypes: np.ndarray, trait: np.ndarray, signal: float, noise: np.ndarray
) -> np.ndarray:
    """u = s·(μ[g] + β·trait) + (1 − s)·μ̄ + ε for genotype detail values ``genotypes``."""
    mu = np.array([GENOTYPE_RESPONSE[GenotypeDetail(str(g))] for g in genotypes], dtype=float)
    return signal * (mu + TRAIT_EFFECT * trait) + (1.0 - signal) * MEAN_RESPONSE + noise


def size_and_density(u: float, months: float) -> tuple[float, float]:
    """Designed log size ratio and relative enhancement change of the primary at ``months``."""
    if u >= 0:
        log_size = -0.5 * np.tanh(u) * (1.0 - np.exp(-months / 4.0))
        density = -0.45 * np.tanh(u) * (1.0 - np.exp(-months))
    else:
        log_size = 0.6 * np.tanh(-u) * months / 12.0
        density = 0.05 * np.tanh(-u) * min(months / 2.0, 1.0)
    return float(log_size), float(density)


def _patient_plan(
    record: dict[str, Any], trait: float, u: float, rng: np.random.Generator
) -> PatientPlan:
    surgery = pd.Timestamp(record["surgery_date"]).date()
    last_ct = surgery - dt.timedelta(days=LAST_CT_TO_SURGERY_DAYS)
    start = last_ct - dt.timedelta(days=round(FOLLOW_UP_MONTHS[-1] * DAYS_PER_MONTH))
    size0, enh0 = float(record["size_cm"]), float(record["enhancement_hu"])
    primary = LesionState(1, organ_of_site(record["site"]), False, size0, enh0, (0.0, 0.0, 0.0))
    baseline = TimepointPlan(
        0, start - dt.timedelta(days=BASELINE_TO_START_DAYS), -BASELINE_TO_START_DAYS, (primary,)
    )
    p_new = 0.8 * float(ndtr(-u - 0.5)) if u < 0 else 0.0
    new_at = (6.0 if rng.random() < 0.5 else 12.0) if rng.random() < p_new else None
    new_size = float(rng.uniform(1.2, 1.8))
    ox, oy, oz = (float(v) for v in rng.uniform(-20.0, 20.0, size=3))
    offset = (ox, oy, oz)
    jitter = rng.normal(0.0, JITTER_SD, size=(len(FOLLOW_UP_MONTHS), 2))
    timepoints = [baseline]
    for k, months in enumerate(FOLLOW_UP_MONTHS, start=1):
        log_size, density = size_and_density(u, months)
        days = round(months * DAYS_PER_MONTH)
        lesions = [
            LesionState(
                1,
                primary.organ,
                False,
                float(np.clip(size0 * np.exp(log_size + jitter[k - 1, 0]), 0.3, 45.0)),
                enh0 * (1.0 + density + jitter[k - 1, 1]),
                (0.0, 0.0, 0.0),
            )
        ]
        if new_at is not None and months >= new_at:
            grown = new_size * (1.4 if months > new_at else 1.0)
            lesions.append(LesionState(2, LesionOrgan.LIVER, True, grown, 45.0, offset))
        timepoints.append(TimepointPlan(k, start + dt.timedelta(days=days), days, tuple(lesions)))
    return PatientPlan(
        patient_index=int(record["patient_index"]),
        hospital_id=str(record["hospital_id"]),
        center=str(record["center"]),
        start=start,
        stop=surgery - dt.timedelta(days=STOP_TO_SURGERY_DAYS),
        trait=trait,
        response_score=u,
        timepoints=tuple(timepoints),
    )


def plan_follow_up(
    cohort: pd.DataFrame,
    *,
    rng: np.random.Generator,
    params: CohortParams = DEFAULT_PARAMS,
    treat_everyone: bool = False,
) -> dict[int, PatientPlan]:
    """Who receives neoadjuvant imatinib and how each lesion evolves; by patient index.

    Parameters
    ----------
    cohort
        A frame of :func:`~gistcad.synth.clinical.draw_cohort` (its ``attrs["signal"]`` is
        the signal of the response model too).
    rng
        The follow-up's own stream (:func:`follow_up_rng`): the same seed gives the same plan.
    treat_everyone
        For tests: every patient is treated (the draws are the same, so a treated patient's
        plan is the one the ordinary draw would give), so that a tiny cohort has follow-up.

    Returns
    -------
    dict
        :class:`PatientPlan` of each treated patient, keyed by ``patient_index``.
    """
    signal = float(cohort.attrs.get("signal", 1.0))
    n = len(cohort)
    treated = rng.random(n) < neoadjuvant_probability(
        cohort["site"].to_numpy(), cohort["size_cm"].to_numpy(dtype=float)
    )
    if treat_everyone:
        treated[:] = True
    trait = enhancement_trait(cohort, params)
    u = response_scores(
        cohort["genotype_detail"].to_numpy(), trait, signal, rng.normal(0.0, NOISE_SD, size=n)
    )
    streams = rng.spawn(n)
    records = cohort.to_dict(orient="records")
    return {
        int(records[i]["patient_index"]): _patient_plan(
            records[i], float(trait[i]), float(u[i]), streams[i]
        )
        for i in np.flatnonzero(treated)
    }


def plan_frame(plans: dict[int, PatientPlan]) -> pd.DataFrame:
    """The plans as rows (patient, timepoint, lesion): designed sizes and enhancements."""
    rows = [
        {
            "patient_index": plan.patient_index,
            "hospital_id": plan.hospital_id,
            "timepoint": tp.number,
            "days_from_start": tp.days_from_start,
            "lesion": lesion.number,
            "organ": lesion.organ.value,
            "new_lesion": lesion.new,
            "size_cm": lesion.size_cm,
            "enhancement_hu": lesion.enhancement_hu,
            "trait": plan.trait,
            "response_score": plan.response_score,
        }
        for plan in plans.values()
        for tp in plan.timepoints
        for lesion in tp.lesions
    ]
    return pd.DataFrame(rows)


def treatment_lines(plans: dict[int, PatientPlan]) -> pd.DataFrame:
    """The treatment-line sheet of the treated patients (what a center sends)."""
    return pd.DataFrame(
        [
            {
                "hospital_id": plan.hospital_id,
                "line": 1,
                "drug": Drug.IMATINIB.value,
                "dose_mg_per_day": DOSE_MG_PER_DAY,
                "start_date": plan.start.isoformat(),
                "stop_date": plan.stop.isoformat(),
                "stop_reason": "surgery",
            }
            for plan in sorted(plans.values(), key=lambda p: p.patient_index)
        ],
        columns=[
            "hospital_id",
            "line",
            "drug",
            "dose_mg_per_day",
            "start_date",
            "stop_date",
            "stop_reason",
        ],
    )


def lesion_role(lesion: LesionState, longest_diameter_mm: float) -> LesionRole:
    """The role the response assessment gives the lesion: ``new`` after baseline; else, the
    primary being the only baseline lesion, ``target`` when measurable (RECIST 1.1: ≥ 10 mm;
    the importers store it ``non_target`` until the assessment chooses), else non-target."""
    if lesion.new:
        return LesionRole.NEW
    return LesionRole.TARGET if longest_diameter_mm >= MEASURABLE_MM else LesionRole.NON_TARGET


#: Columns of ``follow_up_categories.csv``, one row per treated patient and follow-up CT.
CATEGORY_COLUMNS: tuple[str, ...] = (
    "center",
    "hospital_id",
    "timepoint",
    "days_from_start",
    "recist_category",
    "recist_reason",
    "choi_category",
    "choi_reason",
)


def _lesion_size(row: Any) -> LesionSize:
    hu = float(row.mean_hu)
    return LesionSize(float(row.longest_diameter_mm), None, None if np.isnan(hu) else hu)


def _patient_categories(rows: pd.DataFrame) -> list[dict[str, Any]]:
    """RECIST and Choi of one patient's truth rows (every timepoint, every lesion present)."""
    first_seen = rows.groupby("lesion")["timepoint"].min()
    organs = {
        int(n): LesionOrgan(str(o)) for n, o in rows.groupby("lesion")["organ"].first().items()
    }
    new = {int(n) for n, t in first_seen.items() if t > 0} | {
        int(n) for n in rows.loc[rows["new_lesion"].astype(bool), "lesion"]
    }
    measured = [
        Visit(int(number), {int(r.lesion): _lesion_size(r) for r in at.itertuples()})
        for number, at in rows.groupby("timepoint", sort=True)
    ]
    candidates = [
        TrackedLesion(n, organ, LesionRole.NON_TARGET, organ is LesionOrgan.LYMPH_NODE)
        for n, organ in organs.items()
        if n not in new
    ]
    targets = set(select_targets(candidates, measured[0]))
    lesions = [
        TrackedLesion(
            n,
            organ,
            LesionRole.NEW
            if n in new
            else (LesionRole.TARGET if n in targets else LesionRole.NON_TARGET),
            organ is LesionOrgan.LYMPH_NODE,
        )
        for n, organ in organs.items()
    ]
    seen = {int(n): int(t) for n, t in first_seen.items()}
    visits = count_new_lesions(lesions, measured, seen)
    days = rows.groupby("timepoint")["days_from_start"].first()
    first = rows.iloc[0]
    return [
        {
            "center": first["center"],
            "hospital_id": first["hospital_id"],
            "timepoint": by_recist.visit,
            "days_from_start": int(days[by_recist.visit]),
            "recist_category": by_recist.category.value,
            "recist_reason": by_recist.reason,
            "choi_category": by_choi.category.value,
            "choi_reason": by_choi.reason,
        }
        for by_recist, by_choi in zip(recist(lesions, visits), choi(lesions, visits), strict=True)
    ]


def truth_categories(truth: pd.DataFrame) -> pd.DataFrame:
    """RECIST 1.1 and Choi categories of the truth measurements, per patient and timepoint.

    This is the one place where the generator's truth meets the response rules; the rules
    themselves are :mod:`gistcad.analysis.response` (never re-implemented here), applied as
    the follow-up assessment applies them (:mod:`gistcad.followup.evaluation`): a lesion first
    seen after the baseline is new (a RECIST and Choi progression from then on), the targets
    are chosen at baseline by :func:`~gistcad.analysis.response.select_targets`, the size of a
    lesion is its ``longest_diameter_mm`` and its density its ``mean_hu`` (an empty mask:
    0 mm, no density).

    Parameters
    ----------
    truth
        Rows of ``follow_up_truth.csv`` (:data:`TRUTH_COLUMNS`; ``lesion``, ``timepoint``,
        ``organ``, ``new_lesion``, ``longest_diameter_mm``, ``mean_hu`` at least).

    Returns
    -------
    pandas.DataFrame
        :data:`CATEGORY_COLUMNS`: one row per patient (center, hospital id) and follow-up
        timepoint, with the category values of :class:`~gistcad.domain.ResponseCategory`
        and the reasons as the rules word them.
    """
    rows: list[dict[str, Any]] = []
    frame = truth.assign(hospital_id=truth["hospital_id"].astype(str))
    for _, patient in frame.groupby(["center", "hospital_id"], sort=True):
        rows += _patient_categories(patient)
    return pd.DataFrame(rows, columns=list(CATEGORY_COLUMNS))


#: Columns of ``follow_up_posterior.csv``: one row per patient of the cohort.
POSTERIOR_COLUMNS: tuple[str, ...] = ("center", "hospital_id", "p_choi_pr_fu1", "p_progression_6m")
#: Draws of the noise and jitter over which :func:`response_posterior` averages.
POSTERIOR_DRAWS = 4000
#: Months of the first follow-up CT and of the one nearest 6 months.
_FIRST, _SIX = FOLLOW_UP_MONTHS[0], 6.0


def _designed(u: np.ndarray, months: float) -> tuple[np.ndarray, np.ndarray]:
    """:func:`size_and_density` for an array of latent scores."""
    t = np.tanh(np.abs(u))
    responds = u >= 0
    log_size = np.where(responds, -0.5 * t * (1.0 - np.exp(-months / 4.0)), 0.6 * t * months / 12.0)
    density = np.where(
        responds, -0.45 * t * (1.0 - np.exp(-months)), 0.05 * t * min(months / 2.0, 1.0)
    )
    return log_size, density


def response_posterior(
    cohort: pd.DataFrame, params: CohortParams = DEFAULT_PARAMS, draws: int = POSTERIOR_DRAWS
) -> pd.DataFrame:
    """The generator's ceiling of the response targets: each outcome's probability given what
    is known before treatment (the genotype and the baseline enhancement trait).

    Per patient (as if treated), averaged over draws of what is not known then — the noise ε
    of the latent response, the jitter of each CT and whether a liver lesion appears — with
    the designed size and density of :func:`size_and_density`:

    - ``p_choi_pr_fu1``: a Choi response at the first follow-up CT (2 months): size down
      ≥ 10 % or density down ≥ 15 % (no new lesion appears before 6 months);
    - ``p_progression_6m``: a RECIST 1.1 progression by the CT at 6 months: the size ≥ 20 %
      above the nadir at 2 or 6 months, or a new liver lesion seen at 6 months.

    The same draws serve every patient (common random numbers), so that at ``signal = 0``,
    where the latent response depends on neither genotype nor image, the posterior is one
    value for everybody and its AUC exactly 0.5. It is a model of the outcome, not the
    outcome's rendering: it leaves out the measurement on the mask (longest axial diameter,
    mean HU) and RECIST's 5 mm absolute increase (the treated tumours are large), so it is
    the ceiling up to that approximation.

    Returns
    -------
    pandas.DataFrame
        :data:`POSTERIOR_COLUMNS`, in the cohort's order.
    """
    signal = float(cohort.attrs.get("signal", 1.0))
    trait = enhancement_trait(cohort, params)
    rng = np.random.default_rng(np.random.SeedSequence([0, 7]))
    eps = rng.normal(0.0, NOISE_SD, size=draws)
    jitter = rng.normal(0.0, JITTER_SD, size=(4, draws))
    new_u = rng.random(size=(2, draws))
    known = response_scores(
        cohort["genotype_detail"].to_numpy(), trait, signal, np.zeros(len(trait))
    )
    u = known[:, None] + eps[None, :]
    size1, density1 = _designed(u, _FIRST)
    size1 = size1 + jitter[0]
    choi = (np.exp(size1) <= 0.9) | (density1 + jitter[1] <= -0.15)
    size6 = _designed(u, _SIX)[0] + jitter[2]
    nadir = np.minimum(0.0, size1)
    grown = (np.exp(size1) >= 1.2) | (np.exp(size6 - nadir) >= 1.2)
    p_new = np.where(u < 0, 0.8 * ndtr(-u - 0.5), 0.0)
    new_by_six = (new_u[0] < p_new) & (new_u[1] < 0.5)
    return pd.DataFrame(
        {
            "center": cohort["center"].to_numpy(),
            "hospital_id": cohort["hospital_id"].astype(str).to_numpy(),
            "p_choi_pr_fu1": choi.mean(axis=1),
            "p_progression_6m": (grown | new_by_six).mean(axis=1),
        },
        columns=list(POSTERIOR_COLUMNS),
    )

"""Default parameters of the synthetic GIST cohort, each with its source.

Every number below carries the tag of ``gist_facts.md`` (the project's reference page on
GIST facts; it is not read at run time): **[V]** checked against the source text,
**[V-abs]** against the abstract, **[V-sec]** in a secondary source, **[M]** from memory,
not checked, **[D]** derived here or an engineering choice. Section numbers (§) refer to
that page.

The parameters are frozen dataclasses grouped by the part of the model they drive;
:data:`DEFAULT_PARAMS` is the cohort the demo, the tests and the benchmarks use. Change a
part with :func:`dataclasses.replace`, e.g. natural history without adjuvant therapy::

    replace(DEFAULT_PARAMS, treatment=replace(DEFAULT_PARAMS.treatment, uptake_after=0.0,
                                              uptake_before=0.0))
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from gistcad.domain import GenotypeDetail as G
from gistcad.domain import GenotypeGroup, Site

# --- site -----------------------------------------------------------------------------------

#: §1.2 generator default [D] (AJCC/PDQ, Søreide 2016, MolecGIST, SEER [V-sec]/[V-abs]):
#: stomach 0.58, small bowel 0.30 (jejunum/ileum 0.25 + duodenum 0.05), colorectum 0.05
#: (rectum 0.04), oesophagus 0.01, other/EGIST 0.06.
# fmt: off
SITE_SHARES: Mapping[Site, float] = MappingProxyType({
    Site.STOMACH: 0.58, Site.DUODENUM: 0.05, Site.JEJUNUM_ILEUM: 0.25, Site.COLON: 0.01,
    Site.RECTUM: 0.04, Site.OESOPHAGUS: 0.01, Site.OTHER: 0.06,
})
# fmt: on

#: Sub-sites within a site [D]; drawn independently of genotype given the site, so the
#: oracle gains nothing from them beyond the size multiplier below.
SUB_SITE_SHARES: Mapping[Site, Mapping[str, float]] = MappingProxyType(
    {
        Site.STOMACH: {"fundus": 0.25, "body": 0.50, "antrum": 0.25},
        Site.DUODENUM: {"duodenum": 1.0},
        Site.JEJUNUM_ILEUM: {"jejunum": 0.55, "ileum": 0.45},
        Site.COLON: {"colon": 1.0},
        Site.RECTUM: {"rectum": 1.0},
        Site.OESOPHAGUS: {"oesophagus": 1.0},
        Site.OTHER: {"mesentery": 0.40, "omentum": 0.35, "egist": 0.25},
    }
)

# --- genotype given site --------------------------------------------------------------------


# fmt: off
def _column(kit11: float, del557: float, dup: float, kit9: float, kit13_17: float,
            d842v: float, pdgfra_other: float, sdh: float, nf1: float,
            wt_other: float) -> dict[G, float]:
# fmt: on
    """One §2.2 column at GenotypeDetail resolution.

    The exon-11 mass not in 557/558 deletions is split [D] into other deletions 40 %,
    duplications/insertions ``dup`` and substitutions the rest: a Ther Adv Med Oncol series
    (§5.2 item 5, [V-sec]) had 37.5 % del 557/558, 27 % other deletions and 35 % without a
    deletion among 96 exon-11 GISTs; Joensuu 2015 (§5.2, [V-abs]) found 35 duplications
    among ~1,500 genotyped GISTs, and duplications are gastric-enriched (§2.2, [V-sec]).
    """
    rest = kit11 * (1.0 - del557)
    return {
        G.KIT11_DEL_557_558: kit11 * del557,
        G.KIT11_DEL_OTHER: 0.40 * rest,
        G.KIT11_DUPLICATION: dup * rest,
        G.KIT11_SUBSTITUTION: (0.60 - dup) * rest,
        G.KIT9: kit9,
        G.KIT13_17: kit13_17,
        G.PDGFRA_D842V: d842v,
        G.PDGFRA_OTHER: pdgfra_other,
        G.WT_SDH_DEFICIENT: sdh,
        G.WT_NF1: nf1,
        G.WT_OTHER: wt_other,
    }


# §2.2 derived table [D]: per column KIT11, del-557/558 fraction of exon 11, exon 9, 13/17,
# D842V, PDGFRA other, SDH-deficient, WT other. The WT-other mass is split into NF1 [D:
# NF1 GISTs are small-bowel, §2.1 [V-sec]] and other wild type. Oesophagus uses the
# colorectal column [D: oesophageal GISTs are mostly KIT exon 11, PDGFRA is gastric].
_GASTRIC = _column(0.64, 0.30, 0.15, 0.015, 0.015, 0.12, 0.05, 0.075, 0.005, 0.080)
_SMALL_BOWEL = _column(0.68, 0.35, 0.08, 0.22, 0.02, 0.005, 0.005, 0.0, 0.030, 0.040)
_COLORECTAL = _column(0.80, 0.35, 0.08, 0.08, 0.02, 0.005, 0.005, 0.0, 0.010, 0.080)
_OTHER = _column(0.65, 0.30, 0.08, 0.05, 0.02, 0.08, 0.02, 0.0, 0.010, 0.170)

#: P(genotype detail | site) at signal 1 (§2.2 [D]); each row sums to 1.
# fmt: off
GENOTYPE_BY_SITE: Mapping[Site, Mapping[G, float]] = MappingProxyType({
    Site.STOMACH: _GASTRIC, Site.DUODENUM: _SMALL_BOWEL, Site.JEJUNUM_ILEUM: _SMALL_BOWEL,
    Site.COLON: _COLORECTAL, Site.RECTUM: _COLORECTAL, Site.OESOPHAGUS: _COLORECTAL,
    Site.OTHER: _OTHER,
})
# fmt: on

#: The genotype details the generator draws (never ``KIT11_UNSPECIFIED`` or ``UNKNOWN``).
DRAWN_GENOTYPES: tuple[G, ...] = tuple(_GASTRIC)

#: Genotypes given adjuvant imatinib when high risk: all KIT and PDGFRA other than D842V
#: (§5.3 [V-sec]: D842V, SDH-deficient and NF1 GIST are imatinib-resistant; Onkopedia 2024
#: counts all wild type as imatinib-resistant).
IMATINIB_SENSITIVE: frozenset[G] = frozenset(
    {g for g in G if g.is_kit and g is not G.KIT11_UNSPECIFIED} | {G.PDGFRA_OTHER}
)


def _by_genotype(default: float, **values: float) -> Mapping[G, float]:
    """A value for every drawn genotype: ``default`` unless named (by enum member name)."""
    table = {g: default for g in DRAWN_GENOTYPES}
    table.update({G[name]: value for name, value in values.items()})
    return MappingProxyType(table)


def _by_site(default: float, **values: float) -> Mapping[Site, float]:
    """A value for every site: ``default`` unless named (by enum member name)."""
    table = {site: default for site in Site}
    table.update({Site[name]: value for name, value in values.items()})
    return MappingProxyType(table)


def _histology(g: G) -> tuple[float, float, float]:
    """P(spindle, epithelioid, mixed) of a genotype [D] (see ``TumourParams.histology``)."""
    if g.group is GenotypeGroup.PDGFRA:
        return (0.30, 0.40, 0.30)
    if g is G.WT_SDH_DEFICIENT:
        return (0.20, 0.50, 0.30)
    return (0.60, 0.20, 0.20) if g is G.WT_OTHER else (0.75, 0.08, 0.17)


# --- demography -----------------------------------------------------------------------------


@dataclass(frozen=True)
class DemographyParams:
    """Age and sex at surgery.

    Attributes
    ----------
    age_mean_years, age_sd_years, age_min_years, age_max_years
        Normal(63, 12) truncated to 18–95 years (§9 [D]; median age 62–69, §1.1 [V-abs]).
    sdh_age_mean_years
        Mean age of SDH-deficient GIST, 35 years (§9 [D]; young, §2.1 [V-abs]). Mixed
        towards ``age_mean_years`` by ``signal``, since DICOM headers show age.
    male_share
        0.52 (§9 [D]; SEER 47.3 % female, §1.1 [V-abs]).
    male_share_by_genotype
        Genotypes whose share of men differs: SDH-deficient 1/3 (female ≥ 2:1, §2.1
        [V-abs]), KIT exon 11 duplication 0.40 ("often female", §2.2 [V-sec]; 0.40 [D]).
        Mixed with ``male_share`` by ``signal``.
    """

    age_mean_years: float = 63.0
    age_sd_years: float = 12.0
    age_min_years: float = 18.0
    age_max_years: float = 95.0
    sdh_age_mean_years: float = 35.0
    male_share: float = 0.52
    male_share_by_genotype: Mapping[G, float] = field(
        default_factory=lambda: MappingProxyType(
            {G.WT_SDH_DEFICIENT: 1.0 / 3.0, G.KIT11_DUPLICATION: 0.40}
        )
    )


# --- tumour ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class TumourParams:
    """Size, mitotic count, rupture and histology.

    Attributes
    ----------
    size_median_cm
        Log-normal median diameter by site: gastric 5.3 cm (so that the drawn gastric median
        is 5.0 cm with PDGFRA's ×0.8), small bowel 6.5 cm (§9 [D]; §1.3), colon 5.5, rectum
        4 (exon-9 rectal 3.9 ± 2.1 cm, §1.3 [V-abs]), oesophagus 4, other/EGIST 8 cm [D].
    size_sub_site_multiplier
        Jejunum 0.93, ileum 1.1 (mean 8.1 vs 9.8 cm, §1.3 [V-abs]; multipliers [D]).
    size_sigma_log, size_min_cm, size_max_cm
        σ of log diameter 0.7, truncated to 0.5–40 cm (§1.3 [D]).
    size_multiplier
        Exon 9 ×1.3, PDGFRA and exon-11 duplication ×0.8 (§9 [D]); raised to ``signal``.
    mitosis_log_mean, mitosis_size_slope, mitosis_dispersion
        Negative binomial count per 50 HPF with mean exp(log_mean[site] + slope·ln(size/5))
        × multiplier[g] and gamma shape ``dispersion`` 0.9; tuned [D] to P(> 5) = 0.25
        gastric and 0.46 small bowel (§9 [D] targets 0.25 and 0.45), 33 % > 5 and 18 %
        > 10 overall (§1.4 [D]: 30–35 % and 15–20 %), NIH high risk 37 % (§1.4: 40–44 %).
    mitosis_multiplier
        Mean multipliers tuned [D] so that, among gastric tumours, the odds of > 5 mitoses
        are ×0.35 for PDGFRA and ×1.5 for del 557/558 against other exon-11 deletions (§9
        [D]: ×0.4 and ×1.5; size differences included); exon 9 higher (§2.2 [V-abs]),
        duplications and NF1 indolent (§5.2 [V-abs]) [D magnitudes].
    rupture_logit, rupture_size_slope, rupture_small_bowel
        logit P(rupture) = logit + slope·ln(size/5) + small_bowel: 3.0 % overall (3.2 %,
        §1.1 [V-abs]), higher for large and small-bowel tumours (§9 [D]).
    histology
        P(spindle, epithelioid, mixed) by genotype: PDGFRA 18/20 epithelioid or mixed
        (§2.2 [V-abs]), SDH-deficient epithelioid (§2.1 [V-abs]); shares [D].
    """

    # fmt: off
    size_median_cm: Mapping[Site, float] = field(default_factory=lambda: _by_site(
        6.5, STOMACH=5.3, COLON=5.5, RECTUM=4.0, OESOPHAGUS=4.0, OTHER=8.0))
    size_sub_site_multiplier: Mapping[str, float] = field(
        default_factory=lambda: MappingProxyType({"jejunum": 0.93, "ileum": 1.10}))
    size_sigma_log: float = 0.7
    size_min_cm: float = 0.5
    size_max_cm: float = 40.0
    size_multiplier: Mapping[G, float] = field(default_factory=lambda: _by_genotype(
        1.0, KIT9=1.3, PDGFRA_D842V=0.8, PDGFRA_OTHER=0.8, KIT11_DUPLICATION=0.8))
    mitosis_log_mean: Mapping[Site, float] = field(default_factory=lambda: _by_site(
        1.65, STOMACH=1.3, OESOPHAGUS=1.45))
    mitosis_size_slope: float = 0.9
    mitosis_dispersion: float = 0.9
    mitosis_multiplier: Mapping[G, float] = field(default_factory=lambda: _by_genotype(
        1.0, KIT11_DEL_557_558=1.45, KIT11_DUPLICATION=0.6, KIT9=1.3, PDGFRA_D842V=0.6,
        PDGFRA_OTHER=0.6, WT_NF1=0.6))
    rupture_logit: float = -4.05
    rupture_size_slope: float = 1.0
    rupture_small_bowel: float = 0.6
    histology: Mapping[G, tuple[float, float, float]] = field(default_factory=lambda: (
        MappingProxyType({g: _histology(g) for g in DRAWN_GENOTYPES})))
    # fmt: on


# --- imaging phenotype ----------------------------------------------------------------------


@dataclass(frozen=True)
class PhenotypeParams:
    """The latent imaging phenotype: what CT shows of the tumour besides site and size.

    Each continuous variable is a monotone map of a latent z ~ N(effect[g]·signal, 1); the
    binary ones are Bernoulli with logit = base + effect[g]·signal. Effects are in SD of z
    (continuous) or logits (binary), relative to KIT exon 11 (0). They follow the
    correlations of §2.2 and §6.1 [D]: exon 9 higher enhancement and more necrosis (§6.1
    [V-abs]); PDGFRA lower, heterogeneous enhancement, exophytic, cystic (§6.1 [M]);
    SDH-deficient multinodular (lobulated) gastric tumours (§2.1 [V-abs]); NF1 multiple
    small-bowel tumours (§2.1 [V-sec]). Magnitudes are [D], tuned so that the Bayes ceiling
    AUC of KIT exon 11 vs rest is 0.80 at signal 1 (band 0.75–0.85; 0.64 at signal 0.5),
    well above the 0.56–0.81 published for real models (§6.2), as a ceiling must be.

    Attributes
    ----------
    enhancement_mean_hu, enhancement_sd_hu
        Solid-part portal-venous enhancement N(60, 12) HU at 120 kVp (§8 [D]; 51.8 ± 9.2 HU
        Lee 2004, 72.8 HU Choi 2007 [V-abs]).
    enhancement_site_offset_hu
        Duodenum −4, jejunum/ileum +4 HU (enhancement rises from duodenum to ileum, §6.1
        [V-abs]; magnitude [D]).
    heterogeneity_logit, heterogeneity_size_slope
        heterogeneity = logistic(logit + slope·ln(size/5) + z): tumours > 5 cm are
        heterogeneous, small ones homogeneous (§6.1 [V-sec]).
    necrosis_max, necrosis_logit, necrosis_size_slope
        necrosis = max·logistic(logit + slope·ln(size/10) + bonuses + z), max 0.8: median
        0.01 at ≤ 3 cm, 0.16 at 5–10 cm, 0.41 at 10–15 cm (§8 [D]: ≈ 0 below 3 cm,
        ≈ 0.3–0.5 above 10 cm).
    necrosis_small_bowel, necrosis_high_mitoses
        Logit bonuses for small bowel and for > 5 mitoses/50 HPF (§8 [D]); the mitotic one
        is scaled by ``signal`` because mitoses depend on genotype.
    lobulation_logit, lobulation_size_slope
        lobulation = logistic(logit + slope·ln(size/5) + z) (§6.1 [V-sec]: lobulated
        contours go with higher risk, i.e. larger tumours).
    exophytic_logit, exophytic_size_slope
        Base logit by site and size slope [D].
    calcification_logit, calcification_size_slope
        Base logit −3.4 and size slope: 4 % (§8 [D]: 3–5 %); a regressive change (§6.1 [M]).
    effect_enhancement, effect_heterogeneity, effect_necrosis, effect_lobulation
        z shifts by genotype [D].
    effect_exophytic, effect_calcification
        Logit shifts by genotype [D].
    """

    # fmt: off
    enhancement_mean_hu: float = 60.0
    enhancement_sd_hu: float = 12.0
    enhancement_site_offset_hu: Mapping[Site, float] = field(default_factory=lambda: _by_site(
        0.0, DUODENUM=-4.0, JEJUNUM_ILEUM=4.0))
    heterogeneity_logit: float = -0.5
    heterogeneity_size_slope: float = 1.2
    necrosis_max: float = 0.8
    necrosis_logit: float = -1.0
    necrosis_size_slope: float = 2.5
    necrosis_small_bowel: float = 0.4
    necrosis_high_mitoses: float = 0.5
    lobulation_logit: float = -0.8
    lobulation_size_slope: float = 0.9
    exophytic_logit: Mapping[Site, float] = field(default_factory=lambda: _by_site(
        0.0, DUODENUM=-0.5, JEJUNUM_ILEUM=0.4, COLON=-0.3, RECTUM=-0.8, OESOPHAGUS=-1.5,
        OTHER=0.5))
    exophytic_size_slope: float = 0.3
    calcification_logit: float = -3.4
    calcification_size_slope: float = 0.5
    effect_enhancement: Mapping[G, float] = field(default_factory=lambda: _by_genotype(
        0.0, KIT9=0.9, KIT13_17=0.3, PDGFRA_D842V=-1.2, PDGFRA_OTHER=-1.0,
        WT_SDH_DEFICIENT=-0.7, WT_NF1=0.4, WT_OTHER=-0.6))
    effect_heterogeneity: Mapping[G, float] = field(default_factory=lambda: _by_genotype(
        0.0, KIT9=0.5, KIT13_17=0.3, PDGFRA_D842V=0.9, PDGFRA_OTHER=0.8,
        WT_SDH_DEFICIENT=0.6, WT_NF1=-0.3, WT_OTHER=0.5))
    effect_necrosis: Mapping[G, float] = field(default_factory=lambda: _by_genotype(
        0.0, KIT9=1.0, KIT13_17=0.3, PDGFRA_D842V=0.5, PDGFRA_OTHER=0.4, WT_OTHER=0.4))
    effect_lobulation: Mapping[G, float] = field(default_factory=lambda: _by_genotype(
        0.0, KIT9=0.4, KIT13_17=0.2, PDGFRA_D842V=0.5, PDGFRA_OTHER=0.4,
        WT_SDH_DEFICIENT=1.2, WT_NF1=0.8, WT_OTHER=0.5))
    effect_exophytic: Mapping[G, float] = field(default_factory=lambda: _by_genotype(
        0.0, KIT9=0.3, PDGFRA_D842V=1.0, PDGFRA_OTHER=0.8, WT_SDH_DEFICIENT=-0.4,
        WT_NF1=0.4))
    effect_calcification: Mapping[G, float] = field(default_factory=lambda: _by_genotype(
        0.0, PDGFRA_D842V=0.6, PDGFRA_OTHER=0.5, WT_SDH_DEFICIENT=0.4))
    # fmt: on


# --- adjuvant therapy -----------------------------------------------------------------------


@dataclass(frozen=True)
class TreatmentParams:
    """Adjuvant imatinib for high-risk (modified NIH 2008), imatinib-sensitive GIST.

    Attributes
    ----------
    uptake_before, uptake_after, uptake_change_year
        Share of eligible patients treated: 0.35 before 2009, 0.80 from 2009 on [D]
        (adjuvant imatinib approved 2008–2009 [M]; uptake below 100 % in practice [D]).
        Set both to 0 for natural history (surgery alone).
    dose_mg_per_day
        400 mg/day (SSGXVIII, §5.2 [V-abs]).
    long_share_before, long_share_after, long_change_year
        Share treated for 36 rather than 12 months: 0.25 before 2012, 0.85 from 2012 on
        (SSGXVIII: 3 years better than 1 year, published 2012, §5.2 [V-abs]; shares [D]).
    recurrence_multiplier_long, recurrence_multiplier_short
        Hazard multiplier 0.8 for 36 months, 0.9 for 12 months [D], on top of the delay of
        recurrence by the months on imatinib. Measured on treated KIT exon-11 deletions:
        5-year RFS 72 % (36 months) vs 37 % (12 months); SSGXVIII: 71.0 % vs 41.3 % (§5.2
        [V-abs]).
    """

    uptake_before: float = 0.35
    uptake_after: float = 0.80
    uptake_change_year: int = 2009
    dose_mg_per_day: float = 400.0
    long_share_before: float = 0.25
    long_share_after: float = 0.85
    long_change_year: int = 2012
    recurrence_multiplier_long: float = 0.8
    recurrence_multiplier_short: float = 0.9


# --- survival -------------------------------------------------------------------------------


@dataclass(frozen=True)
class SurvivalParams:
    """Recurrence (cure-fraction model), death and follow-up.

    P(ever recur) = 1 − (1 − p_afip)^(multiplier), where p_afip is the AFIP 2006 risk of
    progressive disease (§3.2 [V-sec]) and the multiplier is the product of the genotype,
    rupture, sex, treatment, calibration and prognostic-trait multipliers of the cumulative
    hazard (so that they act as hazard ratios within an AFIP cell; the trait's in
    :class:`PrognosticTraitParams`).

    Attributes
    ----------
    afip_floor
        Smallest P(ever recur), 0.01 [D]: AFIP "none (0 %)" cells still recur rarely.
    hazard_scale
        Calibration multiplier 2.0 [D]: with it, surgery alone gives 5-year RFS 67 % and
        15-year RFS 61 % (§5.1: 59.9 % at 15 years, Joensuu 2012 [V-abs]; 63–70 % at 5
        years [V-abs]). At scale 1 the AFIP percentages with these multipliers give a
        15-year RFS of ≈ 77 %, well above the pooled population figure.
    genotype_multiplier
        Hazard multipliers (§9 [D], §5.2 [V-abs]): PDGFRA 0.34 vs KIT (Joensuu 2015),
        exon-11 duplication 0.1 (1 of 35 recurred), del 557/558 1.7 (1.5–2), exon 9 1.4
        (1.3–1.5), substitutions 0.75 (favourable, §5.2 [V-abs]), NF1 0.7 [D]; the KIT
        subtypes average ≈ 1, so PDGFRA vs KIT stays ≈ 0.34.
    rupture_multiplier, male_multiplier
        4.0 and 1.25 [D]: rupture and male sex are independent adverse factors (Joensuu
        2012, §5.1 [V-abs]; magnitudes [D]).
    recurrence_median_months, recurrence_sigma_log
        Log-normal F of the baseline time to recurrence, median 44 months, σ 0.7 [D];
        patients with a larger multiplier recur earlier. Measured with surgery alone:
        RFS 0.86 / 0.67 / 0.61 / 0.60 at 2 / 5 / 10 / 15 years (§9: "most within 5
        years, almost none after 10"; 2-year RFS 75–77 % in §5.1 is not matched).
    post_recurrence_median_months
        Exponential time from recurrence to death, median 66 months [D] (median OS of
        advanced GIST > 70 months with TKIs, Blay 2021 [V-abs]).
    background_hazard_65_male, background_hazard_65_female, background_gompertz_slope
        Gompertz background mortality per year at age 65 and its slope per year of age
        [M: approximate Western European life tables].
    loss_to_follow_up_per_year
        Exponential loss to follow-up, 2 % per year [D].
    accrual_start, accrual_end, analysis_date
        Surgery dates uniform over 2005–2020; administrative censoring on 2023-12-31 [D].
    """

    afip_floor: float = 0.01
    hazard_scale: float = 2.0
    # fmt: off
    genotype_multiplier: Mapping[G, float] = field(default_factory=lambda: _by_genotype(
        1.0, KIT11_DEL_557_558=1.7, KIT11_SUBSTITUTION=0.75, KIT11_DUPLICATION=0.1, KIT9=1.4,
        PDGFRA_D842V=0.34, PDGFRA_OTHER=0.34, WT_NF1=0.7))
    # fmt: on
    rupture_multiplier: float = 4.0
    male_multiplier: float = 1.25
    recurrence_median_months: float = 44.0
    recurrence_sigma_log: float = 0.7
    post_recurrence_median_months: float = 66.0
    background_hazard_65_male: float = 0.013
    background_hazard_65_female: float = 0.008
    background_gompertz_slope: float = 0.095
    loss_to_follow_up_per_year: float = 0.02
    accrual_start: dt.date = dt.date(2005, 1, 1)
    accrual_end: dt.date = dt.date(2020, 12, 31)
    analysis_date: dt.date = dt.date(2023, 12, 31)


# --- the planted prognostic imaging trait ---------------------------------------------------


@dataclass(frozen=True)
class PrognosticTraitParams:
    """A latent imaging trait that carries prognosis beyond the clinical risk factors [D].

    Each patient has z ~ N(0, 1) (:mod:`gistcad.synth.prognostic_trait`), independent of
    center, site, size, mitoses, rupture, genotype, sex and age. The CT shows it as the
    **grain** of the tumour's texture: the correlation cell of the texture field is
    ``grain_cell_mm · exp(grain_log_per_sd · z)`` mm (clipped to ``grain_range_mm``), and the
    texture's SD is ``hypot(22 · heterogeneity, grain_floor_hu)`` HU whatever z is (so
    first-order statistics do not see z; co-occurrence, run- and zone-length statistics do).
    It multiplies the recurrence hazard by
    ``exp(β·s·z − (β·s)²/2)`` with β = ln ``hazard_ratio_per_sd`` and s the cohort's
    ``signal``: a hazard ratio of ``hazard_ratio_per_sd``^s per SD of z, adjusted for every
    other factor; the −(β·s)²/2 keeps the mean multiplier (E exp(βsz) = exp((βs)²/2)), and so
    the cohort's RFS calibration, unchanged. At signal 0 the trait is still drawn and
    rendered but carries no prognosis.

    Attributes
    ----------
    hazard_ratio_per_sd
        1.8 per SD of z [D]. Chosen to be discoverable but not trivial: published CT
        radiomics signatures of recurrence report HRs of about 1.5–3 per unit or between
        groups [M]; with ≈ 25 % RFS events, 400–600 patients give 100–150 events, and a
        radiomics feature whose partial correlation with z (given size and center) is ≈ 0.7
        keeps a log-HR of ≈ 0.4 (z ≈ 3.5–4.5), near the edge of what an FDR-controlled screen
        of 232 features finds in that many patients.
    grain_cell_mm
        Texture cell at z = 0, 3 mm (the renderer's texture before the trait existed).
    grain_log_per_sd
        0.8 [D]: the cell is 1 mm (clipped; grain at the scale of the 0.7–1.5 mm pixels,
        nearly white) for z ≤ −1.4 and 12 mm (clipped) for z ≥ 1.7.
    grain_range_mm
        Clip of the cell (1.0, 12.0) mm, for the tails of z.
    grain_floor_hu
        25 HU [D]: the least SD of a primary tumour's texture, so that the grain shows in
        every tumour. Without it (the first version of the trait, texture SD 22 ×
        heterogeneity and slope 0.55) tumours of low heterogeneity had a texture below the
        scanner noise (SD 9–20 HU), the distance-1 texture features measured the texture's
        share of the variance, which heterogeneity sets, and across patients the best of
        the 232 candidate features followed z no better than chance (|ρ| 0.16–0.22 on 120
        patients, whatever the bin width or voxel size). Tuned on 150 rendered patients of
        seed 1 (``bench/trait_expression.py``): the best candidate's partial Spearman ρ
        with z given log volume and center, 0.33 at floor 0, 0.53 at 15 HU, 0.66 at 25 HU,
        0.76 at 35 HU (slope 0.55), 0.72 at 25 HU with slope 0.8. A floor keeps the
        heterogeneity visible in the texture's SD (22 HU at heterogeneity 1 over a 25 HU
        floor: 33 HU against 25) only in part; 35 HU would hide most of it from the
        genotype models. The observable reference's calibration is refitted with it
        (``python -m gistcad.synth.calibrate``).
    """

    hazard_ratio_per_sd: float = 1.8
    grain_cell_mm: float = 3.0
    grain_log_per_sd: float = 0.8
    grain_range_mm: tuple[float, float] = (1.0, 12.0)
    grain_floor_hu: float = 25.0


@dataclass(frozen=True)
class CohortParams:
    """All parameters of the synthetic cohort; see each part for its sources."""

    # fmt: off
    site_shares: Mapping[Site, float] = field(default_factory=lambda: SITE_SHARES)
    sub_site_shares: Mapping[Site, Mapping[str, float]] = field(
        default_factory=lambda: SUB_SITE_SHARES)
    genotype_by_site: Mapping[Site, Mapping[G, float]] = field(
        default_factory=lambda: GENOTYPE_BY_SITE)
    # fmt: on
    demography: DemographyParams = field(default_factory=DemographyParams)
    tumour: TumourParams = field(default_factory=TumourParams)
    phenotype: PhenotypeParams = field(default_factory=PhenotypeParams)
    treatment: TreatmentParams = field(default_factory=TreatmentParams)
    survival: SurvivalParams = field(default_factory=SurvivalParams)
    trait: PrognosticTraitParams = field(default_factory=PrognosticTraitParams)


DEFAULT_PARAMS = CohortParams()

"""What a tumour board notes about a genotype: imatinib sensitivity, dose, other agents, adjuvant.

One row per :class:`~gistcad.domain.GenotypeDetail`, each with its sources. The rows restate
published findings for research use; they are not treatment advice, and every output says so
(:data:`DISCLAIMER`).

References
----------
.. [1] MetaGIST: Gastrointestinal Stromal Tumor Meta-Analysis Group. Comparison of two doses
   of imatinib for the treatment of unresectable or metastatic GIST: a meta-analysis of
   1,640 patients. J Clin Oncol 2010;28(7):1247-53, doi:10.1200/JCO.2009.24.2099.
.. [2] Joensuu H, Wardelmann E, Sihto H, et al. Effect of KIT and PDGFRA mutations on
   survival in patients with GIST treated with adjuvant imatinib. JAMA Oncol
   2017;3(5):602-609, doi:10.1001/jamaoncol.2016.5751 (SSGXVIII/AIO).
.. [3] Joensuu H, Rutkowski P, Nishida T, et al. KIT and PDGFRA mutations and the risk of GI
   stromal tumor recurrence. J Clin Oncol 2015;33(6):634-42, doi:10.1200/JCO.2014.57.4970.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

import pandas as pd

from gistcad.domain import GenotypeDetail, RiskClass

DISCLAIMER = "Research use only — not treatment advice."


class ImatinibSensitivity(StrEnum):
    SENSITIVE = "sensitive"
    INTERMEDIATE = "intermediate"
    RESISTANT = "resistant"
    LITTLE_BENEFIT = "little benefit"
    UNKNOWN = "unknown"


_IMATINIB_SENSITIVE = (ImatinibSensitivity.SENSITIVE, ImatinibSensitivity.INTERMEDIATE)

# --- sources, as cited in the project's domain facts (section 5.3) -------------------------
_METAGIST = "MetaGIST, J Clin Oncol 2010;28:1247, doi:10.1200/JCO.2009.24.2099"
_EXON11_TRIALS = (
    "B2222 phase II (response 86 %, median OS 63 mo)",
    "EORTC (response 69 %)",
    "SWOG (response 71 %, TTP 24.7 mo, OS 60 mo)",
    f"{_METAGIST} (secondary table, PMC3275340)",
)
_DIAGNOSTICS_2021 = "Diagnostics 2021, Table 2"
_SSGXVIII = "Joensuu et al., JAMA Oncol 2017;3:602, doi:10.1001/jamaoncol.2016.5751 (SSGXVIII)"
_JOENSUU_2015 = "Joensuu et al., J Clin Oncol 2015;33:634, doi:10.1200/JCO.2014.57.4970"
_ONKOPEDIA = "Onkopedia GIST guideline 2024"
_DEMATTEO = "DeMatteo et al., Cancer 2008;112:608"
_ESMO = "ESMO-EURACAN 2018, Ann Oncol 29 Suppl 4:iv68 (wording not verified here)"

_SECONDARY_KIT_AGENTS = (
    "sunitinib (secondary KIT exon 13 mutation)",
    "regorafenib (secondary KIT exon 17 mutation)",
    "ripretinib (secondary KIT exon 17 mutation)",
)
_STANDARD_DOSE = "Standard dose 400 mg/day."
_NOT_FOR_ADJUVANT_DURATION = (
    "SSGXVIII: little or no benefit from 3 vs 1 year of adjuvant imatinib outside KIT exon 11 "
    "deletion/delins."
)


@dataclass(frozen=True)
class _Row:
    sensitivity: ImatinibSensitivity
    clinical_data: str
    dose_note: str
    alternative_agents: tuple[str, ...]
    prognosis_note: str
    sources: tuple[str, ...]


_EXON11 = "KIT exon 11: most imatinib-sensitive; advanced disease response ≈69-86 %, MetaGIST "
_EXON11 += "response 80 %, median PFS 26 mo, OS 60 mo."

_ROWS: dict[GenotypeDetail, _Row] = {
    GenotypeDetail.KIT11_DEL_557_558: _Row(
        ImatinibSensitivity.SENSITIVE,
        _EXON11,
        _STANDARD_DOSE,
        _SECONDARY_KIT_AGENTS,
        "Deletions involving codons 557/558 recur more often after surgery (DeMatteo 2008; "
        "GEIS RR 3.05 in the first 4 years); SSGXVIII: 5-year RFS 71.0 % with 3 vs 41.3 % "
        "with 1 year of imatinib for exon 11 deletion/delins.",
        (*_EXON11_TRIALS, _SSGXVIII, _DEMATTEO, "Martín-Broto et al., Ann Oncol 2010;21:1552"),
    ),
    GenotypeDetail.KIT11_DEL_OTHER: _Row(
        ImatinibSensitivity.SENSITIVE,
        _EXON11,
        _STANDARD_DOSE,
        _SECONDARY_KIT_AGENTS,
        "Single-codon deletions do better than other deletions (Joensuu 2015); SSGXVIII: "
        "5-year RFS 71.0 % with 3 vs 41.3 % with 1 year of imatinib for exon 11 "
        "deletion/delins.",
        (*_EXON11_TRIALS, _SSGXVIII, _JOENSUU_2015),
    ),
    GenotypeDetail.KIT11_SUBSTITUTION: _Row(
        ImatinibSensitivity.SENSITIVE,
        _EXON11,
        _STANDARD_DOSE,
        _SECONDARY_KIT_AGENTS,
        "Point mutations (W557R, V559A, L576P) have a favourable course after surgery "
        f"(Joensuu 2015). {_NOT_FOR_ADJUVANT_DURATION}",
        (*_EXON11_TRIALS, _JOENSUU_2015, _SSGXVIII),
    ),
    GenotypeDetail.KIT11_DUPLICATION: _Row(
        ImatinibSensitivity.SENSITIVE,
        _EXON11,
        _STANDARD_DOSE,
        _SECONDARY_KIT_AGENTS,
        "Only 1 of 35 tumours with an exon 11 duplication recurred; most are not adjuvant "
        f"candidates (Joensuu 2015). {_NOT_FOR_ADJUVANT_DURATION}",
        (*_EXON11_TRIALS, _JOENSUU_2015, _SSGXVIII),
    ),
    GenotypeDetail.KIT11_UNSPECIFIED: _Row(
        ImatinibSensitivity.SENSITIVE,
        _EXON11,
        _STANDARD_DOSE,
        _SECONDARY_KIT_AGENTS,
        "Mutation type decides prognosis and adjuvant benefit; ask for the variant.",
        (*_EXON11_TRIALS, _SSGXVIII),
    ),
    GenotypeDetail.KIT9: _Row(
        ImatinibSensitivity.INTERMEDIATE,
        "Intermediate sensitivity; response 34-48 % at 400 mg, MetaGIST median PFS 13 mo, "
        "OS 31 mo.",
        "Advanced disease: 800 mg/day; the PFS gain of the high dose is confined to exon 9 "
        "(MetaGIST). The adjuvant trial (SSGXVIII) used 400 mg/day.",
        _SECONDARY_KIT_AGENTS,
        f"Exon 9 recurs more often after surgery (DeMatteo 2008). {_NOT_FOR_ADJUVANT_DURATION}",
        (_METAGIST, _SSGXVIII, _DEMATTEO),
    ),
    GenotypeDetail.KIT13_17: _Row(
        ImatinibSensitivity.INTERMEDIATE,
        "Primary exon 13/17 mutations: responses to imatinib reported (limited data; "
        "'intermediate' is this project's reading). As secondary mutations they cause "
        "imatinib resistance.",
        _STANDARD_DOSE,
        _SECONDARY_KIT_AGENTS,
        _NOT_FOR_ADJUVANT_DURATION,
        (_DIAGNOSTICS_2021, _SSGXVIII),
    ),
    GenotypeDetail.PDGFRA_D842V: _Row(
        ImatinibSensitivity.RESISTANT,
        "Resistant to imatinib, sunitinib and other earlier TKIs (median OS 12.6 mo on them). "
        "Avapritinib (NAVIGATOR): response 89 % for D842V (n=38; 8 % CR, 82 % PR).",
        "Imatinib not indicated.",
        ("avapritinib (FDA approval Jan 2020)",),
        "",
        (
            "FDA/ONS and ecancer reports on NAVIGATOR (avapritinib approval, Jan 2020)",
            "Cancer Discov 2020",
            "von Mehren et al., BMC Cancer 2021",
            _ONKOPEDIA,
        ),
    ),
    GenotypeDetail.PDGFRA_OTHER: _Row(
        ImatinibSensitivity.SENSITIVE,
        "PDGFRA exon 12, 14 and non-D842V exon 18: generally imatinib-sensitive.",
        _STANDARD_DOSE,
        (),
        "PDGFRA-mutant GIST recurs less than KIT-mutant (HR 0.34); most are not adjuvant "
        f"candidates (Joensuu 2015). {_NOT_FOR_ADJUVANT_DURATION}",
        (_DIAGNOSTICS_2021, "Gastric Cancer 2016 (tables)", _JOENSUU_2015),
    ),
    GenotypeDetail.WT_SDH_DEFICIENT: _Row(
        ImatinibSensitivity.LITTLE_BENEFIT,
        "Little benefit from imatinib; sunitinib and regorafenib have some activity. "
        "Indolent but unpredictable course.",
        "Imatinib not indicated.",
        ("sunitinib", "regorafenib"),
        "",
        (
            "NCI PDQ GIST Treatment (HP)",
            "Miettinen 2011",
            "Chinese SDH-deficient series",
            _ONKOPEDIA,
        ),
    ),
    GenotypeDetail.WT_NF1: _Row(
        ImatinibSensitivity.LITTLE_BENEFIT,
        "Imatinib largely ineffective.",
        "Imatinib not indicated.",
        (),
        "",
        ("reviews (no single primary source recorded)", _ONKOPEDIA),
    ),
    GenotypeDetail.WT_OTHER: _Row(
        ImatinibSensitivity.LITTLE_BENEFIT,
        "KIT/PDGFRA wild-type status is considered imatinib-resistant (Onkopedia).",
        "Imatinib not indicated.",
        ("BRAF inhibitors if BRAF V600E (limited data)",),
        "Test for SDH deficiency, NF1 and BRAF to refine.",
        (_ONKOPEDIA, "Blay et al., Nat Rev Dis Primers 2021;7:22"),
    ),
    GenotypeDetail.UNKNOWN: _Row(
        ImatinibSensitivity.UNKNOWN,
        "Genotype unknown: PDGFRA D842V and wild-type GIST do not benefit from imatinib.",
        "Decide after mutational analysis.",
        (),
        "Mutational analysis of KIT and PDGFRA is needed before an adjuvant decision.",
        (_ONKOPEDIA,),
    ),
}


@dataclass(frozen=True)
class TherapyImplication:
    """What a tumour board would note for one genotype (and, optionally, a risk class).

    Attributes
    ----------
    detail
        The genotype.
    risk_class
        The risk class the adjuvant note was decided for, or ``None``.
    imatinib_sensitivity
        Sensitive, intermediate, resistant, little benefit or unknown.
    clinical_data
        The published response / survival figures behind the sensitivity.
    dose_note
        Imatinib dose remark (exon 9: 800 mg/day in advanced disease).
    alternative_agents
        Other agents with their indication, e.g. ``"avapritinib (FDA approval Jan 2020)"``.
    adjuvant_imatinib
        True: 3 years of adjuvant imatinib is the published recommendation; False: not
        recommended; ``None``: cannot be decided (no risk class, risk not assessable, or
        genotype unknown).
    adjuvant_note
        The reason, and genotype-specific caveats on prognosis and adjuvant benefit.
    sources
        Citations for this row.
    disclaimer
        Always :data:`DISCLAIMER`.
    """

    detail: GenotypeDetail
    risk_class: RiskClass | None
    imatinib_sensitivity: ImatinibSensitivity
    clinical_data: str
    dose_note: str
    alternative_agents: tuple[str, ...]
    adjuvant_imatinib: bool | None
    adjuvant_note: str
    sources: tuple[str, ...]
    disclaimer: str = field(default=DISCLAIMER, init=False)


def _adjuvant(
    sensitivity: ImatinibSensitivity, risk_class: RiskClass | None
) -> tuple[bool | None, str]:
    """Adjuvant imatinib: 3 years for high-risk imatinib-sensitive GIST (Onkopedia, ESMO)."""
    if sensitivity is ImatinibSensitivity.UNKNOWN:
        return None, "Adjuvant imatinib cannot be decided without the genotype."
    if sensitivity not in _IMATINIB_SENSITIVE:
        return False, "Adjuvant imatinib not recommended for this imatinib-insensitive genotype."
    if risk_class is None:
        return None, "3 years of adjuvant imatinib if the tumour is high risk (give a risk class)."
    if risk_class is RiskClass.INSUFFICIENT_DATA:
        return None, "Risk not assessable (insufficient data); adjuvant decision open."
    if risk_class is RiskClass.HIGH:
        return True, "3 years of adjuvant imatinib: high risk, imatinib-sensitive genotype."
    return False, f"Adjuvant imatinib not indicated at {risk_class.value.replace('_', ' ')} risk."


def therapy_implication(
    detail: GenotypeDetail, risk_class: RiskClass | None = None
) -> TherapyImplication:
    """Therapy implications of a genotype, with the adjuvant call for a risk class.

    Parameters
    ----------
    detail
        Mutation status from the molecular pathology report.
    risk_class
        Risk of recurrence from any scheme (see :mod:`gistcad.analysis.risk`); only
        ``HIGH`` makes adjuvant imatinib indicated, and only for imatinib-sensitive
        genotypes (sensitive or intermediate) [2]_.

    Returns
    -------
    TherapyImplication
    """
    detail = GenotypeDetail(detail)
    risk_class = None if risk_class is None else RiskClass(risk_class)
    row = _ROWS[detail]
    adjuvant, reason = _adjuvant(row.sensitivity, risk_class)
    sources = row.sources
    if row.sensitivity is not ImatinibSensitivity.UNKNOWN:
        sources = (*sources, *(s for s in (_ONKOPEDIA, _ESMO) if s not in sources))
    return TherapyImplication(
        detail=detail,
        risk_class=risk_class,
        imatinib_sensitivity=row.sensitivity,
        clinical_data=row.clinical_data,
        dose_note=row.dose_note,
        alternative_agents=row.alternative_agents,
        adjuvant_imatinib=adjuvant,
        adjuvant_note=" ".join(part for part in (reason, row.prognosis_note) if part),
        sources=sources,
    )


def therapy_table() -> pd.DataFrame:
    """Every genotype's implications (no risk class), one row each, ready to show or export.

    Columns: genotype, group, imatinib_sensitivity, clinical_data, dose_note,
    alternative_agents, adjuvant_note, sources (joined with "; "), disclaimer.
    """
    rows = []
    for detail in GenotypeDetail:
        implication = therapy_implication(detail)
        rows.append(
            {
                "genotype": detail.value,
                "group": detail.group.value,
                "imatinib_sensitivity": implication.imatinib_sensitivity.value,
                "clinical_data": implication.clinical_data,
                "dose_note": implication.dose_note,
                "alternative_agents": "; ".join(implication.alternative_agents),
                "adjuvant_note": implication.adjuvant_note,
                "sources": "; ".join(implication.sources),
                "disclaimer": implication.disclaimer,
            }
        )
    table = pd.DataFrame(rows)
    table.attrs["disclaimer"] = DISCLAIMER
    return table

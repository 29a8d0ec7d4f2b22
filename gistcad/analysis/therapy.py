"""What a tumour board notes about a genotype: imatinib sensitivity, dose, other agents, adjuvant.

One row per :class:`~gistcad.domain.GenotypeDetail`, each with its sources. The rows restate
published findings and guideline recommendations for research use; they are not treatment
advice, and every output says so (:data:`DISCLAIMER`).

The adjuvant call
-----------------
Decided from the genotype and a risk class, and the note always names the scheme that gave
the class, because one tumour can be AFIP "moderate" and modified NIH "high":

* low, very low or no risk: no adjuvant therapy, whatever the genotype;
* imatinib-insensitive genotype (PDGFRA D842V, SDH-deficient, NF1, other wild-type): no
  adjuvant imatinib at any risk;
* intermediate (moderate) risk, imatinib-sensitive: consider adjuvant imatinib, a shared
  decision (NCCN considers it; ESMO-EURACAN-GENTURIS calls intermediate risk a grey zone);
* high risk, imatinib-sensitive: 3 years of adjuvant imatinib [2]_ [4]_ [5]_;
* genotype unknown at intermediate or high risk: decide once the genotype is known.

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
.. [4] Casali PG, Blay JY, Abecassis N, et al. Gastrointestinal stromal tumours:
   ESMO-EURACAN-GENTURIS Clinical Practice Guidelines for diagnosis, treatment and
   follow-up. Ann Oncol 2022;33(1):20-33, doi:10.1016/j.annonc.2021.09.005.
.. [5] NCCN Clinical Practice Guidelines in Oncology: Gastrointestinal Stromal Tumors.
.. [6] AYVAKIT (avapritinib) prescribing information, US FDA, January 2020: adults with
   unresectable or metastatic GIST harbouring a PDGFRA exon 18 mutation, including D842V.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING

from gistcad.domain import SCHEME_CLASSES, GenotypeDetail, RiskClass, RiskScheme
from gistcad.errors import ValidationError

DISCLAIMER = "Research use only — not treatment advice."

if TYPE_CHECKING:
    import pandas as pd


class ImatinibSensitivity(StrEnum):
    SENSITIVE = "sensitive"
    INTERMEDIATE = "intermediate"
    RESISTANT = "resistant"
    LITTLE_BENEFIT = "little benefit"
    UNKNOWN = "unknown"


class AdjuvantCall(StrEnum):
    """What the adjuvant note concludes."""

    RECOMMENDED = "recommended"  # 3 years of adjuvant imatinib
    CONSIDER = "consider"  # shared decision with the patient
    NOT_RECOMMENDED = "not recommended"
    UNDECIDED = "undecided"  # a risk class or the genotype is missing


_IMATINIB_SENSITIVE = (ImatinibSensitivity.SENSITIVE, ImatinibSensitivity.INTERMEDIATE)
_LOW_RISK = (RiskClass.NONE, RiskClass.VERY_LOW, RiskClass.LOW)
_INTERMEDIATE_RISK = (RiskClass.INTERMEDIATE, RiskClass.MODERATE)

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
_ESMO = (
    "Casali et al., ESMO-EURACAN-GENTURIS guidelines, Ann Oncol 2022;33:20, "
    "doi:10.1016/j.annonc.2021.09.005"
)
_NCCN = "NCCN Guidelines, Gastrointestinal Stromal Tumors"
_AVAPRITINIB_LABEL = "FDA, AYVAKIT (avapritinib) prescribing information, Jan 2020"
_NTRK_LABELS = "FDA approvals of larotrectinib (2018) and entrectinib (2019), NTRK fusion"

_SECONDARY_KIT_AGENTS = (
    "sunitinib (2nd line after imatinib; most active with a secondary KIT exon 13 or 14 mutation)",
    "regorafenib (3rd line; active against secondary KIT exon 17 mutations)",
    "ripretinib (4th line, INVICTUS; whatever the secondary mutation)",
)
_STANDARD_DOSE = "Standard dose 400 mg/day."
_DURATION = (
    "SSGXVIII: the gain of 3 over 1 year was shown mainly for KIT exon 11 deletion/delins; "
    "where adjuvant imatinib is given, the guidelines advise 3 years."
)
_EXON11_DELETION = (
    "SSGXVIII: 5-year RFS 71.0 % with 3 vs 41.3 % with 1 year of imatinib for exon 11 "
    "deletion/delins."
)
_NTRK = (
    "Quadruple wild-type (no KIT, PDGFRA, SDH or RAS-pathway alteration): test for an NTRK "
    "fusion; larotrectinib or entrectinib if one is found."
)


@dataclass(frozen=True)
class _Row:
    sensitivity: ImatinibSensitivity
    clinical_data: str
    dose_note: str
    alternative_agents: tuple[str, ...]
    adjuvant_caveat: str  # said wherever adjuvant imatinib is recommended or considered
    why_not: str  # imatinib-insensitive genotypes: why no adjuvant imatinib at any risk
    sources: tuple[str, ...]


_EXON11 = "KIT exon 11: most imatinib-sensitive; advanced disease response ≈69-86 %, MetaGIST "
_EXON11 += "response 80 %, median PFS 26 mo, OS 60 mo."


def _kit11(caveat: str, *sources: str) -> _Row:
    return _Row(
        ImatinibSensitivity.SENSITIVE,
        _EXON11,
        _STANDARD_DOSE,
        _SECONDARY_KIT_AGENTS,
        caveat,
        "",
        (*_EXON11_TRIALS, *sources),
    )


_ROWS: dict[GenotypeDetail, _Row] = {
    GenotypeDetail.KIT11_DEL_557_558: _kit11(
        "Deletions involving codons 557/558 recur more often after surgery (DeMatteo 2008; "
        f"GEIS RR 3.05 in the first 4 years). {_EXON11_DELETION}",
        _SSGXVIII,
        _DEMATTEO,
        "Martín-Broto et al., Ann Oncol 2010;21:1552",
    ),
    GenotypeDetail.KIT11_DEL_OTHER: _kit11(
        f"Single-codon deletions do better than other deletions (Joensuu 2015). {_EXON11_DELETION}",
        _SSGXVIII,
        _JOENSUU_2015,
    ),
    GenotypeDetail.KIT11_SUBSTITUTION: _kit11(
        "Point mutations (W557R, V559A, L576P) have a favourable course after surgery "
        f"(Joensuu 2015), so the benefit may be smaller than the risk class suggests. {_DURATION}",
        _JOENSUU_2015,
        _SSGXVIII,
    ),
    GenotypeDetail.KIT11_DUPLICATION: _kit11(
        "KIT exon 11 duplications rarely recur (1 of 35 after surgery alone, Joensuu 2015): "
        "the risk class may overstate this tumour's risk; weigh this with the patient. "
        f"{_DURATION}",
        _JOENSUU_2015,
        _SSGXVIII,
    ),
    GenotypeDetail.KIT11_UNSPECIFIED: _kit11(
        "The exon 11 mutation type changes prognosis and the benefit of 3 years; ask for the "
        "variant.",
        _SSGXVIII,
    ),
    GenotypeDetail.KIT9: _Row(
        ImatinibSensitivity.INTERMEDIATE,
        "Intermediate sensitivity; response 34-48 % at 400 mg, MetaGIST median PFS 13 mo, "
        "OS 31 mo.",
        "Advanced disease: 800 mg/day; the PFS gain of the high dose is confined to exon 9 "
        "(MetaGIST).",
        _SECONDARY_KIT_AGENTS,
        "Adjuvant dose 400 mg/day as in the trials (800 mg/day is used by some centres by "
        f"analogy with advanced disease, without prospective evidence). {_DURATION}",
        "",
        (_METAGIST, _SSGXVIII, _DEMATTEO),
    ),
    GenotypeDetail.KIT13_17: _Row(
        ImatinibSensitivity.INTERMEDIATE,
        "Primary exon 13/17 mutations: responses to imatinib reported (limited data; "
        "'intermediate' is this project's reading). As secondary mutations they cause "
        "imatinib resistance.",
        _STANDARD_DOSE,
        _SECONDARY_KIT_AGENTS,
        f"Few data on adjuvant imatinib for primary exon 13/17 mutations. {_DURATION}",
        "",
        (_DIAGNOSTICS_2021, _SSGXVIII),
    ),
    GenotypeDetail.PDGFRA_D842V: _Row(
        ImatinibSensitivity.RESISTANT,
        "Resistant to imatinib, sunitinib and other earlier TKIs (median OS 12.6 mo on them). "
        "Avapritinib (NAVIGATOR): response 89 % for D842V (n=38; 8 % CR, 82 % PR).",
        "Imatinib not indicated.",
        (
            "avapritinib for unresectable or metastatic disease only (FDA Jan 2020, PDGFRA "
            "exon 18 incl. D842V); no adjuvant role",
        ),
        "",
        "PDGFRA D842V is resistant to imatinib; avapritinib is approved only for "
        "unresectable or metastatic disease, not as adjuvant therapy.",
        (
            _AVAPRITINIB_LABEL,
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
        "PDGFRA-mutant GIST recurs less often than KIT-mutant GIST (HR 0.34, Joensuu 2015), "
        f"so the benefit may be smaller than the risk class suggests. {_DURATION}",
        "",
        (_DIAGNOSTICS_2021, "Gastric Cancer 2016 (tables)", _JOENSUU_2015),
    ),
    GenotypeDetail.WT_SDH_DEFICIENT: _Row(
        ImatinibSensitivity.LITTLE_BENEFIT,
        "Little benefit from imatinib; sunitinib and regorafenib have some activity. "
        "Indolent but unpredictable course.",
        "Imatinib not indicated.",
        ("sunitinib", "regorafenib"),
        "",
        "SDH-deficient GIST draws little benefit from imatinib.",
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
        "NF1-related GIST is insensitive to imatinib.",
        ("reviews (no single primary source recorded)", _ONKOPEDIA),
    ),
    GenotypeDetail.WT_OTHER: _Row(
        ImatinibSensitivity.LITTLE_BENEFIT,
        f"KIT/PDGFRA wild-type status is considered imatinib-resistant (Onkopedia). {_NTRK}",
        "Imatinib not indicated.",
        (
            "larotrectinib or entrectinib if an NTRK fusion is found",
            "BRAF inhibitors if BRAF V600E (limited data)",
        ),
        "",
        "KIT/PDGFRA wild-type GIST is considered imatinib-resistant; test for SDH "
        "deficiency, NF1, BRAF and an NTRK fusion (larotrectinib, entrectinib).",
        (_ONKOPEDIA, _NTRK_LABELS, "Blay et al., Nat Rev Dis Primers 2021;7:22"),
    ),
    GenotypeDetail.UNKNOWN: _Row(
        ImatinibSensitivity.UNKNOWN,
        "Genotype unknown: PDGFRA D842V and wild-type GIST do not benefit from imatinib.",
        "Decide after mutational analysis.",
        (),
        "",
        "",
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
    risk_class, scheme
        The risk class the adjuvant note was decided for (``None``: not given) and the
        scheme that gave it; the note names that scheme.
    imatinib_sensitivity
        Sensitive, intermediate, resistant, little benefit or unknown.
    clinical_data
        The published response / survival figures behind the sensitivity.
    dose_note
        Imatinib dose remark (exon 9: 800 mg/day in advanced disease).
    alternative_agents
        Other agents with their indication.
    adjuvant
        The call: recommended, consider (shared decision), not recommended, undecided.
    adjuvant_imatinib
        True: 3 years of adjuvant imatinib recommended; False: not recommended; ``None``:
        a shared decision, or not decidable without a risk class or the genotype.
    adjuvant_note
        The scheme and class, the call, and genotype-specific caveats.
    sources
        Citations for this row.
    disclaimer
        Always :data:`DISCLAIMER`.
    """

    detail: GenotypeDetail
    risk_class: RiskClass | None
    scheme: RiskScheme
    imatinib_sensitivity: ImatinibSensitivity
    clinical_data: str
    dose_note: str
    alternative_agents: tuple[str, ...]
    adjuvant: AdjuvantCall
    adjuvant_imatinib: bool | None
    adjuvant_note: str
    sources: tuple[str, ...]
    disclaimer: str = field(default=DISCLAIMER, init=False)


def risk_phrase(scheme: RiskScheme, risk_class: RiskClass) -> str:
    """E.g. ``"Modified NIH 2008 risk: high."``; AFIP's no-risk group reads "none (0 %)".

    >>> risk_phrase(RiskScheme.AFIP_2006, RiskClass.NONE)
    'AFIP 2006 risk: none (0 % progression).'
    """
    words = {
        RiskClass.NONE: "none (0 % progression)",
        RiskClass.INSUFFICIENT_DATA: "not assessable (insufficient data)",
    }.get(risk_class, risk_class.value.replace("_", " "))
    return f"{scheme.label} risk: {words}."


def _adjuvant(
    row: _Row, risk_class: RiskClass | None, scheme: RiskScheme
) -> tuple[AdjuvantCall, str]:
    """The call and its sentence, before the risk phrase; see the module docstring."""
    guideline = "(NCCN; ESMO-EURACAN-GENTURIS 2022)"
    if risk_class in _LOW_RISK:
        return (
            AdjuvantCall.NOT_RECOMMENDED,
            f"No adjuvant therapy, whatever the genotype {guideline}.",
        )
    if row.sensitivity not in (*_IMATINIB_SENSITIVE, ImatinibSensitivity.UNKNOWN):
        return AdjuvantCall.NOT_RECOMMENDED, f"Adjuvant imatinib not recommended: {row.why_not}"
    if risk_class is None:
        return AdjuvantCall.UNDECIDED, "The adjuvant decision depends on the risk class: give one."
    if risk_class is RiskClass.INSUFFICIENT_DATA:
        return AdjuvantCall.UNDECIDED, (
            f"The adjuvant decision rests on another scheme than {scheme.label}."
        )
    if row.sensitivity is ImatinibSensitivity.UNKNOWN:
        action = (
            "consider adjuvant imatinib (shared decision)"
            if risk_class in _INTERMEDIATE_RISK
            else "3 years of adjuvant imatinib"
        )
        return AdjuvantCall.UNDECIDED, (
            "Decide once the genotype is known: mutational analysis of KIT and PDGFRA first, "
            "since PDGFRA D842V and wild-type GIST do not benefit from imatinib; if the tumour "
            f"proves imatinib-sensitive, {action}."
        )
    if risk_class in _INTERMEDIATE_RISK:
        return AdjuvantCall.CONSIDER, (
            "Consider adjuvant imatinib; shared decision with the patient (NCCN: consider; "
            "ESMO-EURACAN-GENTURIS 2022: intermediate risk is a grey zone)."
        )
    return AdjuvantCall.RECOMMENDED, (
        f"3 years of adjuvant imatinib: high risk, imatinib-sensitive genotype {guideline}."
    )


_BOOLEAN = {AdjuvantCall.RECOMMENDED: True, AdjuvantCall.NOT_RECOMMENDED: False}


def therapy_implication(
    detail: GenotypeDetail | str,
    risk_class: RiskClass | str | None = None,
    scheme: RiskScheme | str = RiskScheme.MODIFIED_NIH_2008,
) -> TherapyImplication:
    """Therapy implications of a genotype, with the adjuvant call for a risk class.

    Parameters
    ----------
    detail
        Mutation status from the molecular pathology report.
    risk_class
        Risk of recurrence (see :mod:`gistcad.analysis.risk`); ``None`` leaves the adjuvant
        call open for imatinib-sensitive genotypes.
    scheme
        The scheme that gave ``risk_class``; named in the note. Default modified NIH 2008,
        the scheme the case assessment uses.

    Returns
    -------
    TherapyImplication
    """
    detail = GenotypeDetail(detail)
    risk = None if risk_class is None else RiskClass(risk_class)
    scheme = RiskScheme(scheme)
    if risk is not None and risk not in SCHEME_CLASSES[scheme]:
        allowed = ", ".join(c.value for c in SCHEME_CLASSES[scheme])
        raise ValidationError(
            f"{scheme.value} has no risk class {risk.value!r}; its classes are {allowed}"
        )
    row = _ROWS[detail]
    call, sentence = _adjuvant(row, risk, scheme)
    parts = [] if risk is None else [risk_phrase(scheme, risk)]
    parts.append(sentence)
    if call in (AdjuvantCall.RECOMMENDED, AdjuvantCall.CONSIDER) and row.adjuvant_caveat:
        parts.append(row.adjuvant_caveat)
    sources = row.sources
    if row.sensitivity is not ImatinibSensitivity.UNKNOWN:
        sources = (*sources, *(s for s in (_NCCN, _ESMO, _ONKOPEDIA) if s not in sources))
    return TherapyImplication(
        detail=detail,
        risk_class=risk,
        scheme=scheme,
        imatinib_sensitivity=row.sensitivity,
        clinical_data=row.clinical_data,
        dose_note=row.dose_note,
        alternative_agents=row.alternative_agents,
        adjuvant=call,
        adjuvant_imatinib=_BOOLEAN.get(call),
        adjuvant_note=" ".join(parts),
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
    import pandas as pd  # the calculator-like commands start without it

    table = pd.DataFrame(rows)
    table.attrs["disclaimer"] = DISCLAIMER
    return table

"""Genotype -> therapy implications against the project's fact sheet (gist_facts.md §5.3).

Sources of the expected statements: MetaGIST, J Clin Oncol 2010;28:1247 (exon 9 -> 800 mg);
NAVIGATOR / FDA approval Jan 2020 (D842V -> avapritinib); Diagnostics 2021 Table 2 (secondary
exon 13 -> sunitinib, exon 17 -> regorafenib / ripretinib); Onkopedia 2024 and ESMO (3 years
of adjuvant imatinib for high-risk imatinib-sensitive GIST; not for D842V, SDH-deficient, NF1).
"""

from __future__ import annotations

import pytest

from gistcad.analysis.therapy import (
    DISCLAIMER,
    AdjuvantCall,
    ImatinibSensitivity,
    therapy_implication,
    therapy_table,
)
from gistcad.domain import SCHEME_CLASSES, GenotypeDetail, RiskClass, RiskScheme
from gistcad.errors import ValidationError

#: every (scheme, class) pair a scheme can give
SCHEME_AND_CLASS = [
    (scheme, risk) for scheme, classes in SCHEME_CLASSES.items() for risk in classes
]


def _scheme_of(risk: RiskClass) -> RiskScheme:
    """A scheme that has ``risk`` (modified NIH where it can)."""
    for scheme in (RiskScheme.MODIFIED_NIH_2008, RiskScheme.AFIP_2006):
        if risk in SCHEME_CLASSES[scheme]:
            return scheme
    raise AssertionError(risk)


SENSITIVE_FOR_ADJUVANT = (ImatinibSensitivity.SENSITIVE, ImatinibSensitivity.INTERMEDIATE)


def test_every_genotype_has_a_row_with_sources():
    table = therapy_table()
    assert list(table["genotype"]) == [d.value for d in GenotypeDetail]
    assert (table["sources"].str.len() > 0).all()
    assert (table["clinical_data"].str.len() > 0).all()
    for detail in GenotypeDetail:
        assert therapy_implication(detail).sources


def test_disclaimer_on_every_output():
    assert DISCLAIMER == "Research use only — not treatment advice."
    table = therapy_table()
    assert (table["disclaimer"] == DISCLAIMER).all()
    assert table.attrs["disclaimer"] == DISCLAIMER
    for detail in GenotypeDetail:
        assert therapy_implication(detail).disclaimer == DISCLAIMER
        for scheme, risk in SCHEME_AND_CLASS:
            assert therapy_implication(detail, risk, scheme).disclaimer == DISCLAIMER


def test_d842v_is_resistant_with_avapritinib():
    implication = therapy_implication(GenotypeDetail.PDGFRA_D842V)
    assert implication.imatinib_sensitivity is ImatinibSensitivity.RESISTANT
    assert any("avapritinib" in agent for agent in implication.alternative_agents)


def test_exon_9_is_intermediate_with_800_mg_in_advanced_disease():
    implication = therapy_implication(GenotypeDetail.KIT9)
    assert implication.imatinib_sensitivity is ImatinibSensitivity.INTERMEDIATE
    assert "800 mg/day" in implication.dose_note
    assert "advanced" in implication.dose_note.lower()
    assert any("MetaGIST" in source for source in implication.sources)


@pytest.mark.parametrize("detail", [d for d in GenotypeDetail if d.is_kit])
def test_kit_rows_list_the_agents_for_secondary_exon_13_and_17(detail):
    agents = " ".join(therapy_implication(detail).alternative_agents)
    # ESMO-EURACAN-GENTURIS 2022: sunitinib 2nd, regorafenib 3rd, ripretinib 4th line
    assert agents.index("sunitinib (2nd line") < agents.index("regorafenib (3rd line")
    assert agents.index("regorafenib (3rd line") < agents.index("ripretinib (4th line")
    assert "secondary KIT exon 13 or 14" in agents and "exon 17" in agents


@pytest.mark.parametrize(
    ("detail", "sensitivity"),
    [
        (GenotypeDetail.KIT11_DEL_557_558, ImatinibSensitivity.SENSITIVE),
        (GenotypeDetail.KIT11_DUPLICATION, ImatinibSensitivity.SENSITIVE),
        (GenotypeDetail.PDGFRA_OTHER, ImatinibSensitivity.SENSITIVE),
        (GenotypeDetail.WT_SDH_DEFICIENT, ImatinibSensitivity.LITTLE_BENEFIT),
        (GenotypeDetail.WT_NF1, ImatinibSensitivity.LITTLE_BENEFIT),
        (GenotypeDetail.UNKNOWN, ImatinibSensitivity.UNKNOWN),
    ],
)
def test_sensitivity_per_genotype(detail, sensitivity):
    assert therapy_implication(detail).imatinib_sensitivity is sensitivity


@pytest.mark.parametrize("detail", list(GenotypeDetail))
@pytest.mark.parametrize("risk", list(RiskClass))
def test_adjuvant_only_for_high_risk_imatinib_sensitive(detail, risk):
    implication = therapy_implication(detail, risk, _scheme_of(risk))
    sensitive = implication.imatinib_sensitivity in SENSITIVE_FOR_ADJUVANT
    assert (implication.adjuvant_imatinib is True) == (sensitive and risk is RiskClass.HIGH)
    if implication.adjuvant_imatinib:
        assert "3 years" in implication.adjuvant_note
    assert implication.risk_class is risk


@pytest.mark.parametrize(
    "detail",
    [GenotypeDetail.PDGFRA_D842V, GenotypeDetail.WT_SDH_DEFICIENT, GenotypeDetail.WT_NF1],
)
def test_no_adjuvant_for_d842v_sdh_deficient_nf1_even_at_high_risk(detail):
    implication = therapy_implication(detail, RiskClass.HIGH)
    assert implication.adjuvant_imatinib is False
    assert "not recommended" in implication.adjuvant_note


def test_adjuvant_needs_a_risk_class_or_a_genotype_to_be_decided():
    assert therapy_implication(GenotypeDetail.KIT11_DEL_OTHER).adjuvant_imatinib is None
    unknown = therapy_implication(GenotypeDetail.UNKNOWN, RiskClass.HIGH)
    assert unknown.adjuvant_imatinib is None
    assert "genotype" in unknown.adjuvant_note
    insufficient = therapy_implication(
        GenotypeDetail.KIT9, RiskClass.INSUFFICIENT_DATA, RiskScheme.AFIP_2006
    )
    assert insufficient.adjuvant_imatinib is None


def test_strings_are_normalised_to_enums():
    implication = therapy_implication("kit11_del_557_558", "high")
    assert implication.detail is GenotypeDetail.KIT11_DEL_557_558
    assert implication.risk_class is RiskClass.HIGH
    assert implication.adjuvant_imatinib is True


# --- the adjuvant call per genotype x risk class, against the guidelines ------------------
#
# Guideline statements the table below encodes (paraphrased, not quoted):
# [NCCN]   NCCN Guidelines, Gastrointestinal Stromal Tumors: postoperative imatinib is
#          considered for intermediate risk and advised for high risk of recurrence.
# [ESMO]   Casali et al., ESMO-EURACAN-GENTURIS guidelines, Ann Oncol 2022;33:20: 3 years of
#          adjuvant imatinib is standard for a significant (high) risk of relapse; no
#          adjuvant therapy for low-risk GIST; intermediate risk is a grey zone for a shared
#          decision; PDGFRA D842V, NF1-related and SDH-deficient GIST should not receive
#          adjuvant imatinib; for KIT exon 9 some use 800 mg/day in the adjuvant setting,
#          without prospective evidence (the adjuvant trials used 400 mg/day).
# [FDA-A]  AYVAKIT (avapritinib) label, Jan 2020: unresectable or metastatic GIST with a
#          PDGFRA exon 18 mutation, including D842V; no adjuvant indication.
# [FDA-N]  Larotrectinib (2018) and entrectinib (2019): solid tumours with an NTRK gene
#          fusion, tumour-agnostic.
# [MetaGIST] J Clin Oncol 2010;28:1247: 800 mg/day in advanced KIT exon 9 GIST.
# [Onkopedia] 2024: KIT/PDGFRA wild-type and PDGFRA D842V GIST are imatinib-resistant.

RECOMMENDED, CONSIDER = AdjuvantCall.RECOMMENDED, AdjuvantCall.CONSIDER
NOT_RECOMMENDED, UNDECIDED = AdjuvantCall.NOT_RECOMMENDED, AdjuvantCall.UNDECIDED
LOW_TIER = (RiskClass.NONE, RiskClass.VERY_LOW, RiskClass.LOW)
INTERMEDIATE_TIER = (RiskClass.INTERMEDIATE, RiskClass.MODERATE)
INSENSITIVE = (
    GenotypeDetail.PDGFRA_D842V,  # [ESMO], [Onkopedia]
    GenotypeDetail.WT_SDH_DEFICIENT,  # [ESMO]
    GenotypeDetail.WT_NF1,  # [ESMO]
    GenotypeDetail.WT_OTHER,  # [Onkopedia]
)

#: (low tier, intermediate tier, high, insufficient data) per kind of genotype.
GUIDELINE_TABLE = {
    # imatinib-sensitive: none at low risk [ESMO]; consider at intermediate [NCCN], [ESMO];
    # 3 years at high risk [ESMO], [NCCN]
    "sensitive": (NOT_RECOMMENDED, CONSIDER, RECOMMENDED, UNDECIDED),
    # insensitive: never [ESMO], [Onkopedia]
    "insensitive": (NOT_RECOMMENDED, NOT_RECOMMENDED, NOT_RECOMMENDED, NOT_RECOMMENDED),
    # unknown: none at low risk whatever the genotype [ESMO]; otherwise genotype first
    "unknown": (NOT_RECOMMENDED, UNDECIDED, UNDECIDED, UNDECIDED),
}

#: phrases that carry each call; a note carrying two calls contradicts itself.
CALL_PHRASES = {
    RECOMMENDED: ("3 years of adjuvant imatinib: high risk",),
    CONSIDER: ("Consider adjuvant imatinib; shared decision",),
    NOT_RECOMMENDED: ("No adjuvant therapy, whatever the genotype", "not recommended"),
}
NEVER = ("at none", "none risk", "not indicated at", "not adjuvant candidates", "cannot decide")


def _kind(detail: GenotypeDetail) -> str:
    if detail is GenotypeDetail.UNKNOWN:
        return "unknown"
    return "insensitive" if detail in INSENSITIVE else "sensitive"


def _expected(detail: GenotypeDetail, risk: RiskClass) -> AdjuvantCall:
    low, intermediate, high, insufficient = GUIDELINE_TABLE[_kind(detail)]
    if risk in LOW_TIER:
        return low
    if risk in INTERMEDIATE_TIER:
        return intermediate
    return high if risk is RiskClass.HIGH else insufficient


@pytest.mark.parametrize(("scheme", "risk"), SCHEME_AND_CLASS)
@pytest.mark.parametrize("detail", list(GenotypeDetail))
def test_adjuvant_call_follows_the_guideline_table(detail, risk, scheme):
    implication = therapy_implication(detail, risk, scheme)
    assert implication.adjuvant is _expected(detail, risk)
    note = implication.adjuvant_note
    assert note.startswith(f"{scheme.label} risk: ")  # names the scheme it used
    carried = [call for call, phrases in CALL_PHRASES.items() if any(p in note for p in phrases)]
    if implication.adjuvant is UNDECIDED:
        assert carried == []
    else:
        assert carried == [implication.adjuvant], note  # exactly one call, no contradiction
    for phrase in NEVER:
        assert phrase not in note


@pytest.mark.parametrize("detail", list(GenotypeDetail))
def test_low_risk_means_no_adjuvant_therapy_whatever_the_genotype(detail):
    for risk in LOW_TIER:
        note = therapy_implication(detail, risk, RiskScheme.AFIP_2006).adjuvant_note
        assert "No adjuvant therapy, whatever the genotype" in note


def test_afip_no_risk_group_reads_none_not_at_none_risk():
    note = therapy_implication(GenotypeDetail.KIT9, RiskClass.NONE, "afip2006").adjuvant_note
    assert note.startswith("AFIP 2006 risk: none (0 % progression). No adjuvant therapy")


@pytest.mark.parametrize("risk", INTERMEDIATE_TIER)
def test_intermediate_risk_is_a_shared_decision_naming_nccn_and_esmo(risk):
    note = therapy_implication(
        GenotypeDetail.KIT11_DEL_557_558, risk, _scheme_of(risk)
    ).adjuvant_note
    assert "Consider adjuvant imatinib; shared decision" in note
    assert "NCCN: consider" in note and "grey zone" in note


def test_the_same_tumour_under_two_schemes_names_each():
    # Jejunum 7 cm, 3 mitoses: AFIP moderate (24 %), modified NIH high (gist_facts 3.4).
    afip = therapy_implication(GenotypeDetail.KIT9, RiskClass.MODERATE, RiskScheme.AFIP_2006)
    joensuu = therapy_implication(GenotypeDetail.KIT9, RiskClass.HIGH, "joensuu2008")
    assert afip.adjuvant_note.startswith("AFIP 2006 risk: moderate.")
    assert joensuu.adjuvant_note.startswith("Modified NIH 2008 risk: high.")
    assert (afip.adjuvant, joensuu.adjuvant) == (CONSIDER, RECOMMENDED)


def test_avapritinib_for_unresectable_or_metastatic_d842v_only():
    implication = therapy_implication(GenotypeDetail.PDGFRA_D842V, RiskClass.HIGH)
    (agent,) = implication.alternative_agents
    assert "unresectable or metastatic" in agent and "no adjuvant role" in agent
    assert "not as adjuvant therapy" in implication.adjuvant_note
    assert any("AYVAKIT" in source for source in implication.sources)


def test_exon_9_dose_in_advanced_and_adjuvant_settings():
    implication = therapy_implication(GenotypeDetail.KIT9, RiskClass.HIGH)
    assert "Advanced disease: 800 mg/day" in implication.dose_note
    assert "Adjuvant dose 400 mg/day as in the trials" in implication.adjuvant_note
    assert "without prospective evidence" in implication.adjuvant_note
    both = implication.dose_note + " " + implication.adjuvant_note
    assert both.count("prospective evidence") == 1  # said once, where it applies


def test_quadruple_wild_type_mentions_ntrk_fusion_testing():
    implication = therapy_implication(GenotypeDetail.WT_OTHER)
    assert "NTRK" in implication.clinical_data
    assert any("larotrectinib or entrectinib" in a for a in implication.alternative_agents)
    high = therapy_implication(GenotypeDetail.WT_OTHER, RiskClass.HIGH).adjuvant_note
    assert "NTRK fusion" in high and "larotrectinib" in high


@pytest.mark.parametrize("detail", [GenotypeDetail.KIT11_DUPLICATION, GenotypeDetail.PDGFRA_OTHER])
def test_favourable_genotypes_at_high_risk_recommend_with_a_caveat_not_a_contradiction(detail):
    note = therapy_implication(detail, RiskClass.HIGH).adjuvant_note
    assert "3 years of adjuvant imatinib" in note
    assert "not recommended" not in note and "No adjuvant" not in note
    assert "may" in note  # the caveat: the risk class may overstate the risk


@pytest.mark.parametrize(
    ("risk", "scheme"),
    [
        (RiskClass.MODERATE, RiskScheme.MODIFIED_NIH_2008),  # AFIP's word, not Joensuu's
        (RiskClass.NONE, RiskScheme.NIH_2002),  # AFIP's "none (0 %)" group
        (RiskClass.INTERMEDIATE, RiskScheme.AFIP_2006),
        (RiskClass.INSUFFICIENT_DATA, RiskScheme.NIH_2002),
    ],
)
def test_a_class_the_scheme_does_not_have_is_refused(risk, scheme):
    with pytest.raises(ValidationError, match=f"{scheme.value} has no risk class '{risk.value}'"):
        therapy_implication(GenotypeDetail.KIT11_DEL_557_558, risk, scheme)

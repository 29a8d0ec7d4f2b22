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
    ImatinibSensitivity,
    therapy_implication,
    therapy_table,
)
from gistcad.domain import GenotypeDetail, RiskClass

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
        for risk in [None, *RiskClass]:
            assert therapy_implication(detail, risk).disclaimer == DISCLAIMER


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
    assert "sunitinib (secondary KIT exon 13" in agents
    assert "regorafenib (secondary KIT exon 17" in agents
    assert "ripretinib (secondary KIT exon 17" in agents


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
    implication = therapy_implication(detail, risk)
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
    insufficient = therapy_implication(GenotypeDetail.KIT9, RiskClass.INSUFFICIENT_DATA)
    assert insufficient.adjuvant_imatinib is None


def test_strings_are_normalised_to_enums():
    implication = therapy_implication("kit11_del_557_558", "high")
    assert implication.detail is GenotypeDetail.KIT11_DEL_557_558
    assert implication.risk_class is RiskClass.HIGH
    assert implication.adjuvant_imatinib is True

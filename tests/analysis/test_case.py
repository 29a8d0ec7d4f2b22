"""The tumour board's assessment of one case."""

from __future__ import annotations

from gistcad.analysis.case import assess_case
from gistcad.analysis.recurrence import RECURRENCE_LABEL
from gistcad.domain import RiskClass, RiskScheme


def test_full_case() -> None:
    case = assess_case(
        site="jejunum_ileum",
        size_cm=7,
        mitotic_count=3,
        mitotic_unit="per_50hpf",
        rupture=False,
        genotype="kit11_del_557_558",
    )
    assert case.unclassified_reason is None
    assert case.risks[RiskScheme.AFIP_2006].progression_risk_percent == 24
    assert case.risks[RiskScheme.MODIFIED_NIH_2008].risk_class is RiskClass.HIGH
    assert case.recurrence is not None and case.recurrence.rfs_5y < case.recurrence.rfs_2y
    assert case.recurrence.label == RECURRENCE_LABEL
    assert case.therapy.adjuvant_imatinib is True  # high risk, imatinib-sensitive
    assert case.therapy.adjuvant_note.startswith("Modified NIH 2008 risk: high. 3 years")
    # AFIP moderate (24 %) and NIH intermediate would make it a shared decision
    assert case.other_schemes == (
        "NIH 2002 risk: intermediate → adjuvant imatinib: consider.",
        "AFIP 2006 risk: moderate → adjuvant imatinib: consider.",
    )


def test_seven_cm_jejunal_gist_with_eight_mitoses_agrees_with_afip() -> None:
    # AFIP group 6a, jejunum/ileum: 85 % progressive disease during long-term follow-up.
    case = assess_case(
        site="jejunum_ileum",
        size_cm=7,
        mitotic_count=8,
        mitotic_unit="per_50hpf",
        rupture=False,
        genotype="kit11_del_557_558",
    )
    assert case.risks[RiskScheme.AFIP_2006].progression_risk_percent == 85
    assert case.recurrence is not None
    assert abs(case.recurrence.long_term_progression - 0.85) <= 0.07
    assert case.recurrence.rfs_5y >= 0.15
    assert case.therapy.adjuvant_note.startswith(
        "Modified NIH 2008 risk: high. 3 years of adjuvant imatinib"
    )
    assert case.other_schemes == ()  # high under every scheme


def test_missing_values_are_not_guessed() -> None:
    missing = assess_case(
        site="stomach",
        size_cm=None,
        mitotic_count=None,
        mitotic_unit=None,
        rupture=None,
        genotype="pdgfra_d842v",
    )
    assert missing.risks == {} and missing.recurrence is None
    assert missing.unclassified_reason == "not classifiable: size, mitotic count unknown"
    assert missing.therapy.adjuvant_imatinib is False  # D842V: resistant whatever the risk


def test_count_per_5mm2_is_classified_with_a_note() -> None:
    per_area = assess_case(
        site="stomach",
        size_cm=4,
        mitotic_count=8,
        mitotic_unit="per_5mm2",
        rupture=False,
        genotype="unknown",
    )
    assert per_area.unclassified_reason is None
    assert per_area.risks[RiskScheme.AFIP_2006].progression_risk_percent == 16
    assert any("WHO 2019" in n for n in per_area.risks[RiskScheme.NIH_2002].notes)
    assert per_area.recurrence is not None
    assert any("WHO 2019" in n for n in per_area.recurrence.notes)


def test_a_size_that_looks_like_millimetres_is_not_classified() -> None:
    case = assess_case(
        site="stomach",
        size_cm=70,
        mitotic_count=2,
        mitotic_unit="per_50hpf",
        rupture=False,
        genotype="kit9",
    )
    assert case.risks == {} and case.recurrence is None
    assert "looks like millimetres" in (case.unclassified_reason or "")

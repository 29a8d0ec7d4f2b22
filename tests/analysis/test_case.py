"""The tumour board's assessment of one case."""

from __future__ import annotations

from gistcad.analysis.case import assess_case
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
    assert case.mskcc is not None and case.mskcc.rfs_5y < case.mskcc.rfs_2y
    assert case.therapy.adjuvant_imatinib is True  # high risk, imatinib-sensitive


def test_missing_values_and_per_5mm2_are_not_guessed() -> None:
    missing = assess_case(
        site="stomach",
        size_cm=None,
        mitotic_count=None,
        mitotic_unit=None,
        rupture=None,
        genotype="pdgfra_d842v",
    )
    assert missing.risks == {} and missing.mskcc is None
    assert missing.unclassified_reason == "not classifiable: size, mitotic count unknown"
    assert missing.therapy.adjuvant_imatinib is False  # D842V: resistant whatever the risk
    per_area = assess_case(
        site="stomach",
        size_cm=4,
        mitotic_count=8,
        mitotic_unit="per_5mm2",
        rupture=False,
        genotype="unknown",
    )
    assert per_area.risks == {}
    assert "per 5 mm²" in (per_area.unclassified_reason or "")
    assert per_area.therapy.adjuvant_imatinib is None

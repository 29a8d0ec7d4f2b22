"""The one-page case report is self-contained, escaped and states the disclaimer."""

from __future__ import annotations

import datetime as dt

import numpy as np

from gistcad.analysis.case import assess_case
from gistcad.viewer.report import CaseFacts, case_report_html


def test_report_content() -> None:
    assessment = assess_case(
        site="stomach",
        size_cm=12,
        mitotic_count=2,
        mitotic_unit="per_50hpf",
        rupture=False,
        genotype="pdgfra_d842v",
    )
    facts = CaseFacts(
        pseudonym="GIST-ABC<script>",
        center="Lyon",
        facts={"Site": "stomach", "Size": "12 cm"},
        genotype="pdgfra_d842v",
        predictions=["clin (clinical): pdgfra 61 %"],
        follow_up="RFS 40 months, no recurrence",
    )
    page = case_report_html(
        facts,
        assessment,
        ct_slice=np.zeros((8, 8, 3), np.uint8),
        ct_caption="axial 12",
        measures={"Longest axial diameter": "118 mm"},
        today=dt.date(2026, 1, 2),
    )
    assert page.startswith("<!DOCTYPE html>") and "2026-01-02" in page
    assert "GIST-ABC&lt;script&gt;" in page and "<script>" not in page
    assert "data:image/png;base64," in page and "118 mm" in page
    assert "Moderate (10 %)" in page  # AFIP gastric > 10 cm, <= 5 mitoses
    assert "Research use only — not treatment advice." in page
    assert "resistant" in page
    assert "Adjuvant imatinib: <b>not recommended</b>. Modified NIH 2008 risk: high." in page
    assert "Other schemes would change the call" not in page  # D842V: never, whatever the risk
    assert "AFIP-fitted recurrence estimate — not the MSKCC nomogram" in page
    assert "free of recurrence at 5 years" in page and "sizes up to 40 cm" in page

"""The one-page case report is self-contained, escaped and states the disclaimer."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import replace

import numpy as np
import pandas as pd

from gistcad.analysis.case import case_card
from gistcad.store.queries import CaseRows
from gistcad.viewer.report import KeySlice, case_report_html


def _rows(pseudonym: str = "GIST-ABC<script>") -> CaseRows:
    return CaseRows(
        patient_id=1,
        pseudonym=pseudonym,
        center="Lyon",
        sex="female",
        age_at_diagnosis=61.0,
        primary_tumour={
            "site": "stomach",
            "sub_site": "antrum",
            "size_cm": 12.0,
            "mitotic_count": 2.0,
            "mitotic_unit": "per_50hpf",
            "rupture": 0,
            "genotype_detail": "pdgfra_d842v",
            "genotype_text": "PDGFRA p.D842V",
        },
        outcome={"rfs_months": 40.0, "rfs_event": 0, "os_months": 46.0, "os_event": 0},
        predictions=pd.DataFrame(
            [
                {
                    "model": "clin",
                    "kind": "clinical",
                    "created_at": dt.datetime(2026, 1, 1),
                    "predicted_class": "pdgfra",
                    "probabilities": {"pdgfra": 0.61, "kit11": 0.39},
                    "trained_on": False,
                    "out_of_fold": None,
                    "validation": None,
                }
            ]
        ),
        series=pd.DataFrame(),
    )


def test_report_content() -> None:
    page = case_report_html(
        case_card(_rows()),
        KeySlice(np.zeros((8, 8, 3), np.uint8), "axial 12", {"Longest axial diameter": "118 mm"}),
        today=dt.date(2026, 1, 2),
    )
    assert page.startswith("<!DOCTYPE html>") and "2026-01-02" in page
    assert "GIST-ABC&lt;script&gt;" in page and "<script>" not in page
    assert "data:image/png;base64," in page and "118 mm" in page
    assert "Moderate (10 %)" in page  # AFIP gastric > 10 cm, <= 5 mitoses
    assert "True genotype: PDGFRA D842V (PDGFRA p.D842V)" in page  # label, then as reported
    assert "pdgfra_d842v" not in page
    assert "<td>Modified NIH 2008</td><td>High</td>" in page  # the scheme's label
    assert "<th>Site</th><td>Stomach</td>" in page and "2 / 50 HPF" in page
    assert "Research use only — not treatment advice." in page
    assert "resistant" in page
    assert "Adjuvant imatinib: <b>not recommended</b>. Modified NIH 2008 risk: high." in page
    assert "Other schemes would change the call" not in page  # D842V: never, whatever the risk
    assert "AFIP-fitted recurrence estimate — not the MSKCC nomogram" in page
    assert "free of recurrence at 5 years" in page and "sizes up to 40 cm" in page
    assert "clin (Clinical, 2026-01-01), final model, not trained on: PDGFRA" in page
    assert "Recurrence-free: 40 mo (no recurrence); Overall: 46 mo (alive)" in page


def test_report_without_ct_or_classification() -> None:
    rows = _rows("P-1")
    rows = CaseRows(**{**rows.__dict__, "primary_tumour": {"site": "stomach"}})
    page = case_report_html(case_card(rows), today=dt.date(2026, 1, 2))
    assert "No CT imported." in page
    assert "not classifiable: size, mitotic count unknown" in page


def test_report_names_the_recommended_genotype_model_and_lists_the_others() -> None:
    rows = _rows()
    base = rows.predictions.iloc[0].to_dict()
    validated = {
        **base,
        "model_version_id": 2,
        "model": "radio",
        "target": "kit11",
        "probabilities": {"not_kit11": 0.4, "kit11": 0.6},
        "trained_on": True,
        "out_of_fold": {"not_kit11": 0.3, "kit11": 0.7},
        "validation": "kfold",
        "pooled": {"kit11_vs_rest": {"auc": 0.81, "ci_lower": 0.74, "ci_upper": 0.87, "n": 200}},
    }
    hold_out = {
        **base,
        "model_version_id": 3,
        "model": "deep",
        "target": "genotype",
        "validation": "holdout",
        "pooled": {"kit11_vs_rest": {"auc": 0.9, "ci_lower": None, "ci_upper": None, "n": 50}},
    }
    page = case_report_html(
        case_card(replace(rows, predictions=pd.DataFrame([validated, hold_out]))),
        today=dt.date(2026, 1, 2),
    )
    assert (
        "<b>Recommended model: radio, the best validated for KIT exon 11 vs rest: out-of-fold "
        "AUC 0.81 (95 % CI 0.74–0.87), 200 patients, k-fold cross-validation.</b>"
    ) in page
    assert (
        "radio: KIT exon 11 (KIT exon 11 70%, Not KIT exon 11 30%); this patient: out-of-fold"
        in page
    )
    assert "<p>Other models:</p><ul><li>deep: PDGFRA" in page
    text = re.sub(r"data:[^\"']+", "", page)  # the key slice's image left out
    assert not {"kit11", "not_kit11", "pdgfra"} & set(re.findall(r"[a-z0-9_]+", text))
    assert "this patient: not trained on this patient; AUC 0.90 (CI not estimable)" in page


def test_report_gives_the_imaging_risk_score_with_its_tertile_under_the_schemes() -> None:
    rows = _rows()
    score = {
        **rows.predictions.iloc[0].to_dict(),
        "model_version_id": 7,
        "model": "rfs-score",
        "target": "rfs",
        "predicted_class": "no_recurrence_5y",
        "probabilities": {"no_recurrence_5y": 0.8, "recurrence_5y": 0.2},
        "risk_score": 1.5,
        "out_of_fold_risk_score": None,
        "training_risk_scores": [0.0, 1.0, 2.0],  # middle from 1.0, high from 2.0
    }
    page = case_report_html(
        case_card(replace(rows, predictions=pd.DataFrame([score]))), today=dt.date(2026, 1, 2)
    )
    risk_part = page.split("<h2>Risk of recurrence</h2>")[1].split("<h2>Genotype</h2>")[0]
    assert (
        "<p>Imaging risk score 1.50 (rfs-score, version 7): Middle tertile of 3 training "
        "patients&#x27; out-of-fold scores; final model, not trained on this patient</p>"
    ) in risk_part


def test_report_gives_a_training_patient_no_in_sample_score_or_class() -> None:
    # an rfs model trained with ``--cv holdout`` on this patient: its final score (2.00) and
    # class are in-sample, and the patient has no out-of-fold ones
    rows = _rows()
    holdout = {
        **rows.predictions.iloc[0].to_dict(),
        "model_version_id": 1,
        "model": "rfs-holdout",
        "target": "rfs",
        "predicted_class": "recurrence_5y",
        "probabilities": {"no_recurrence_5y": 0.1, "recurrence_5y": 0.9},
        "trained_on": True,
        "validation": "holdout",
        "risk_score": 2.0,
        "out_of_fold_risk_score": None,
        "training_risk_scores": [0.0, 0.5, 1.0, 1.5, 2.5, 3.0],
    }
    page = case_report_html(
        case_card(replace(rows, predictions=pd.DataFrame([holdout]))), today=dt.date(2026, 1, 2)
    )
    assert (
        "<p>Imaging risk score (rfs-holdout, version 1): not shown — the model was trained on "
        "this patient and has no out-of-fold score of them, so its score would be in-sample</p>"
    ) in page
    assert "2.00" not in page and "tertile" not in page
    assert (
        "<li>rfs-holdout (Clinical, 2026-01-01): no prediction shown — this patient was used "
        "to train rfs-holdout, which has no out-of-fold prediction of them (hold-out); its "
        "final prediction would be in-sample.</li>"
    ) in page
    assert "Recurrence by 5 years" not in page and "90%" not in page

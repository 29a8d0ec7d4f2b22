"""``gistcad risk`` and ``gistcad therapy`` on the reference vectors of the risk tables."""

from __future__ import annotations

import json

import pytest

from gistcad.cli import main


def _risk_json(capsys: pytest.CaptureFixture[str], *args: str) -> dict:
    assert main(["risk", *args, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_jejunum_7cm_3_mitoses(capsys: pytest.CaptureFixture[str]) -> None:
    # gist_facts section 3.4: NIH intermediate, AFIP moderate (24 %), modified NIH high.
    out = _risk_json(capsys, "--site", "jejunum", "--size-cm", "7", "--mitoses", "3")
    schemes = out["schemes"]
    assert schemes["nih2002"]["risk_class"] == "intermediate"
    assert schemes["afip2006"]["risk_class"] == "moderate"
    assert schemes["afip2006"]["progression_risk_percent"] == 24
    assert schemes["joensuu2008"]["risk_class"] == "high"
    assert out["input"]["site"] == "jejunum_ileum"
    recurrence = out["recurrence"]
    assert "not the MSKCC nomogram" in recurrence["label"]
    assert 0 < recurrence["rfs_10y"] < recurrence["rfs_5y"] < recurrence["rfs_2y"] < 1
    # AFIP jejunum/ileum 5.1-10 cm, <= 5 mitoses: 24 % progressive disease in the long term
    assert abs(recurrence["long_term_progression"] - 0.24) <= 0.07
    assert recurrence["rfs_5y"] >= 1 - 0.24
    assert any("AFIP" in limit for limit in recurrence["limits"])


def test_rupture_and_options(capsys: pytest.CaptureFixture[str]) -> None:
    args = ["--site", "stomach", "--size-cm", "12", "--mitoses", "2"]
    assert _risk_json(capsys, *args)["schemes"]["afip2006"]["progression_risk_percent"] == 10
    out = _risk_json(capsys, *args, "--afip-gastric-3b", "12")
    assert out["schemes"]["afip2006"]["progression_risk_percent"] == 12
    small = ["--site", "stomach", "--size-cm", "3", "--mitoses", "2"]
    assert _risk_json(capsys, *small)["schemes"]["joensuu2008"]["risk_class"] == "low"
    ruptured = _risk_json(capsys, *small, "--rupture")
    assert ruptured["schemes"]["joensuu2008"]["risk_class"] == "high"
    assert any("rupture" in n for n in ruptured["schemes"]["nih2002"]["notes"])


def test_text_output_names_every_scheme(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["risk", "--site", "ileum", "--size-cm", "4", "--mitoses", "8"]) == 0
    text = capsys.readouterr().out
    for name in ("NIH 2002", "AFIP", "Modified NIH", "High (73 %)", "not the MSKCC nomogram"):
        assert name in text
    assert "free of recurrence at 5 years" in text and "limit: " in text


def test_count_per_5mm2_uses_the_same_thresholds_and_says_so(
    capsys: pytest.CaptureFixture[str],
) -> None:
    args = ["--site", "stomach", "--size-cm", "4", "--mitoses", "8", "--per", "5mm2"]
    out = _risk_json(capsys, *args)
    assert out["schemes"]["afip2006"]["progression_risk_percent"] == 16
    assert all(any("WHO 2019" in n for n in scheme["notes"]) for scheme in out["schemes"].values())
    assert any("WHO 2019" in n for n in out["recurrence"]["notes"])


def test_a_size_in_millimetres_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["risk", "--site", "stomach", "--size-cm", "70", "--mitoses", "8"]) == 2
    assert "looks like millimetres" in capsys.readouterr().err


def test_unknown_site_lists_the_allowed_ones(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["risk", "--site", "liver", "--size-cm", "4", "--mitoses", "1"]) == 2
    assert "unknown primary site 'liver'" in capsys.readouterr().err


def test_therapy_for_d842v(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["therapy", "--genotype", "pdgfra_d842v", "--risk-class", "high", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["imatinib_sensitivity"] == "resistant"
    assert out["adjuvant_imatinib"] is False
    assert any("avapritinib" in a for a in out["alternative_agents"])
    assert out["disclaimer"] == "Research use only — not treatment advice."


def test_therapy_table_lists_every_genotype(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["therapy"]) == 0
    text = capsys.readouterr().out
    assert "kit9: imatinib intermediate" in text
    assert "800 mg" in text
    assert text.rstrip().endswith("Research use only — not treatment advice.")


def test_therapy_note_names_the_scheme_given(capsys: pytest.CaptureFixture[str]) -> None:
    args = ["therapy", "--genotype", "kit9", "--risk-class", "moderate", "--scheme", "afip2006"]
    assert main([*args, "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["adjuvant"] == "consider" and out["adjuvant_imatinib"] is None
    assert out["adjuvant_note"].startswith("AFIP 2006 risk: moderate. Consider adjuvant imatinib")
    assert main(args) == 0
    assert "Adjuvant (consider): AFIP 2006 risk: moderate." in capsys.readouterr().out

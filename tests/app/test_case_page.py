"""AppTest of the case view: search, card, risk by scheme, predictions, therapy note."""

from __future__ import annotations

from sqlalchemy import Engine, select, update
from sqlalchemy.orm import Session
from streamlit.testing.v1 import AppTest

from gistcad.domain import ContrastPhase, ModelKind
from gistcad.modelling.targets import Target
from gistcad.store.models import ModelVersion, Patient, Prediction, Series
from tests.app.conftest import open_page
from tests.factories import add_validated_model, seed_cohort


def _page(query: dict[str, str] | None = None) -> AppTest:
    return open_page("views/case.py", query)


def test_search_then_card(seeded: dict) -> None:
    at = _page()
    assert any("Type a pseudonym" in i.value for i in at.info)
    at.text_input(key="case_search").input("P-00").run()
    assert not at.exception, at.exception
    assert at.selectbox(key="case_pick").options[:2] == ["P-000", "P-001"]
    at.selectbox(key="case_pick").select("P-002").run()
    assert at.header[0].value == "P-002"
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Center"] == "Alpha" and metrics["Site"] == "Stomach"
    risk = at.dataframe[0].value
    assert list(risk["Scheme"]) == ["NIH 2002", "AFIP 2006", "Modified NIH 2008"]
    text = " ".join(m.value for m in at.markdown)
    assert "True genotype: **PDGFRA D842V**" in text  # the label, never the code
    assert "clinical-v1: **" in text  # a genotype model, not validated: folded, not recommended
    assert any("Validation: not validated out of fold" in c.value for c in at.caption)
    assert "Imatinib sensitivity: **resistant**" in text
    assert "Adjuvant imatinib: **not recommended**. " in text
    assert "— *AFIP-fitted recurrence estimate — not the MSKCC nomogram*" in text
    assert any("sizes up to 40 cm" in c.value for c in at.caption)
    assert any("Research use only" in w.value for w in at.warning)


def test_a_link_opens_the_case_and_unknown_pseudonym_warns(seeded: None) -> None:
    at = _page({"patient": "P-010"})
    assert at.header[0].value == "P-010"
    at.text_input(key="case_search").input("nobody").run()
    assert any("No patient in your scope matches 'nobody'" in w.value for w in at.warning)


def test_predictions_say_out_of_fold_or_final_model(app_db: Engine, seeded: dict) -> None:
    with Session(app_db) as s:
        trained = s.scalars(select(Patient.id).where(Patient.pseudonym == "P-002")).one()
        unseen = s.scalars(select(Patient.id).where(Patient.pseudonym == "P-003")).one()
        add_validated_model(s, "kfold", {trained: 0.9, unseen: 0.8}, {trained: 0.2}, [trained])
        s.commit()
    at = _page({"patient": "P-002"})
    text = " ".join(m.value for m in at.markdown)
    # the out-of-fold prediction is the one shown for a training patient, and said so
    assert "kfold: **Not KIT exon 11** — KIT exon 11 20%, Not KIT exon 11 80%" in text
    captions = " ".join(c.value for c in at.caption)
    assert "This patient: out-of-fold (fitted without this patient)." in captions
    assert "kfold was trained on this patient: its final prediction is in-sample" in captions
    at = _page({"patient": "P-003"})
    text = " ".join(m.value for m in at.markdown)
    assert "kfold: **KIT exon 11** — KIT exon 11 80%, Not KIT exon 11 20%" in text
    captions = " ".join(c.value for c in at.caption)
    assert "This patient: not trained on this patient." in captions
    assert "out-of-fold (fitted" not in captions


def test_the_ct_caption_names_the_contrast_phase_in_words(app_db: Engine) -> None:
    with Session(app_db) as s:
        seed_cohort(s, n=6, with_series=True)
        s.execute(update(Series).values(phase=ContrastPhase.PORTAL_VENOUS))
        s.commit()
    at = _page({"patient": "P-001"})
    assert not at.exception, at.exception
    captions = " ".join(c.value for c in at.caption)
    assert "portal venous phase" in captions and "portal_venous" not in captions


def test_the_imaging_risk_score_shows_with_its_tertile_beside_the_schemes(
    app_db: Engine, seeded: dict
) -> None:
    # an rfs version as ``gistcad train --target rfs`` registers one: out-of-fold risk scores
    # of its training cohort (here P-000..P-005: 0.0, 0.1, ..., 0.5) and final predictions
    with Session(app_db) as s:
        ids = {p: i for p, i in s.execute(select(Patient.pseudonym, Patient.id))}
        training = [ids[f"P-{i:03d}"] for i in range(6)]
        version = ModelVersion(
            name="rfs-score",
            kind=ModelKind.RADIOMICS,
            target=Target.RFS.value,
            parameters={"scheme": "kfold", "classes": list(Target.RFS.classes)},
            metrics={
                "oof": [
                    {"patient_id": pid, "fold": "fold 1", "label": 0, "risk_score": i / 10}
                    | {"p_no_recurrence_5y": 0.9, "p_recurrence_5y": 0.1}
                    for i, pid in enumerate(training)
                ],
                "training_patients": training,
            },
        )
        s.add(version)
        s.flush()
        for pseudonym, score in (("P-002", 0.45), ("P-010", 0.47)):
            s.add(
                Prediction(
                    patient_id=ids[pseudonym],
                    model_version_id=version.id,
                    probabilities={"no_recurrence_5y": 0.8, "recurrence_5y": 0.2},
                    predicted_class="no_recurrence_5y",
                    risk_score=score,
                )
            )
        s.commit()
        number = version.id
    # tertiles of six scores: middle from 0.2, high from 0.4 (tests/analysis/test_imaging_risk)
    at = _page({"patient": "P-002"})
    assert not at.exception, at.exception
    text = " ".join(m.value for m in at.markdown)
    assert (
        f"Imaging risk score 0.20 (rfs-score, version {number}): Middle tertile of 6 training "
        "patients' out-of-fold scores; out-of-fold (fitted without this patient)"
    ) in text
    at = _page({"patient": "P-010"})
    text = " ".join(m.value for m in at.markdown)
    assert f"Imaging risk score 0.47 (rfs-score, version {number}): High tertile" in text
    assert "; final model" in text
    at = _page({"patient": "P-011"})  # not predicted by the score: no line
    assert "Imaging risk score" not in " ".join(m.value for m in at.markdown)

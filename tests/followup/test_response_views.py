"""The case view's follow-up section and the cohort's response statistics, from the store.

The two treated patients of tests/followup/treated.py: A-001 (KIT exon 11; RECIST SD and
Choi PR at follow-up 1, here overridden to RECIST PR by a reader; PD by both at follow-up 2) and
B-001 (PDGFRA; PR by both). Surgery 300 days after the start of imatinib; A-001 recurs 5 months
after surgery, B-001 is censored at 20.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from gistcad.domain import ModelKind, ResponseCategory, ResponseCriteria, Role
from gistcad.errors import NotFoundError
from gistcad.followup import override_category
from gistcad.followup.case import case_followup, percent
from gistcad.followup.cohort import DAYS_PER_MONTH, at_risk_times, response_cohort
from gistcad.store import AccessScope
from gistcad.store.models import Center, ModelVersion, Patient, Prediction
from gistcad.store.queries import CohortFilter
from tests.conftest import BACKENDS
from tests.factories import add_validated_model
from tests.followup.builders import START
from tests.followup.treated import add_treated_patients

ON_EVERY_BACKEND = pytest.mark.parametrize("engine", BACKENDS, indirect=True)

EVERYTHING = AccessScope.everything(user="operator")


@pytest.fixture
def engine_with_followup(engine: Engine, tmp_path: Path) -> Engine:
    with Session(engine) as s:
        add_treated_patients(s, tmp_path)
        override_category(
            s,
            EVERYTHING,
            "A-001",
            1,
            ResponseCriteria.RECIST_1_1,
            ResponseCategory.PARTIAL,
            "fig. 2",
        )
        s.commit()
    return engine


def test_at_risk_times_step_with_the_follow_up() -> None:
    assert at_risk_times(30.0) == (0.0, 6.0, 12.0, 18.0, 24.0, 30.0)
    assert at_risk_times(80.0) == (0.0, 12.0, 24.0, 36.0, 48.0, 60.0, 72.0)
    assert at_risk_times(250.0) == (0.0, 60.0, 120.0, 180.0, 240.0)


def test_percent_uses_a_true_minus_sign() -> None:
    assert percent(-0.2249) == "−22 %"
    assert percent(0.2) == "+20 %"
    assert percent(None) == ""


@ON_EVERY_BACKEND
def test_case_followup_timeline_lesions_categories_and_images(engine_with_followup: Engine) -> None:
    with Session(engine_with_followup) as s:
        case = case_followup(s, EVERYTHING, "A-001")
    assert case.has_follow_up
    timeline = case.timeline
    assert timeline["Timepoint"].tolist() == ["Baseline", "Follow-up 1", "Follow-up 2"]
    assert timeline["Days from treatment start"].tolist() == [0, 60, 120]
    assert timeline["Treatment line"].tolist() == ["line 1: imatinib 400 mg/day"] * 3
    assert timeline["RECIST 1.1"].tolist() == [
        "—",
        "PR (partial response)",  # the reader's category outranks the automatic SD
        "PD (progressive disease)",
    ]
    assert timeline["Choi"].tolist()[1] == "PR (partial response)"
    lesions = case.lesions
    assert set(lesions["Lesion"]) == {"1 (Liver)", "2 (Stomach)", "3 (Liver)"}
    assert "target" not in set(lesions["Role"])  # labels, not codes
    first = lesions[(lesions["Lesion"] == "2 (Stomach)") & (lesions["Timepoint"] == "Follow-up 1")]
    assert first["HU change"].item() == "−29 %"  # 70 → 50 HU
    categories = case.categories.set_index(["Timepoint", "Criteria"])
    recist = categories.loc[("Follow-up 1", "RECIST 1.1")]
    assert recist["Category"] == "PR (partial response)"
    assert recist["Automatic"].startswith("SD (stable disease) — ")
    assert recist["Reader"] == "PR (partial response) by operator: fig. 2"
    choi = categories.loc[("Follow-up 1", "Choi")]
    assert choi["Reason"] == "size −3 %, density −27 %"
    assert choi["Reader"] == ""
    assert sorted(case.images) == [0, 1, 2]
    assert case.images[0].lesion == case.images[2].lesion == 1  # the same lesion side by side
    assert case.images[1].mask is not None
    assert case.images[1].image[0] == "volumes/A-001/t1.nii"


@ON_EVERY_BACKEND
def test_response_cohort_waterfall_rates_agreement_and_landmark(
    engine_with_followup: Engine,
) -> None:
    with Session(engine_with_followup) as s:
        result = response_cohort(s, EVERYTHING)
    patients = result.patients.set_index("pseudonym")
    assert patients.loc["A-001", "genotype"] == "KIT exon 11"
    assert patients.loc["B-001", "best_size_change"] == pytest.approx(-0.35)
    assert patients.loc["A-001", "best_recist"] == "pr"  # the reader's
    assert patients.loc["A-001", "first_choi"] == "pr"
    assert patients.loc["A-001", "first_follow_up_months"] == pytest.approx(60 / DAYS_PER_MONTH)
    # moved from surgery to the treatment start: 300 days + 5 months
    assert patients.loc["A-001", "endpoint_months"] == pytest.approx(300 / DAYS_PER_MONTH + 5)
    rates = result.rates.set_index(["criteria", "grouping", "group"])
    kit = rates.loc[("Choi", "True genotype", "KIT exon 11")]
    assert (kit["n"], kit["responders"]) == (1, 1)
    assert kit["ci_low"] == pytest.approx(0.2065, abs=1e-3)  # Wilson 1/1: 1 / (1 + z²)
    assert "Predicted KIT exon 11 status" not in set(result.rates["grouping"])  # no model
    assert result.agreement is not None
    assert result.agreement.n == 2 and result.agreement.observed == 1.0
    assert result.landmark is not None
    assert result.landmark.landmark_time == 2.0  # the first follow-up, rounded up
    assert result.landmark.kept.tolist() == [True, True]
    assert set(result.landmark.comparison.curves) == {"PR (partial response)"}
    lines = result.lines.set_index("pseudonym")
    assert lines.loc["A-001", "drug"] == "imatinib"
    assert lines.loc["A-001", "stop_months"] == pytest.approx(300 / DAYS_PER_MONTH)
    marks = result.assessments
    assert len(marks[marks["pseudonym"] == "A-001"]) == 4  # two follow-ups × two criteria


@ON_EVERY_BACKEND
def test_response_cohort_landmark_after_an_event_leaves_the_patient_out(
    engine_with_followup: Engine,
) -> None:
    with Session(engine_with_followup) as s:
        result = response_cohort(s, EVERYTHING, landmark_months=15.0)
    assert result.landmark is not None
    assert result.landmark.kept.tolist() == [False, True]  # A-001 recurred at 14.9 months
    assert any("before the landmark at 15 months" in n for n in result.notes)


@ON_EVERY_BACKEND
def test_response_cohort_filters_and_scope(engine_with_followup: Engine) -> None:
    with Session(engine_with_followup) as s:
        beta = response_cohort(s, EVERYTHING, CohortFilter(centers=frozenset({"Beta"})))
        assert beta.patients["pseudonym"].tolist() == ["B-001"]  # C-001: the baseline only
        alpha_id = s.scalar(select(Center.id).where(Center.name == "Alpha"))
        alpha_only = AccessScope.centers(alpha_id, role=Role.CLINICIAN, user="x")
        assert response_cohort(s, alpha_only).patients["pseudonym"].tolist() == ["A-001"]
        with pytest.raises(NotFoundError):
            case_followup(s, alpha_only, "B-001")  # another center's patient: as if missing


@ON_EVERY_BACKEND
def test_response_rates_by_predicted_status_use_out_of_fold_predictions(
    engine_with_followup: Engine,
) -> None:
    with Session(engine_with_followup) as s:
        ids = dict(s.execute(select(Patient.pseudonym, Patient.id)).all())
        a, b = ids["A-001"], ids["B-001"]
        # trained on A-001: in-sample 0.9, out-of-fold 0.2; B-001 unseen: 0.8
        model = add_validated_model(s, "kit11-v1", {a: 0.9, b: 0.8}, {a: 0.2}, [a])
        s.commit()
        result = response_cohort(s, EVERYTHING, model=model)
    assert result.model_name == "kit11-v1"
    patients = result.patients.set_index("pseudonym")
    assert patients.loc["A-001", "predicted_status"] == "Not KIT exon 11"
    assert patients.loc["A-001", "prediction_source"] == "out-of-fold"
    assert patients.loc["B-001", "predicted_status"] == "KIT exon 11"
    assert patients.loc["B-001", "prediction_source"] == "final model, not trained on"
    rates = result.rates[result.rates["grouping"] == "Predicted KIT exon 11 status"]
    by_group = rates[rates["criteria"] == "RECIST 1.1"].set_index("group")
    assert by_group.index.tolist() == ["KIT exon 11", "Not KIT exon 11"]
    assert by_group["responders"].tolist() == [1, 1]  # B-001 PR; A-001 PR by the reader


@ON_EVERY_BACKEND
def test_an_endpoint_before_the_treatment_start_is_left_out_of_the_landmark(
    engine_with_followup: Engine,
) -> None:
    with Session(engine_with_followup) as s:
        b = s.scalars(select(Patient).where(Patient.pseudonym == "B-001")).one()
        # treated after a recurrence 8 months after surgery: imatinib starts 300 days later
        b.treatment.surgery_date = START - dt.timedelta(days=400)
        b.outcome.rfs_months, b.outcome.rfs_event = 8.0, 1
        s.commit()
        result = response_cohort(s, EVERYTHING)
    assert pd.isna(result.patients.set_index("pseudonym").loc["B-001", "endpoint_months"])
    assert result.landmark is not None
    assert result.landmark.comparison.summary["n"].sum() == 1  # A-001 alone
    assert any("1 patient(s) without a treatment start" in n for n in result.notes)


@ON_EVERY_BACKEND
def test_a_model_without_kit_exon_11_probabilities_is_a_note_not_a_failure(
    engine_with_followup: Engine,
) -> None:
    with Session(engine_with_followup) as s:
        a = s.scalars(select(Patient.id).where(Patient.pseudonym == "A-001")).one()
        model = ModelVersion(
            name="risk-v1", kind=ModelKind.CLINICAL, target="risk", parameters={}, metrics={}
        )
        s.add(model)
        s.flush()
        s.add(
            Prediction(
                patient_id=a,
                model_version_id=model.id,
                probabilities={"high": 0.7, "low": 0.3},
                predicted_class="high",
            )
        )
        s.commit()
        result = response_cohort(s, EVERYTHING, model="risk-v1")
    assert any("no probability for kit11" in n for n in result.notes)
    assert set(result.patients["predicted_status"]) == {"No prediction"}
    assert "Predicted KIT exon 11 status" not in set(result.rates["grouping"])
    assert not result.rates.empty  # the rates by true genotype are still there

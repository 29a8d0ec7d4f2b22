"""AppTest of the model performance page on an imaging risk score (target rfs).

The version is registered as ``gistcad train --target rfs`` registers one (out-of-fold rows
with the risk score, the predicted 5-year recurrence-free probability, the follow-up and the
schemes' references), with a score made from each patient's follow-up plus noise, so that
it is informative; training the radiomics model itself is covered by the learner contract
(tests/modelling/test_learner_contract.py) and measured by bench/imaging_risk_score.py.
"""

from __future__ import annotations

import numpy as np
import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session
from streamlit.testing.v1 import AppTest

from gistcad.domain import ModelKind
from gistcad.modelling.evaluation import evaluate
from gistcad.modelling.survival_evaluation import reference_scores
from gistcad.modelling.targets import Target, labels_for
from gistcad.store import AccessScope
from gistcad.store.model_queries import modelling_table
from gistcad.store.models import ModelVersion
from tests.app.conftest import APP
from tests.factories import seed_cohort


@pytest.fixture
def risk_score_model(app_db: Engine) -> None:
    with Session(app_db) as s:
        seed_cohort(s, n=80, with_series=True)
        table = modelling_table(s, AccessScope.everything())
        rng = np.random.default_rng(4)
        risk = -np.log(table["rfs_months"].to_numpy(float)) + rng.normal(0, 0.8, len(table))
        free = np.exp(-0.3 * np.exp(risk - risk.mean()))
        oof = table[["patient_id", "pseudonym", "center", "rfs_months", "rfs_event"]].assign(
            fold=[f"fold {i % 5 + 1}" for i in range(len(table))],
            label=labels_for(table, Target.RFS),
            p_no_recurrence_5y=free,
            p_recurrence_5y=1 - free,
            risk_score=risk,
        )
        oof = oof.merge(reference_scores(table), on="patient_id")
        oof["rfs_event"] = oof["rfs_event"].astype(float)
        evaluation = evaluate(oof, Target.RFS, seed=0)
        s.add(
            ModelVersion(
                name="rfs-score",
                kind=ModelKind.RADIOMICS,
                target=Target.RFS.value,
                parameters={"scheme": "kfold", "classes": list(Target.RFS.classes)},
                metrics={
                    "oof": oof.to_dict("records"),
                    "evaluation": evaluation.to_dict(),
                    "n_patients": len(oof),
                    "card": "# rfs-score",
                },
            )
        )
        s.commit()


def test_an_imaging_risk_score_shows_survival_metrics_delta_c_calibration_and_km(
    risk_score_model: None,
) -> None:
    at = AppTest.from_file(APP, default_timeout=60)
    at.run()
    at.switch_page("views/performance.py")
    at.run()
    assert not at.exception, at.exception
    at.selectbox(key="perf_model").set_value(2).run()  # the risk score (1: the bare model row)
    assert not at.exception, at.exception
    table = at.dataframe[0].value
    assert list(table["Center"]) == ["Alpha", "Beta", "All centers"]
    pooled = table.set_index("Center").loc["All centers"]
    assert pooled["Patients"] == 80
    # the score is built from the follow-up: it discriminates, more than size or the scheme
    assert float(pooled["Harrell's C"]) > 0.7
    assert float(pooled["Harrell's C"]) > float(pooled["C of size alone"])
    captions = " ".join(c.value for c in at.caption)
    assert "Score added to a Cox model of Log tumour size: LR" in captions
    # no AUC question radio, no confusion matrix: the genotype part is not drawn
    assert "perf_task" not in [r.key for r in at.radio]
    charts = at.get("plotly_chart")
    # ΔC forests in Harrell's and in Uno's C, calibration at 5 years, Kaplan–Meier by tertile
    assert [c.key for c in charts] == [
        "perf_surv_forest",
        "perf_surv_forest_uno",
        "perf_surv_calibration",
        "perf_surv_km",
    ]
    assert float(pooled["Uno's C of size alone"]) < float(pooled["Uno's C (τ 60 months)"])

"""AppTest of the model performance page on a deep genotype model: beside its AUCs, the
section "Risk head (recurrence-free survival)" judges its Cox head as the imaging risk score
is judged, without calibration.

The version is registered as ``gistcad train --model dl`` registers one (out-of-fold
genotype probabilities, the risk head's score, the follow-up and the schemes' references:
:func:`tests.factories.add_deep_model_with_risk_head`); training the network is covered by
tests/modelling/test_image_models.py.
"""

from __future__ import annotations

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session
from streamlit.testing.v1 import AppTest

from tests.app.conftest import APP
from tests.factories import add_deep_model_with_risk_head, seed_cohort


@pytest.fixture
def deep_model(app_db: Engine) -> int:
    with Session(app_db) as s:
        seed_cohort(s, n=80, with_series=True)
        model_id = add_deep_model_with_risk_head(s, "deep-g")
        s.commit()
    return model_id


def test_a_deep_model_shows_its_risk_head_beside_the_genotype_metrics(deep_model: int) -> None:
    at = AppTest.from_file(APP, default_timeout=60)
    at.run()
    at.switch_page("views/performance.py")
    at.run()
    at.selectbox(key="perf_model").set_value(deep_model).run()
    assert not at.exception, at.exception
    assert "Risk head (recurrence-free survival)" in [h.value for h in at.subheader]
    tables = [t.value for t in at.dataframe]
    head = next(t for t in tables if "Uno's C (τ 60 months)" in t.columns)
    assert list(head["Center"]) == ["Alpha", "Beta", "All centers"]
    pooled = head.set_index("Center").loc["All centers"]
    # the head's score is built from the follow-up: it discriminates, more than size alone
    assert float(pooled["Harrell's C"]) > float(pooled["C of size alone"])
    captions = " ".join(c.value for c in at.caption)
    assert "Score added to a Cox model of Log tumour size: LR" in captions
    assert "Calibration at 5 years: not calibrated: a risk head gives a ranking" in captions
    keys = {c.proto.id for c in at.get("plotly_chart")}
    assert any("perf_head_forest" in k for k in keys) and any("perf_head_km" in k for k in keys)
    assert any("perf_head_forest_uno" in k for k in keys)  # ΔC in Uno's C as well
    assert "Uno's C of modified NIH 2008" in head.columns
    assert not any("perf_head_calibration" in k for k in keys)
    assert "perf_task" in [r.key for r in at.radio]  # the genotype questions are still there

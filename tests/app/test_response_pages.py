"""AppTest of treatment response: the case view's follow-up section and the Response page.

The two treated patients of tests/followup/treated.py, their masks in the app's data folder.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session
from streamlit.testing.v1 import AppTest

from gistcad.domain import GenotypeGroup
from tests.app.conftest import open_page
from tests.factories import seed_cohort
from tests.followup.treated import add_treated_patients


def _captions(at: AppTest) -> list[str]:
    """Captions of the side-by-side panels (the single-series viewer's image left out)."""
    found = re.findall(
        r'caption: "([^"]*axial slice[^"]*)"', "".join(str(i.proto) for i in at.get("image"))
    )
    return [c for c in found if ":" in c]


@pytest.fixture
def treated(app_db: Engine, tmp_path: Path) -> Engine:
    with Session(app_db) as s:
        add_treated_patients(s, tmp_path)  # tmp_path is the app's data folder
        s.commit()
    return app_db


def test_case_view_shows_timeline_side_by_side_and_categories(treated: Engine) -> None:
    at = open_page("views/case.py", {"patient": "A-001"})
    assert any(s.value == "Follow-up CT and treatment response" for s in at.subheader)
    tables = [t.value for t in at.table]
    timeline = next(t for t in tables if "Treatment line" in t.columns)
    assert timeline.index.tolist() == ["Baseline", "Follow-up 1", "Follow-up 2"]
    assert timeline["Choi"].tolist() == ["—", "PR (partial response)", "PD (progressive disease)"]
    assert timeline["Days from treatment start"].tolist() == [0, 60, 120]
    categories = next(t for t in tables if "Reason" in t.columns)
    assert "size −3 %, density −27 %" in categories["Reason"].tolist()
    lesions = next(d.value for d in at.dataframe if "HU change" in d.value.columns)
    assert "New lesion" in set(lesions["Role"])
    compare = at.selectbox(key="case_compare")
    assert compare.value == 2  # the latest follow-up beside the baseline
    assert _captions(at) == ["Baseline: axial slice 4 of 9", "Follow-up 2: axial slice 4 of 9"]
    position = at.slider(key="compare_A-001_position_mm")
    assert position.value == pytest.approx(9.0)  # the mask's largest slice, index 3 × 3 mm
    position.set_value(21.0).run()
    assert not at.exception, at.exception
    assert _captions(at) == ["Baseline: axial slice 8 of 9", "Follow-up 2: axial slice 8 of 9"]
    at.selectbox(key="case_compare").select(1).run()
    assert _captions(at) == ["Baseline: axial slice 8 of 9", "Follow-up 1: axial slice 8 of 9"]


def test_response_page_draws_the_waterfall_and_the_statistics(treated: Engine) -> None:
    at = open_page("views/response.py")
    assert at.title[0].value == "Treatment response"
    assert at.metric[0].value == "2"
    charts = at.get("plotly_chart")
    assert len(charts) == 5  # waterfall, spider, swimmer, rates, landmark
    text = " ".join(m.value for m in at.markdown)
    assert "agreement 50 %" in text  # A-001 best RECIST SD vs Choi PR; B-001 PR by both
    assert "landmark at 2 months" in text
    rates = next(d.value for d in at.dataframe if "Rate (%)" in d.value.columns)
    assert set(rates["Group"]) >= {"KIT exon 11", "PDGFRA"}
    at.multiselect(key="response_centers").select("Beta").run()
    assert not at.exception, at.exception
    assert at.metric[0].value == "1"
    at.multiselect(key="response_centers").unselect("Beta").run()
    at.multiselect(key="response_genotypes").select(GenotypeGroup.KIT11).run()
    assert not at.exception, at.exception
    assert at.metric[0].value == "1"


def test_response_page_without_follow_up_says_so(app_db: Engine) -> None:
    with Session(app_db) as s:
        seed_cohort(s, n=10)
        s.commit()
    at = open_page("views/response.py")
    assert any("No patient in this selection has follow-up CT" in i.value for i in at.info)


def test_case_view_of_a_baseline_only_patient_has_no_comparison(treated: Engine) -> None:
    at = open_page("views/case.py", {"patient": "C-001"})
    assert any("Only the baseline CT" in c.value for c in at.caption)
    assert not _captions(at)

"""AppTest of the cohort explorer: filters, URL round trip, table one, export."""

from __future__ import annotations

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session
from streamlit.testing.v1 import AppTest

from gistcad.domain import RiskClass, RiskScheme, Site
from gistcad.store.models import Center
from gistcad.store.queries import CohortFilter
from tests.app.conftest import open_page
from tests.factories import add_patient


def _page(query: dict[str, str] | None = None) -> AppTest:
    return open_page("views/cohort.py", query)


def _count(at: AppTest) -> int:
    return int(next(m.value for m in at.metric if m.label == "Patients"))


def test_all_patients_then_a_filter_updates_count_and_link(seeded: None) -> None:
    at = _page()
    assert _count(at) == 60
    at.multiselect(key="f_centers").select("Beta").run()
    assert _count(at) == 30
    assert at.query_params["centers"] == "Beta"
    at.multiselect(key="f_sites").set_value([Site.JEJUNUM_ILEUM]).run()
    assert _count(at) == 10  # every third patient, half of them in Beta
    table = at.dataframe[0].value
    assert set(table["Center"]) == {"Beta"} and set(table["Site"]) == {"Jejunum/ileum"}


def test_a_shared_link_restores_the_filters(seeded: None) -> None:
    link = CohortFilter(centers=frozenset({"Alpha"}), size_range_cm=(5.0, 40.0)).to_query()
    at = _page(link)
    assert at.multiselect(key="f_centers").value == ["Alpha"]
    table = at.dataframe[0].value
    assert set(table["Center"]) == {"Alpha"} and (table["Size (cm)"] >= 5).all()
    assert _count(at) == len(table)


def test_table_one_and_risk_filter(seeded: None) -> None:
    at = _page()
    t1 = at.dataframe[1].value
    assert "Alpha (n=30)" in t1.columns and "Overall (n=60)" in t1.columns
    at.multiselect(key="f_risk").select(RiskClass.HIGH).run()
    table = at.dataframe[0].value
    assert set(table["Risk class"]) == {"High"}
    assert at.query_params["risk"] == "high" and at.query_params["risk_scheme"] == "joensuu2008"


def test_insufficient_data_is_offered_under_afip(app_db: Engine, seeded: None) -> None:
    with Session(app_db) as s:
        beta = s.scalars(select(Center).where(Center.name == "Beta")).one()
        add_patient(s, beta, "D-001", site=Site.DUODENUM, size_cm=7.0)  # AFIP: no figures
        s.commit()
    at = _page()
    offered = at.multiselect(key="f_risk").options  # as labelled, from the scheme's classes
    assert offered == ["Very low", "Low", "Intermediate", "High", "Unknown"]
    at.selectbox(key="f_scheme").set_value(RiskScheme.AFIP_2006).run()
    assert "Insufficient data" in at.multiselect(key="f_risk").options
    at.multiselect(key="f_risk").select(RiskClass.INSUFFICIENT_DATA).run()
    assert _count(at) == 1
    table = at.dataframe[0].value
    assert list(table["Pseudonym"]) == ["D-001"]
    assert list(table["Risk class"]) == ["Insufficient data"]
    assert at.query_params["risk"] == "insufficient_data"
    assert at.query_params["risk_scheme"] == "afip2006"
    assert at.session_state["selected_cohort"]["risk"] == "insufficient_data"


def test_empty_database_says_so(app_db: Engine) -> None:
    at = _page()
    assert _count(at) == 0
    assert any("No patient matches" in i.value for i in at.info)


def test_the_patients_table_is_paged(seeded: None) -> None:
    at = _page()
    assert len(at.dataframe[0].value) == 60  # 100 rows a page by default
    at.selectbox(key="cohort_page_size").set_value(25).run()
    first = at.dataframe[0].value
    assert len(first) == 25
    assert any("Page 1 of 3: patients 1–25 of 60" in c.value for c in at.caption)
    at.number_input(key="cohort_page").set_value(3).run()
    last = at.dataframe[0].value
    assert len(last) == 10
    assert any("Page 3 of 3: patients 51–60 of 60" in c.value for c in at.caption)
    assert not set(first["Pseudonym"]) & set(last["Pseudonym"])
    at.number_input(key="cohort_page").set_value(2).run()
    pages = [first, at.dataframe[0].value, last]
    assert len({p for t in pages for p in t["Pseudonym"]}) == 60  # the pages cover everyone
    assert _count(at) == 60
    assert [b for b in at.get("download_button") if "cohort" in str(b.proto.label)]
    at.number_input(key="cohort_page").set_value(9).run()  # past the end: the last page
    assert len(at.dataframe[0].value) == 10

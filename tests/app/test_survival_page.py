"""AppTest of the survival page: every grouping renders real numbers from the database."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session
from streamlit.testing.v1 import AppTest

from gistcad.analysis.grouping import Grouping
from gistcad.analysis.time_to_event import TimeUnit
from gistcad.domain import Endpoint, RiskClass, RiskScheme
from gistcad.store import AccessScope
from gistcad.store.models import Patient
from gistcad.store.queries import CohortFilter, cohort_table
from tests.app.conftest import APP
from tests.factories import add_validated_model, seed_cohort


@pytest.fixture
def seeded(app_db: Engine) -> dict[str, list[int]]:
    with Session(app_db) as s:
        truth = seed_cohort(s)
        s.commit()
    return truth


def _page() -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60)
    at.run()
    at.switch_page("views/survival.py")
    at.run()
    assert not at.exception, at.exception
    return at


def _chart_names(at: AppTest) -> set[str]:
    names: set[str] = set()
    for chart in at.get("plotly_chart"):
        spec = chart.proto.spec
        names |= {part.split('"')[0] for part in spec.split('"name":"')[1:]}
    return names


def test_by_true_genotype(seeded: dict[str, list[int]]) -> None:
    at = _page()
    assert "60 patients selected" in " ".join(c.value for c in at.caption)
    summary = at.dataframe[0].value
    assert dict(zip(summary["Group"], summary["Patients"], strict=True)) == {
        "KIT exon 11": 24,
        "KIT exon 9": 12,
        "PDGFRA": 12,
        "Wild-type": 12,
    }
    assert any(name.startswith("KIT exon 11 (n=24)") for name in _chart_names(at))


def test_by_predicted_shows_both_panels_and_agreement(seeded: dict[str, list[int]]) -> None:
    at = _page()
    at.selectbox(key="survival_by").set_value(Grouping.PREDICTED).run()
    assert not at.exception, at.exception
    assert any(s.value == "Agreement of predicted and true status" for s in at.subheader)
    agreement = at.dataframe[0].value
    positives = sum(seeded["kit11"])
    assert agreement.loc["KIT exon 11", "Total"] == positives
    assert agreement.loc["Total", "Total"] == 60


def test_by_center_with_a_center_filter_and_bad_input(seeded: dict[str, list[int]]) -> None:
    at = _page()
    at.selectbox(key="survival_by").set_value(Grouping.CENTER).run()
    at.multiselect(key="survival_centers").select("Alpha").run()
    assert "30 patients selected" in " ".join(c.value for c in at.caption)
    at.text_input(key="survival_times").input("abc").run()
    # a clear message, and the figure stays (at the default times)
    warning = " ".join(w.value for w in at.warning)
    assert "times must be months >= 0, separated by commas, semicolons or spaces" in warning
    assert "could not read 'abc'" in warning and "default times (24, 60, 120 months)" in warning
    assert not at.error and at.get("plotly_chart")
    assert "Survival at 60" in at.dataframe[0].value.columns


@pytest.mark.parametrize("typed", ["12; 36; 60", "12,36,60", "12 36 60", "1y, 3y, 5y"])
def test_times_are_read_leniently(seeded: dict[str, list[int]], typed: str) -> None:
    at = _page()
    at.text_input(key="survival_times").input(typed).run()
    assert not at.warning and not at.error and at.get("plotly_chart")
    columns = at.dataframe[0].value.columns
    assert {"Survival at 12", "Survival at 36", "Survival at 60"} <= set(columns)
    assert at.query_params["times"] == typed  # kept in the address as typed


def test_the_settings_are_kept_in_the_address(seeded: dict[str, list[int]]) -> None:
    at = _page()
    assert "by" not in at.query_params  # defaults leave the address short
    at.radio(key="survival_endpoint").set_value(Endpoint.OS).run()
    at.selectbox(key="survival_by").set_value(Grouping.SIZE).run()
    at.text_input(key="survival_cuts").input("median").run()
    at.multiselect(key="survival_centers").select("Alpha").run()
    at.selectbox(key="survival_time_unit").set_value(TimeUnit.YEARS).run()
    at.number_input(key="survival_min").set_value(5).run()
    at.multiselect(key="survival_adjust").select("age").run()
    address = {name: at.query_params[name] for name in at.query_params}
    assert address == {
        "endpoint": "os",
        "by": "size",
        "cuts": "median",
        "centers": "Alpha",
        "unit": "years",
        "min_group": "5",
        "adjust": "age",
    }
    summary = at.dataframe[0].value

    # the link opens the same analysis
    again = AppTest.from_file(APP, default_timeout=60)
    again.run()
    again.switch_page("views/survival.py")
    for name, value in address.items():
        again.query_params[name] = value
    again.run()
    assert not again.exception, again.exception
    assert again.radio(key="survival_endpoint").value is Endpoint.OS
    assert again.selectbox(key="survival_by").value is Grouping.SIZE
    assert again.text_input(key="survival_cuts").value == "median"
    assert again.multiselect(key="survival_centers").value == ["Alpha"]
    assert again.selectbox(key="survival_time_unit").value is TimeUnit.YEARS
    assert again.multiselect(key="survival_adjust").value == ["age"]
    assert again.dataframe[0].value.equals(summary)


def test_patients_of_a_group_link_to_the_case_view(seeded: dict[str, list[int]]) -> None:
    at = _page()
    at.selectbox(key="survival_group").set_value("PDGFRA").run()
    members = at.dataframe[-1].value
    assert len(members) == 12
    assert members["case"].str.startswith("/case?patient=P-").all()


def test_the_cohort_selected_in_the_explorer_carries_over(seeded: dict[str, list[int]]) -> None:
    at = _page()
    at.session_state["selected_cohort"] = {"centers": "Beta"}
    at.run()
    assert "30 patients selected" in " ".join(c.value for c in at.caption)
    at.toggle(key="survival_use_selection").set_value(False).run()
    assert "60 patients selected" in " ".join(c.value for c in at.caption)


def test_the_selected_risk_classes_carry_over(app_db: Engine, seeded: dict[str, list[int]]) -> None:
    flt = CohortFilter(risk_scheme=RiskScheme.AFIP_2006, risk_classes=frozenset({RiskClass.LOW}))
    with Session(app_db) as s:
        expected = len(cohort_table(s, AccessScope.everything(), flt))
    assert expected == 17
    at = _page()
    at.session_state["selected_cohort"] = flt.to_query()
    at.run()
    assert f"{expected} patients selected" in " ".join(c.value for c in at.caption)


def test_any_variable_cut_and_shown_in_years(seeded: dict[str, list[int]]) -> None:
    at = _page()
    at.selectbox(key="survival_by").set_value(Grouping.SIZE).run()
    at.selectbox(key="survival_time_unit").set_value(TimeUnit.YEARS).run()
    assert not at.exception, at.exception
    summary = at.dataframe[0].value
    assert list(summary["Group"]) == ["< 5 cm", "5 to < 10 cm", "≥ 10 cm"]
    assert "Survival at 5" in summary.columns  # 60 months in years
    assert any("log-rank test for trend" in m.value for m in at.markdown)
    at.text_input(key="survival_cuts").input("median").run()
    assert len(at.dataframe[0].value) == 2


@pytest.fixture
def validated(app_db: Engine, seeded: dict[str, list[int]]) -> dict[str, int]:
    with Session(app_db) as s:
        ids = sorted(s.scalars(select(Patient.id)).all())
        final = {pid: 0.9 for pid in ids}
        kfold = add_validated_model(s, "kfold", final, {p: 0.1 for p in ids[:50]}, ids[:50])
        holdout = add_validated_model(
            s, "holdout", final, {p: 0.1 for p in ids[:20]}, ids[:50], scheme="holdout"
        )
        s.commit()
    return {"kfold": kfold, "holdout": holdout}


def test_predicted_status_says_where_it_came_from(validated: dict[str, int]) -> None:
    at = _page()
    at.selectbox(key="survival_by").set_value(Grouping.PREDICTED).run()
    at.selectbox(key="survival_model").set_value(validated["kfold"]).run()
    assert not at.exception, at.exception
    captions = " ".join(c.value for c in at.caption)
    assert "Source of the predicted status — KIT exon 11: final model, not trained on 10" in (
        captions
    )
    assert "Not KIT exon 11: out-of-fold (k-fold cross-validation) 50" in captions
    sources = at.dataframe[1].value
    assert dict(zip(sources["Source"], sources["Patients"], strict=True)) == {
        "final model, not trained on": 10,
        "out-of-fold": 50,
    }
    at.toggle(key="survival_in_sample").set_value(True).run()
    assert any("In-sample" in w.value for w in at.warning)
    assert "IN-SAMPLE" in " ".join(_chart_titles(at))


def test_in_sample_only_predictions_are_refused(validated: dict[str, int]) -> None:
    at = _page()
    at.selectbox(key="survival_by").set_value(Grouping.PREDICTED).run()
    at.selectbox(key="survival_model").set_value(validated["holdout"]).run()
    assert any("30 of the selected patients were used to train" in e.value for e in at.error)
    assert not at.get("plotly_chart")
    at.toggle(key="survival_in_sample").set_value(True).run()
    assert not at.error and at.get("plotly_chart")


def _chart_titles(at: AppTest) -> list[str]:
    return [
        part.split('"')[0]
        for chart in at.get("plotly_chart")
        for part in chart.proto.spec.split('"text":"')[1:]
    ]


def test_the_readme_link_opens_its_analysis(seeded: dict[str, list[int]]) -> None:
    # README: /survival?by=risk&scheme=afip2006&endpoint=os&unit=years&times=1y,3y,5y
    at = AppTest.from_file(APP, default_timeout=60)
    at.run()
    at.switch_page("views/survival.py")
    for name, value in {
        "by": "risk",
        "scheme": "afip2006",
        "endpoint": "os",
        "unit": "years",
        "times": "1y,3y,5y",
    }.items():
        at.query_params[name] = value
    at.run()
    assert not at.exception and not at.warning and not at.error
    assert at.selectbox(key="survival_scheme").value is RiskScheme.AFIP_2006
    assert at.radio(key="survival_endpoint").value is Endpoint.OS
    columns = set(at.dataframe[0].value.columns)
    assert {"Survival at 1", "Survival at 3", "Survival at 5"} <= columns


def test_risk_classes_keep_their_order_in_the_tables_and_the_patient_list(
    seeded: dict[str, list[int]],
) -> None:
    at = _page()
    at.selectbox(key="survival_by").set_value(Grouping.RISK).run()
    groups = list(at.dataframe[0].value["Group"])
    order = ["Very low", "Low", "Intermediate", "High", "Unknown"]
    assert groups == [g for g in order if g in groups] and len(groups) >= 3
    assert groups != sorted(groups)  # not alphabetical
    assert at.selectbox(key="survival_group").options == groups


def test_a_large_group_is_listed_a_page_at_a_time(seeded: dict[str, list[int]]) -> None:
    at = _page()
    at.selectbox(key="survival_by").set_value(Grouping.CENTER).run()
    at.selectbox(key="survival_page_size").set_value(25).run()
    totals = {}
    for center in at.selectbox(key="survival_group").options:  # two centers, 60 patients
        at.selectbox(key="survival_group").set_value(center).run()
        caption = next(c.value for c in at.caption if c.value.startswith("Page 1 of "))
        totals[center] = int(caption.split(" of ")[2].split(" in ")[0])
    assert sum(totals.values()) == 60
    larger = max(totals, key=lambda c: totals[c])
    total = totals[larger]
    at.selectbox(key="survival_group").set_value(larger).run()
    first = at.dataframe[-1].value
    assert total > 25 and len(first) == 25
    at.number_input(key="survival_page").set_value(2).run()
    second = at.dataframe[-1].value
    assert len(second) == min(25, total - 25)
    assert not set(first["case"]) & set(second["case"])
    assert any(c.value.startswith("Page 2 of ") for c in at.caption)

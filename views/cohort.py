"""Cohort explorer: filters kept in the URL, patient count, table one, distributions, export."""

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from gistcad.analysis.cohort_explorer import (
    ANALYSED_COLUMNS,
    TableOneBy,
    explorer_table,
    explorer_table_one,
)
from gistcad.domain import (
    GenotypeGroup,
    Permission,
    RiskScheme,
    Sex,
    Site,
    risk_choice_label,
    risk_choices,
)
from gistcad.errors import GistcadError
from gistcad.plots.cohort import count_bars, distribution
from gistcad.store import session_scope
from gistcad.store.model_queries import list_model_versions
from gistcad.store.queries import CohortFilter, center_names, cohort_page, cohort_table
from views.common import audited_csv, engine, scope, show_error, show_figure, show_table

ANY, YES, NO = "any", "yes", "no"
SCHEMES: list[RiskScheme] = list(RiskScheme)
TABLE_ONE_BY: list[TableOneBy] = list(TableOneBy)
PAGE_SIZES = [25, 50, 100, 250, 500]


@st.cache_data(max_entries=32, show_spinner="Computing table one…")
def table_one(patients: pd.DataFrame, by: TableOneBy, scheme: RiskScheme) -> pd.DataFrame:
    """Table one of the selected patients (cached: its Fisher tests draw tens of thousands of
    tables, and the page reruns on every widget and every download; keyed by the patients'
    rows, so by the filter and the caller's scope, and by the stratification)."""
    return explorer_table_one(patients, by, scheme)


@st.cache_data(max_entries=32, show_spinner=False)
def figures(patients: pd.DataFrame, scheme: RiskScheme) -> tuple[go.Figure, ...]:
    """The distribution tab's figures: site, genotype, size, risk class by center (cached like
    :func:`table_one`)."""
    return (
        count_bars(patients, "site", by="center", title="Site by center"),
        count_bars(patients, "genotype", by="center", title="Genotype by center"),
        distribution(patients, "size_cm", by="center", title="Tumour size", unit="cm"),
        count_bars(
            patients, "risk_class", by="center", title=f"Risk class ({scheme.label}) by center"
        ),
    )


st.title("Cohort explorer")

try:
    linked = CohortFilter.from_query(st.query_params.to_dict())
except GistcadError as exc:
    show_error(exc)
    linked = CohortFilter()

with session_scope(engine()) as session:
    centers = center_names(session, scope())
    models = list_model_versions(session)

with st.sidebar:
    st.header("Filters")
    chosen_centers = st.multiselect(
        "Center", centers, default=sorted(set(linked.centers) & set(centers)), key="f_centers"
    )
    sites = st.multiselect(
        "Site",
        list(Site),
        default=sorted(linked.sites),
        format_func=lambda s: s.label,
        key="f_sites",
    )
    groups = st.multiselect(
        "Genotype",
        list(GenotypeGroup),
        default=sorted(linked.genotype_groups),
        format_func=lambda g: g.label,
        key="f_genotype",
    )
    scheme = st.selectbox(
        "Risk scheme",
        SCHEMES,
        index=SCHEMES.index(linked.risk_scheme),
        format_func=lambda s: s.label,
        key="f_scheme",
    )
    offered = risk_choices(scheme)
    risks = st.multiselect(
        "Risk class",
        offered,
        default=[c for c in offered if c in linked.risk_classes],
        format_func=risk_choice_label,
        key="f_risk",
    )
    sexes = st.multiselect(
        "Sex", list(Sex), default=sorted(linked.sexes), format_func=lambda s: s.label, key="f_sex"
    )
    low_age, high_age = linked.age_range or (0, 100)
    age = st.slider("Age (years)", 0, 100, (int(low_age), int(high_age)), key="f_age")
    low_size, high_size = linked.size_range_cm or (0.0, 40.0)
    size = st.slider("Size (cm)", 0.0, 40.0, (float(low_size), float(high_size)), 0.5, key="f_size")
    follow_up = st.number_input(
        "Minimum follow-up (months)",
        0.0,
        600.0,
        float(linked.min_follow_up_months or 0.0),
        6.0,
        key="f_follow",
    )
    scan_default = {None: ANY, True: YES, False: NO}[linked.has_scan]
    has_scan = st.radio(
        "Has a CT scan",
        [ANY, YES, NO],
        horizontal=True,
        index=[ANY, YES, NO].index(scan_default),
        key="f_scan",
    )
    model_ids = [None, *models["model_version_id"].tolist()]
    names = dict(zip(models["model_version_id"], models["name"], strict=True))
    has_prediction = st.selectbox(
        "Has a prediction from",
        model_ids,
        index=model_ids.index(linked.has_prediction_from)
        if linked.has_prediction_from in model_ids
        else 0,
        format_func=lambda i: "any (no filter)" if i is None else names[i],
        key="f_prediction",
    )

flt = CohortFilter(
    centers=frozenset(chosen_centers),
    sites=frozenset(sites),
    genotype_groups=frozenset(groups),
    sexes=frozenset(sexes),
    age_range=None if tuple(age) == (0, 100) else (float(age[0]), float(age[1])),
    size_range_cm=None if tuple(size) == (0.0, 40.0) else (float(size[0]), float(size[1])),
    min_follow_up_months=follow_up or None,
    has_scan={ANY: None, YES: True, NO: False}[has_scan],
    has_prediction_from=has_prediction,
    risk_scheme=scheme,
    risk_classes=frozenset(risks),
)
query = flt.to_query()
if query != st.query_params.to_dict():
    st.query_params.from_dict(query)
# the Survival page analyses the cohort selected here (plain strings, no objects)
st.session_state["selected_cohort"] = query

# one read per run, of the columns table one and the figures need; the CSV file reads the
# whole table when its button is clicked
with session_scope(engine()) as session:
    analysed = cohort_table(session, scope(), flt, columns=ANALYSED_COLUMNS, ordered=False)
    cohort = explorer_table(analysed, scheme)
db, caller = engine(), scope()


def whole_cohort() -> pd.DataFrame:
    """Every column of the selected patients, as the explorer lists them (for the CSV)."""
    with session_scope(db) as session:
        return explorer_table(cohort_table(session, caller, flt), scheme)


st.metric("Patients", len(cohort))
st.caption("The filters are part of this page's address: copy the link to share this cohort.")
if cohort.empty:
    st.info("No patient matches these filters (or no data are loaded yet).")
    st.stop()

tabs = st.tabs(["Patients", "Table one", "Distributions"])
with tabs[0]:
    # one page at a time: the database reads the page (LIMIT/OFFSET), the browser gets it
    size_column, page_column, where_column = st.columns(3)
    page_size = size_column.selectbox(
        "Rows per page", PAGE_SIZES, index=PAGE_SIZES.index(100), key="cohort_page_size"
    )
    wanted = page_column.number_input("Page", min_value=1, value=1, step=1, key="cohort_page")
    with session_scope(engine()) as session:
        page = cohort_page(session, scope(), flt, page=int(wanted), page_size=page_size)
    shown = explorer_table(page.rows, scheme)
    where_column.caption(
        f"Page {page.page} of {page.pages}: patients {page.first_row}–"
        f"{page.first_row + len(shown) - 1} of {page.total}"
    )
    show_table(
        shown.assign(case="/case?patient=" + shown["pseudonym"]),
        column_config={"case": st.column_config.LinkColumn("Case view", display_text="open")},
        key="cohort_table",
    )
    if scope().can(Permission.BULK_EXPORT):
        st.download_button(
            "Download this cohort (CSV)",
            audited_csv("cohort table", whole_cohort, bulk=True),
            file_name="cohort.csv",
            key="cohort_download",
            on_click="ignore",
        )
    else:
        st.caption(f"Your role ({scope().role.value}) does not include patient-level exports.")
with tabs[1]:
    by = st.radio("Stratify by", TABLE_ONE_BY, horizontal=True, key="t1_by")
    try:
        t1 = table_one(cohort, by, scheme)
        show_table(t1)
        st.download_button(
            "Download table one (CSV)",
            audited_csv("table one", t1),
            file_name="table_one.csv",
            key="t1_download",
            on_click="ignore",
        )
    except GistcadError as exc:
        show_error(exc)
with tabs[2]:
    left, right = st.columns(2)
    by_site, by_genotype, by_size, by_risk = figures(cohort, scheme)
    show_figure(by_site, "plot_site", "cohort_site", where=left)
    show_figure(by_genotype, "plot_genotype", "cohort_genotype", where=right)
    show_figure(by_size, "plot_size", "cohort_size", where=left)
    show_figure(by_risk, "plot_risk", "cohort_risk", where=right)

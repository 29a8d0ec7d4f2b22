"""Response: waterfall, swimmer, response rates by genotype, RECIST vs Choi, landmark survival."""

import streamlit as st

from gistcad.analysis.response_statistics import IntervalMethod
from gistcad.display import display_table
from gistcad.domain import (
    RESPONSE_CRITERIA_LABELS,
    Endpoint,
    GenotypeGroup,
    Permission,
    ResponseCriteria,
)
from gistcad.errors import GistcadError
from gistcad.followup.cohort import response_cohort
from gistcad.plots.response import (
    kappa_text,
    landmark_figure,
    response_rate_figure,
    spider_figure,
    swimmer_figure,
    waterfall_figure,
)
from gistcad.plots.survival import format_p_value
from gistcad.store import session_scope
from gistcad.store.model_queries import list_model_versions
from gistcad.store.queries import CohortFilter, list_centers
from views.common import audited_csv, engine, scope, show_error, show_figure, show_table

CRITERIA: list[ResponseCriteria] = list(ResponseCriteria)
ENDPOINTS: list[Endpoint] = list(Endpoint)
METHODS = {IntervalMethod.WILSON: "Wilson", IntervalMethod.CLOPPER_PEARSON: "Clopper–Pearson"}
NO_MODEL = 0

st.title("Treatment response")
st.caption(
    "Patients with follow-up CT under treatment: best response by RECIST 1.1 and Choi, "
    "computed from the lesion masks (a reader's category outranks the automatic one)."
)

with session_scope(engine()) as session:
    centers = list_centers(session, scope())["center"].tolist()
    models = list_model_versions(session)
names = dict(zip(models["model_version_id"], models["name"], strict=True))

controls = st.columns(4)
chosen_centers = controls[0].multiselect("Centers", centers, key="response_centers")
chosen_genotypes = controls[0].multiselect(
    "True genotype",
    list(GenotypeGroup),
    format_func=lambda g: g.label,
    key="response_genotypes",
)
criteria = controls[1].radio(
    "Criteria",
    CRITERIA,
    index=1,
    format_func=lambda c: RESPONSE_CRITERIA_LABELS[c],
    key="response_criteria",
    horizontal=True,
    help="Colours the waterfall and the swimmer plot, and groups the landmark survival.",
)
endpoint = controls[2].radio(
    "Endpoint", ENDPOINTS, format_func=lambda e: e.label, key="response_endpoint"
)
model_id = controls[3].selectbox(
    "Model (predicted KIT exon 11 status)",
    [NO_MODEL, *names],
    format_func=lambda i: "none" if i == NO_MODEL else names[i],
    key="response_model",
)
with st.expander("More options"):
    more = st.columns(2)
    landmark = more[0].number_input(
        "Landmark (months from the start of treatment; 0 = the first follow-up CT)",
        0.0,
        60.0,
        0.0,
        1.0,
        key="response_landmark",
    )
    method = more[1].radio(
        "Interval of the response rates",
        list(METHODS),
        format_func=lambda m: METHODS[m],
        key="response_interval",
        horizontal=True,
    )

try:
    with session_scope(engine()) as session:
        result = response_cohort(
            session,
            scope(),
            CohortFilter(
                centers=frozenset(chosen_centers), genotype_groups=frozenset(chosen_genotypes)
            ),
            model=None if model_id == NO_MODEL else int(model_id),
            criteria=criteria or ResponseCriteria.CHOI,
            endpoint=endpoint or Endpoint.RFS,
            landmark_months=landmark or None,
            method=method or IntervalMethod.WILSON,
        )
except GistcadError as exc:
    show_error(exc)
    st.stop()

patients = result.patients
if patients.empty:
    st.info("No patient in this selection has follow-up CT under treatment.")
    st.stop()
st.metric("Patients with follow-up CT", len(patients))
for note in result.notes:
    st.caption(note)

st.subheader("Best change from baseline")
measure = st.radio(
    "Measure",
    ["size", "density"],
    format_func=lambda m: "Size (sum of diameters)" if m == "size" else "Density (mean HU)",
    key="response_measure",
    horizontal=True,
)
try:
    show_figure(
        waterfall_figure(patients, measure=measure or "size", criteria=result.criteria),
        "response_waterfall",
        "response_waterfall",
    )
    show_figure(
        spider_figure(
            result.assessments, patients, measure=measure or "size", criteria=result.criteria
        ),
        "response_spider",
        "response_spider",
    )
except GistcadError as exc:
    show_error(exc)

st.subheader("Treatment and response over time")
try:
    show_figure(
        swimmer_figure(result.lines, result.assessments, criteria=result.criteria),
        "response_swimmer",
        "response_swimmer",
    )
except GistcadError as exc:
    show_error(exc)

st.subheader("Response rate (CR or PR)")
if result.rates.empty:
    st.caption("No patient has a response category yet.")
else:
    show_figure(response_rate_figure(result.rates), "response_rates", "response_rates")
    shown = result.rates.assign(
        rate=(100 * result.rates["rate"]).round(0),
        ci_low=(100 * result.rates["ci_low"]).round(0),
        ci_high=(100 * result.rates["ci_high"]).round(0),
    )
    show_table(
        shown.rename(
            columns={
                "criteria": "Criteria",
                "grouping": "Grouped by",
                "group": "Group",
                "n": "Patients",
                "responders": "CR or PR",
                "rate": "Rate (%)",
                "ci_low": "95 % CI low (%)",
                "ci_high": "95 % CI high (%)",
            }
        )
    )
    if result.model_name is not None:
        st.caption(
            f"Predicted status by {result.model_name}: out-of-fold for the patients it was "
            "trained on, the final model's prediction for the others."
        )

st.subheader("RECIST 1.1 vs Choi (best response)")
agreement = result.agreement
if agreement is None:
    st.caption("No patient has a best response by both criteria yet.")
else:
    st.write(
        f"{agreement.n} patients; agreement {100 * agreement.observed:.0f} %; "
        f"{kappa_text(agreement.kappa, agreement.low, agreement.high)}"
    )
    st.dataframe(display_table(agreement.table).rename_axis("RECIST 1.1 ↓ / Choi →"))

st.subheader("Survival by response at the first follow-up (landmark analysis)")
survival = result.landmark
if survival is None:
    st.caption("Landmark survival cannot be shown for this selection (see the notes above).")
else:
    show_figure(
        landmark_figure(survival, result.endpoint), "response_landmark_km", "response_landmark_km"
    )
    logrank = survival.comparison.logrank
    st.write(
        f"{RESPONSE_CRITERIA_LABELS[result.criteria]} response at the first follow-up; "
        f"{survival.title} after the start of treatment. Log-rank "
        f"{format_p_value(None if logrank is None else logrank.p_value)}."
    )
    for note in survival.comparison.notes:
        st.caption(note)

if scope().can(Permission.BULK_EXPORT):
    st.download_button(
        "Download the response table (CSV)",
        audited_csv("response cohort", patients, bulk=True),
        file_name="response_cohort.csv",
        mime="text/csv",
        key="response_csv",
        on_click="ignore",
    )

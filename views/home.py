"""Home: what the database holds, or how to load data when it holds nothing."""

import streamlit as st

from gistcad.demo_models import DemoState, describe, pending
from gistcad.errors import GistcadError
from gistcad.store import migrations, session_scope
from gistcad.store.queries import cohort_counts, list_centers
from views.common import (
    DEMO_REFRESH_S,
    demo_states,
    engine,
    scope,
    settings,
    show_error,
    show_table,
)


@st.fragment(run_every=DEMO_REFRESH_S)
def show_demo_models() -> None:
    """How many demo models are ready, and each one's progress while they train."""
    states = demo_states() or {}
    if not pending(states):
        return
    ready = sum(s.state is DemoState.READY for s in states.values())
    st.subheader(f"Demo models: {ready} of {len(states)} ready")
    st.caption(
        "They train in the background; the cohort is browsable meanwhile, and the Survival "
        "and Model performance pages fill in as each finishes."
    )
    for state in states.values():
        st.progress(state.progress, text=describe(state))


st.title("gistcad — GIST cohort explorer")
st.caption(
    "Computer-aided diagnosis for gastrointestinal stromal tumours on CT. "
    "Research use only — not for clinical decisions."
)

try:
    state = migrations.status(engine())
except GistcadError as exc:
    show_error(exc)
    st.stop()

if not state.is_current:
    st.error(
        f"The database is not ready: {state.describe()}. Ask the administrator to run "
        "`gistcad db upgrade`.",
        icon=":material/database:",
    )
    st.stop()

with session_scope(engine()) as session:
    counts = cohort_counts(session, scope())
    centers = list_centers(session, scope())

cols = st.columns(4)
cols[0].metric("Patients", counts.patients)
cols[1].metric("Centers", counts.centers)
cols[2].metric("CT series", counts.series)
cols[3].metric("Model versions", counts.models)

if counts.is_empty:
    st.info(
        "The database holds no patients yet "
        f"(`{settings().db_url.render_as_string(hide_password=True)}`). "
        "Load the synthetic demo cohort with `gistcad demo load` (what `make run` does on a "
        "first start), or a center's data with `gistcad import clinical|dicom|nifti|masks`; "
        "the README's section *Loading data* explains each.",
        icon=":material/info:",
    )
else:
    show_demo_models()
    st.subheader("Centers")
    show_table(centers[["center", "country", "patients", "scanner_notes"]])

"""Biomarkers: which imaging features predict survival beyond the clinical factors."""

import streamlit as st

from gistcad import jobs
from gistcad.analysis.biomarker_discovery import WINSORISE
from gistcad.biomarkers import (
    Adjustment,
    BiomarkerDiscovery,
    DiscoveryRequest,
    Harmonisation,
    center_forest_table,
    tertile_comparison,
)
from gistcad.biomarkers.jobs import load_result, newest_result
from gistcad.domain import Endpoint, JobKind
from gistcad.errors import GistcadError
from gistcad.plots.biomarkers import volcano_figure
from gistcad.plots.forest import forest_figure
from gistcad.plots.survival import km_figure
from gistcad.store import session_scope
from gistcad.store.model_queries import deep_models_with_risk_scores
from views.common import (
    engine,
    follow_job,
    scope,
    settings,
    show_error,
    show_figure,
    show_table,
)

ENDPOINTS: list[Endpoint] = list(Endpoint)
ADJUSTMENTS: list[Adjustment] = list(Adjustment)
HARMONISATIONS: list[Harmonisation] = list(Harmonisation)
ADJUSTMENT_LABELS = {
    Adjustment.RISK: "Risk factors (log size, log mitoses, site, rupture)",
    Adjustment.AFIP: "AFIP 2006 risk cell (log cumulative hazard)",
    Adjustment.GENOTYPE: "Genotype class",
}
HARMONISATION_LABELS = {
    Harmonisation.NONE: "Not harmonised",
    Harmonisation.COMBAT: "ComBat per center",
}
#: the table's columns as shown, numbers kept numeric so that a click sorts them
TABLE_COLUMNS = {
    "feature": "Feature",
    "hr": "HR per SD",
    "ci_lower": "95 % CI lower",
    "ci_upper": "95 % CI upper",
    "p": "p",
    "q": "q (BH)",
    "selection_frequency": "Bootstrap selection",
    "size_r2": "R² on log size",
    "size_flag": "Nearly size",
    "splits_discovered": "Splits discovered",
    "splits_replicated": "Splits replicated",
    "confirmed_p": "Held-out pooled p",
    "confirmed": "Confirmed",
}
PENDING = "biomarkers_job"
DONE = "biomarkers_job_done"


@st.cache_data(max_entries=4, show_spinner=False)
def kept_result(job_id: int) -> BiomarkerDiscovery:
    """The result discovery job ``job_id`` kept (cached: a finished job's never changes)."""
    return load_result(settings().data_dir, job_id)


@st.fragment(run_every="2s")
def discovery_progress(job_id: int) -> None:
    """The discovery job while it runs; the page is reloaded when it ends."""
    follow_job(job_id, "Discovery", PENDING, DONE)


st.title("Biomarkers")
st.caption(
    "Each radiomics feature of the tumour (whole and solid part) in a Cox model adjusted for "
    "the clinical factors, per SD of the feature; Benjamini–Hochberg q over all features; "
    "discovery on all centers and, separately, confirmation on each center left out. A deep "
    "model's risk score can join the features: out-of-fold for the patients it was trained on."
)
with session_scope(engine()) as session:
    deep_models: list[str | None] = [None, *deep_models_with_risk_scores(session)]

with st.form("biomarkers_form"):
    left, middle, right = st.columns(3)
    endpoint = left.selectbox(
        "Endpoint", ENDPOINTS, format_func=lambda e: e.label, key="biomarkers_endpoint"
    )
    adjust = middle.multiselect(
        "Adjust for",
        ADJUSTMENTS,
        default=ADJUSTMENTS,
        format_func=ADJUSTMENT_LABELS.__getitem__,
        key="biomarkers_adjust",
    )
    harmonise = right.radio(
        "Harmonisation",
        HARMONISATIONS,
        format_func=HARMONISATION_LABELS.__getitem__,
        key="biomarkers_harmonise",
        horizontal=True,
    )
    left, middle, right = st.columns(3)
    fdr = left.number_input("False discovery rate", 0.01, 0.5, 0.1, step=0.01, key="biomarkers_fdr")
    bootstrap = middle.number_input(
        "Bootstrap resamples", 0, 1000, 100, step=50, key="biomarkers_bootstrap"
    )
    seed = right.number_input("Seed", 0, 1_000_000, 0, key="biomarkers_seed")
    winsorise = left.number_input(
        "Winsorised share per tail",
        0.0,
        0.24,
        WINSORISE,
        step=0.005,
        format="%.3f",
        key="biomarkers_winsorise",
        help="each feature is clipped at this share of each tail (0.01: its 1st and 99th "
        "percentiles) before the screen, so that a few extreme tumours cannot decide a test; "
        "0 analyses the raw features",
    )
    deep_model = st.selectbox(
        "Deep model's risk score among the candidates",
        deep_models,
        format_func=lambda name: (
            "No deep model (radiomics features only)" if name is None else name
        ),
        key="biomarkers_deep_model",
        help="Out-of-fold scores for the patients the deep model was trained on, its final "
        "model's for the others; patients without such a score are left out.",
    )
    run = st.form_submit_button("Run discovery", type="primary", key="biomarkers_run")

if run:
    try:
        asked = DiscoveryRequest(
            endpoint=endpoint,
            adjust=tuple(adjust),
            harmonise=harmonise,
            fdr=float(fdr),
            bootstrap=int(bootstrap),
            seed=int(seed),
            deep_model=deep_model,
            winsorise=float(winsorise),
        )
        job_id = jobs.start_job(
            engine(), JobKind.DISCOVER, asked.to_parameters(), scope(), data_dir=settings().data_dir
        )
        st.session_state[PENDING] = job_id
    except GistcadError as exc:
        show_error(exc)
if DONE in st.session_state:
    succeeded, message = st.session_state.pop(DONE)
    (st.success if succeeded else st.error)(message)
if PENDING in st.session_state:
    discovery_progress(int(st.session_state[PENDING]))

try:
    with session_scope(engine()) as session:
        newest = newest_result(session, scope(), settings().data_dir)
except GistcadError as exc:
    show_error(exc)
    st.stop()
if newest is None:
    st.info("Choose the endpoint and the adjustment, then run the discovery.")
    st.stop()
shown_job, _ = newest
found = kept_result(shown_job)
request = found.request
st.caption(
    f"Newest finished discovery: job {shown_job} ({request.endpoint.label}, adjusted for "
    f"{', '.join(ADJUSTMENT_LABELS[a] for a in request.adjust) or 'nothing'}, "
    f"{HARMONISATION_LABELS[request.harmonise].lower()}, "
    + (
        f"features winsorised at {request.winsorise:.1%} per tail"
        if request.winsorise
        else "raw features (not winsorised)"
    )
    + (f"; with deep model {request.deep_model}'s risk score" if request.deep_model else "")
    + ")."
)

d = found.discovery
table = d.table
columns = st.columns(5)
columns[0].metric("Patients", d.n)
columns[1].metric("Events", d.n_events)
columns[2].metric("Features tested", d.analysed.shape[1])
columns[3].metric(f"Discovered (q < {request.fdr:g})", len(d.discovered))
columns[4].metric("Confirmed", int(table["confirmed"].sum()))
for note in found.notes:
    st.caption(f"Note: {note}")
flagged = table[table["size_flag"]]
if not flagged.empty:
    names = ", ".join(f"{r.feature} (R² {r.size_r2:.2f})" for r in flagged.itertuples())
    st.warning(
        f"Nearly a function of tumour size (R² on log size ≥ {d.settings.size_r2_threshold:g}): "
        f"{names}. Size is already in the risk schemes; such a feature adds little.",
        icon=":material/straighten:",
    )

st.subheader("Discovery: all centers")
show_figure(
    volcano_figure(table, request.fdr, title=f"{request.endpoint.label}: features"),
    key="biomarkers_volcano",
    filename=f"biomarkers_volcano_{request.endpoint.value}",
)
st.dataframe(
    table[list(TABLE_COLUMNS)].rename(columns=TABLE_COLUMNS),
    hide_index=True,
    width="stretch",
    key="biomarkers_table",
    column_config={
        "p": st.column_config.NumberColumn(format="%.2e"),
        "q (BH)": st.column_config.NumberColumn(format="%.3f"),
    },
)

st.subheader("Confirmation: each center left out")
st.caption(
    "Features discovered (q < FDR) on the other centers, tested in the center left out. A "
    "finding is confirmed when every split that discovered it agrees on the direction and "
    "the held-out estimates, pooled (inverse variance), have that direction with p < "
    f"{d.settings.confirm_alpha:g}."
)
if d.confirmation.empty:
    st.info("No feature was discovered on the training centers of any split.")
else:
    show_table(d.confirmation, key="biomarkers_confirmation")

st.subheader("One feature")
feature = st.selectbox("Feature", list(table["feature"]), key="biomarkers_feature")
left, right = st.columns(2)
try:
    forest = center_forest_table(found, feature)
    if forest.empty:
        left.info("No center has an estimate for this feature.")
    else:
        show_figure(
            forest_figure(forest, title=f"{feature}: HR per SD by center"),
            key="biomarkers_forest",
            filename=f"biomarkers_forest_{feature}",
            where=left,
        )
    show_figure(
        km_figure(tertile_comparison(found, feature), title=f"{feature}: tertiles", ordered=True),
        key="biomarkers_km",
        filename=f"biomarkers_km_{feature}",
        where=right,
    )
except GistcadError as exc:
    show_error(exc)

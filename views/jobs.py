"""Jobs: start a batch prediction or a training run; follow them while they run elsewhere."""

import streamlit as st

from gistcad import jobs
from gistcad.domain import ModelKind
from gistcad.errors import GistcadError
from gistcad.modelling.folds import Scheme
from gistcad.modelling.targets import Target
from gistcad.store import session_scope
from gistcad.store.model_queries import list_jobs, list_model_versions
from gistcad.store.queries import CohortFilter, cohort_table, list_centers
from pages.common import engine, scope, settings, show_error

st.title("Jobs")
st.caption(
    "Training and batch prediction run in a separate worker process: this page stays "
    "responsive, and the jobs go on if you close it."
)

with session_scope(engine()) as session:
    models = list_model_versions(session)
    centers = list_centers(session, scope())["center"].tolist()

start_predict, start_train = st.columns(2)
with start_predict.form("predict_form"):
    st.subheader("Batch prediction")
    names = dict(zip(models["model_version_id"], models["name"], strict=True))
    model_id = st.selectbox("Model", list(names), format_func=names.get, key="jobs_model")
    chosen = st.multiselect("Centers (none = all)", centers, key="jobs_centers")
    if st.form_submit_button("Start prediction", disabled=not names):
        try:
            pseudonyms = None
            if chosen:
                with session_scope(engine()) as session:
                    flt = CohortFilter(centers=frozenset(chosen))
                    pseudonyms = cohort_table(session, scope(), flt)["pseudonym"].tolist()
            job_id = jobs.submit(
                engine(), "predict", {"model_version_id": int(model_id), "pseudonyms": pseudonyms}
            )
            jobs.launch(job_id, env={"GISTCAD_DATA_DIR": str(settings().data_dir)})
            st.success(f"Job {job_id} started.")
        except GistcadError as exc:
            show_error(exc)

with start_train.form("train_form"):
    st.subheader("Training run")
    kind = st.selectbox("Model kind", list(ModelKind), key="jobs_kind")
    target = st.selectbox("Target", list(Target), key="jobs_target")
    scheme = st.selectbox("Validation", list(Scheme), key="jobs_scheme")
    name = st.text_input("Name (optional)", key="jobs_name")
    if st.form_submit_button("Start training"):
        parameters = {
            "kind": kind.value,
            "target": target.value,
            "scheme": scheme.value,
            "name": name.strip() or None,
        }
        job_id = jobs.submit(engine(), "train", parameters)
        jobs.launch(job_id, env={"GISTCAD_DATA_DIR": str(settings().data_dir)})
        st.success(f"Job {job_id} started.")


@st.fragment(run_every="2s")
def job_list() -> None:
    jobs.reap_orphans(engine())
    with session_scope(engine()) as session:
        table = list_jobs(session)
    if table.empty:
        st.info("No job yet.")
        return
    shown = table.assign(
        parameters=table["parameters"].map(
            lambda p: ", ".join(f"{k}={v}" for k, v in p.items() if k != "pid" and v is not None)
        )
    )
    st.dataframe(
        shown[
            [
                "job_id",
                "kind",
                "status",
                "progress",
                "message",
                "error",
                "parameters",
                "created_at",
                "finished_at",
            ]
        ],
        hide_index=True,
        width="stretch",
        column_config={
            "progress": st.column_config.ProgressColumn("progress", min_value=0.0, max_value=1.0)
        },
    )


st.subheader("Recent jobs")
job_list()

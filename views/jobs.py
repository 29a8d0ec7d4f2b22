"""Jobs: start a batch prediction or a training run; follow them while they run elsewhere
(progress, time left); cancel one that runs; restart one that failed."""

import datetime as dt
from typing import Any

import pandas as pd
import streamlit as st

from gistcad import jobs
from gistcad.analysis.prediction_source import VALIDATION_LABELS
from gistcad.display import display_table
from gistcad.domain import JobKind, JobStatus, ModelKind
from gistcad.errors import GistcadError
from gistcad.job_progress import parameters_text, time_left_text
from gistcad.modelling.folds import Scheme
from gistcad.modelling.request import (
    CROP_LABELS,
    CROP_POLICIES,
    MAX_CROP_MM,
    MAX_ENSEMBLE,
    MAX_RADIOMICS_ENSEMBLE,
    MAX_TTA,
    RADIOMICS_LABELS,
    RADIOMICS_MODELS,
    TrainRequest,
)
from gistcad.modelling.targets import trainable_targets
from gistcad.store import session_scope
from gistcad.store.model_queries import list_jobs, list_model_versions
from gistcad.store.queries import list_centers
from views.common import engine, scope, settings, show_error

st.title("Jobs")
st.caption(
    "Training and batch prediction run in a separate worker process: this page stays "
    "responsive, and the jobs go on if you close it."
)

with session_scope(engine()) as session:
    models = list_model_versions(session)
    centers = list_centers(session, scope())["center"].tolist()


def deep_options() -> dict[str, Any]:
    """The deep model's ensemble, test-time views and crop, as a training run's parameters
    (:meth:`TrainRequest.from_parameters` checks them; the defaults leave the run as it was)."""
    ensemble = st.number_input(
        "Networks in the ensemble",
        min_value=1,
        max_value=MAX_ENSEMBLE,
        value=1,
        step=1,
        key="jobs_ensemble",
        help="trains this many networks, each with its own seed, and averages their "
        "predictions: steadier results, but N networks take N times the training time "
        "(every fold of the validation too). 1: a single network",
    )
    tta = st.number_input(
        "Test-time views",
        min_value=0,
        max_value=MAX_TTA,
        value=0,
        step=1,
        key="jobs_tta",
        help="each prediction also averages this many slightly rotated and shifted views of "
        "the tumour's crop (the same views for every patient, so results are reproducible): "
        "N views make every prediction take 1 + N times as long. 0: the crop as it is",
    )
    crop = st.radio(
        "Crop",
        CROP_POLICIES,
        format_func=CROP_LABELS.__getitem__,
        key="jobs_crop",
        horizontal=True,
        help="fit each tumour: every crop is scaled so that the tumour and a margin fill it "
        "(its size reaches the network separately). Fixed spacing: every crop at the same mm "
        "per voxel, so that the network sees each tumour at its true size; tumours larger "
        "than the crop are clipped",
    )
    crop_mm = st.number_input(
        "Crop spacing, mm per voxel",
        min_value=0.0,
        max_value=MAX_CROP_MM,
        value=None,
        step=0.5,
        key="jobs_crop_mm",
        placeholder="needed for a fixed spacing",
        help="fixed spacing: needed, the spacing of every crop (a 32-voxel crop at 4 mm spans "
        "128 mm). Fit each tumour: optional, the finest spacing a small tumour is enlarged "
        "to (empty: 1 mm)",
    )
    return {"ensemble": ensemble, "tta": tta, "crop": crop, "crop_mm": crop_mm}


start_predict, start_train = st.columns(2)
with start_predict.form("predict_form"):
    st.subheader("Batch prediction")
    names: dict[int, str] = {
        int(i): str(n) for i, n in zip(models["model_version_id"], models["name"], strict=True)
    }
    model_id = st.selectbox("Model", list(names), format_func=names.__getitem__, key="jobs_model")
    chosen = st.multiselect("Centers (none = all)", centers, key="jobs_centers")
    if st.form_submit_button("Start prediction", disabled=model_id is None):
        try:
            # a center's patients as a selection, not by name: one the model cannot read is
            # left out, as of all patients
            job_id = jobs.start_job(
                engine(),
                JobKind.PREDICT,
                {"model_version_id": model_id, "pseudonyms": None, "centers": chosen or None},
                scope(),
                data_dir=settings().data_dir,
            )
            st.success(f"Job {job_id} started.")
        except GistcadError as exc:
            show_error(exc)

with start_train:
    st.subheader("Training run")
    # outside the form, so that the targets follow the kind (the risk score: radiomics only)
    kinds_offered = list(ModelKind)
    kind = st.selectbox("Model kind", kinds_offered, format_func=lambda k: k.label, key="jobs_kind")
with start_train.form("train_form"):
    targets = list(trainable_targets(ModelKind(kind or kinds_offered[0])))
    target = st.selectbox("Target", targets, format_func=lambda t: t.label, key="jobs_target")
    scheme = st.selectbox(
        "Validation",
        list(Scheme),
        format_func=lambda s: VALIDATION_LABELS.get(s.value, s.value),
        key="jobs_scheme",
    )
    name = st.text_input("Name (optional)", key="jobs_name")
    folds_from = st.text_input(
        "Reuse the folds of (optional)",
        key="jobs_folds_from",
        help="a model version's id or name: this run is validated on exactly its folds, so "
        "that the two compare fairly (it needs the same validation)",
    )
    deep_model = None
    if kind is ModelKind.RADIOMICS:  # the survival risk score may read a deep model's score
        deep_names = {
            int(i): str(n)
            for i, n, k in zip(
                models["model_version_id"], models["name"], models["kind"], strict=True
            )
            if k == ModelKind.DL.value
        }
        deep_model = st.selectbox(
            "Deep model's risk score as an input (survival target only)",
            [None, *deep_names],
            format_func=lambda i: "none" if i is None else deep_names[i],
            key="jobs_deep_model",
            help="the imaging risk score also reads this deep model's risk head: out of fold "
            "for the patients it was trained on, its stored prediction for the others",
        )
    radiomics = {}
    if kind is ModelKind.RADIOMICS:
        radiomics["radiomics"] = st.radio(
            "Radiomics model (genotype, risk and response targets)",
            RADIOMICS_MODELS,
            format_func=RADIOMICS_LABELS.__getitem__,
            key="jobs_radiomics",
            help="the model search adds the solid part's features and site, size, age and sex, "
            "harmonises the centers' scanners (ComBat) and averages 16 classifiers (logistic "
            "regressions, SVMs, random forests); the tuned logistic regression reads the whole "
            "tumour's features alone. The survival risk score has a model of its own",
        )
        radiomics["radiomics_ensemble"] = st.selectbox(
            "Search's ensemble",
            [None, *range(1, MAX_RADIOMICS_ENSEMBLE + 1)],
            format_func=lambda n: (
                "all 16 classifiers (default)"
                if n is None
                else f"the best {n} by inner cross-validation"
            ),
            key="jobs_radiomics_ensemble",
            help="WORC keeps the best few classifiers, chosen by an inner cross-validation "
            "inside every training fold (a fit then takes several times as long); averaging "
            "all 16 measured better at 400 patients. Model search only",
        )
    # offered with the deep model only: the request refuses them for the other kinds
    deep = deep_options() if kind is ModelKind.DL else {}
    if st.form_submit_button("Start training"):
        try:
            request = TrainRequest.from_parameters(
                {
                    "kind": kind,
                    "target": target,
                    "scheme": scheme,
                    "name": name.strip() or None,
                    "folds_from": folds_from,
                    "deep_model": None if deep_model is None else str(deep_model),
                    **radiomics,
                    **deep,
                }
            )
            job_id = jobs.start_job(
                engine(),
                JobKind.TRAIN,
                request.to_parameters(),
                scope(),
                data_dir=settings().data_dir,
            )
            st.success(f"Job {job_id} started.")
        except GistcadError as exc:
            show_error(exc)


def cancel_control(table: pd.DataFrame) -> None:
    """A queued or running job, picked from ``table``, cancelled (its worker is stopped)."""
    active = table[table["status"].isin([JobStatus.QUEUED.value, JobStatus.RUNNING.value])]
    if active.empty:
        return
    kinds = dict(zip(active["job_id"], active["kind"], strict=True))
    messages = dict(zip(active["job_id"], active["message"].fillna(""), strict=True))
    pick, go = st.columns([4, 1], vertical_alignment="bottom")
    chosen = pick.selectbox(
        "Job to cancel",
        list(kinds),
        format_func=lambda i: f"job {i} ({kinds[i]}): {messages[i][:90]}",
        key="jobs_cancel_id",
    )
    if go.button("Cancel job", key="jobs_cancel", disabled=chosen is None):
        try:
            status = jobs.cancel(engine(), int(chosen), scope())
            if status is JobStatus.CANCELLED:
                st.success(f"Job {chosen} cancelled.")
            else:
                st.success(f"Job {chosen}: its worker is stopping; nothing of the job is saved.")
        except GistcadError as exc:
            show_error(exc)


def restart_control(table: pd.DataFrame) -> None:
    """A failed (or cancelled) job, picked from ``table``, queued again and started."""
    restartable = table[table["status"].isin([s.value for s in jobs.RESTARTABLE])]
    if restartable.empty:
        return
    reasons = dict(zip(restartable["job_id"], restartable["error"].fillna(""), strict=True))
    kinds = dict(zip(restartable["job_id"], restartable["kind"], strict=True))
    pick, go = st.columns([4, 1], vertical_alignment="bottom")
    chosen = pick.selectbox(
        "Failed or cancelled job",
        list(reasons),
        format_func=lambda i: f"job {i} ({kinds[i]}): {reasons[i][:90]}",
        key="jobs_restart_id",
    )
    if go.button("Restart", key="jobs_restart", disabled=chosen is None):
        try:
            new_id = jobs.restart_job(engine(), int(chosen), scope(), data_dir=settings().data_dir)
            st.success(f"Job {new_id} started (restart of job {chosen}).")
        except GistcadError as exc:
            show_error(exc)


@st.fragment(run_every="2s")
def job_list() -> None:
    jobs.reap_orphans(engine())
    with session_scope(engine()) as session:
        table = list_jobs(session, scope())
    if table.empty:
        st.info("No job yet.")
        return
    now = dt.datetime.now(dt.UTC)
    shown = table.assign(
        parameters=table["parameters"].map(parameters_text),
        time_left=[
            time_left_text(str(status), started, float(progress), now)
            for status, started, progress in zip(
                table["status"], table["started_at"], table["progress"], strict=True
            )
        ],
    )
    columns = {
        "job_id": "Job",
        "kind": "Kind",
        "status": "Status",
        "progress": "Progress",
        "time_left": "Time left",
        "message": "Message",
        "error": "Error",
        "parameters": "Parameters",
        "created_at": "Created",
        "finished_at": "Finished",
    }
    st.dataframe(
        display_table(shown[list(columns)], columns),
        hide_index=True,
        width="stretch",
        column_config={
            "Progress": st.column_config.ProgressColumn("Progress", min_value=0.0, max_value=1.0),
        },
    )
    cancel_control(table)
    restart_control(table)


st.subheader("Recent jobs")
job_list()

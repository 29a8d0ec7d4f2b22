"""Model performance: per-center ROC and AUC with CI and the ceiling, the models compared on
the same patients (DeLong's paired test), calibration and confusion in percentages; for an
imaging risk score (target rfs): C, time-dependent AUC, ΔC over the schemes, calibration at
5 years and Kaplan–Meier by out-of-fold risk tertile; the same, without calibration, for the
deep model's risk head."""

from typing import Any

import pandas as pd
import streamlit as st

from gistcad.analysis.prediction_source import VALIDATION_LABELS
from gistcad.domain import ModelKind, model_class_label
from gistcad.errors import GistcadError
from gistcad.modelling.assessment import (
    CEILING,
    SYNTHETIC_REFERENCES,
    Assessment,
    SharedComparison,
    compare_on_shared_patients,
    evaluate_version,
    reference_notes,
)
from gistcad.modelling.evaluation import (
    POOLED,
    TASK_LABELS,
    center_mean_text,
    confusion,
    misclassified,
    roc_curves,
)
from gistcad.modelling.oracle_link import oracle_stamp
from gistcad.modelling.survival_evaluation import (
    DELTA_MEASURES,
    lr_text,
    metrics_table,
    tertile_comparison,
)
from gistcad.plots.cohort import count_bars
from gistcad.plots.markers import MARKER_LEGEND
from gistcad.plots.performance import (
    auc_forest,
    comparison_forest,
    confusion_figure,
    reliability_figure,
    roc_figure,
)
from gistcad.plots.survival import km_figure
from gistcad.plots.survival_score import delta_c_forest, survival_calibration_figure
from gistcad.store import session_scope
from gistcad.store.model_queries import list_model_versions, model_version_detail
from gistcad.store.queries import cohort_table
from views.common import (
    audited_csv,
    engine,
    scope,
    settings,
    show_demo_training,
    show_error,
    show_figure,
    show_table,
)


@st.cache_data(max_entries=64, show_spinner="Evaluating…")
def assessed(
    model_version_id: int, threshold: float, scope_key: str, versions: str, oracle_key: str
) -> Assessment:
    """One model version at one threshold in the caller's scope, beside the other versions
    and the ceiling (cached: the bootstrap is costly; keyed by the scope, the registered
    versions and the oracle)."""
    del scope_key, versions, oracle_key  # cache keys
    with session_scope(engine()) as session:
        return evaluate_version(
            session, scope(), settings().layout, model_version_id, threshold, baselines=True
        )


@st.cache_data(max_entries=64, show_spinner="Comparing the models on the same patients…")
def compared(model_version_id: int, task: str, scope_key: str, versions: str) -> SharedComparison:
    """The version beside every other that answers ``task``, on the same patients (cached:
    a bootstrap per model and center; keyed by the scope and the registered versions)."""
    del scope_key, versions  # cache keys
    with session_scope(engine()) as session:
        detail = model_version_detail(session, scope(), model_version_id)
        return compare_on_shared_patients(session, scope(), detail, task)


st.title("Model performance")

training = show_demo_training("Each model appears in the list below once it is registered.")
with session_scope(engine()) as session:
    models = list_model_versions(session)
if models.empty:
    if not training:
        st.info("No model is registered yet. Train one with `gistcad train --model clinical`.")
    st.stop()

names: dict[int, str] = {
    int(i): str(n) for i, n in zip(models["model_version_id"], models["name"], strict=True)
}
top = st.columns([2, 1])
model_id: int = top[0].selectbox(
    "Model", list(names), format_func=names.__getitem__, key="perf_model"
)
threshold = top[1].slider("Threshold", 0.05, 0.95, 0.5, 0.05, key="perf_threshold")

try:
    who = scope()
    centers = "all" if who.center_ids is None else sorted(who.center_ids)
    scope_key = f"{who.user}|{who.role}|{centers}"
    versions = ",".join(str(v) for v in names)
    oracle_key = oracle_stamp(settings().layout)
    assessment = assessed(int(model_id), threshold, scope_key, versions, oracle_key)
    with session_scope(engine()) as session:
        cohort = cohort_table(session, who)
except GistcadError as exc:
    show_error(exc)
    st.stop()

detail, evaluation, target = assessment.detail, assessment.evaluation, assessment.target
scheme = str(detail.parameters.get("scheme", "?"))
st.caption(
    f"{ModelKind(detail.kind).label} model for {target.label}, {len(detail.oof)} patients "
    f"evaluated out of fold ({VALIDATION_LABELS.get(scheme, scheme)}); created "
    f"{detail.created_at:%Y-%m-%d %H:%M}"
)
st.caption(
    f"Every figure on this page comes from out-of-fold predictions "
    f"({VALIDATION_LABELS.get(scheme, scheme)}): each patient predicted by a model fitted "
    "without that patient. Not from the final model, whose predictions of its own training "
    "patients are in-sample."
)


def show_survival(
    survival: dict[str, Any], oof: pd.DataFrame, key: str, file: str, name: str
) -> None:
    """A stored survival evaluation (an imaging risk score's, or a risk head's) of version
    ``name``: metrics per center, the ΔC forest with the LR tests, the calibration at 5 years
    (or why there is none) and Kaplan–Meier by out-of-fold risk tertile; widget keys start
    with ``key``, downloaded figures' names with ``file``."""
    show_table(metrics_table(survival), key=f"{key}_table")
    left, right = st.columns(2)
    for stored, measure in DELTA_MEASURES.items():
        deltas = pd.DataFrame(survival.get(stored, []))
        if deltas.empty:
            continue
        show_figure(
            delta_c_forest(
                deltas, title=f"Added value over the schemes: ΔC in {measure} (95 % bootstrap CI)"
            ),
            f"{key}_forest" + ("" if stored == "delta_c" else "_uno"),
            f"{file}_{stored}_{name}",
            where=left,
        )
    for test in survival["lr_tests"]:
        left.caption(f"Score added to a Cox model of {test['base']}: {lr_text(test)}")
    if survival.get("references_note"):
        note = survival["references_note"]
        left.caption(note[0].upper() + note[1:])
    if "calibration" in survival:
        slope = survival["calibration"]["slope"]
        show_figure(
            survival_calibration_figure(
                survival["calibration"],
                title="Calibration at 5 years, slope "
                + ("not estimable" if slope is None else f"{slope:.2f}"),
            ),
            f"{key}_calibration",
            f"{file}_survival_calibration_{name}",
            where=right,
        )
    elif survival.get("calibration_note"):
        note = survival["calibration_note"]
        right.caption(f"Calibration at 5 years: {note}.")
    try:
        show_figure(
            km_figure(
                tertile_comparison(oof),
                title="Recurrence-free survival by out-of-fold risk tertile",
                ordered=True,
            ),
            f"{key}_km",
            f"{file}_km_by_tertile_{name}",
        )
    except GistcadError as exc:
        show_error(exc)


if target.is_survival:  # an imaging risk score: survival metrics, not AUCs
    st.subheader("Imaging risk score for recurrence-free survival")
    show_survival(evaluation.survival, detail.oof, "perf_surv", "performance", detail.name)
    with st.expander("Model card", expanded=False):
        st.markdown(detail.card)
    st.stop()

task = st.radio(
    "Question",
    list(evaluation.tables),
    format_func=TASK_LABELS.get,
    horizontal=True,
    key="perf_task",
)
table = evaluation.tables[task]

ceiling = assessment.references.get(task, {}).get(CEILING)
# the synthetic references (ceiling, with age and sex, observable, clinical oracle) on the forest
synthetic = {
    name: aucs
    for name, aucs in assessment.references.get(task, {}).items()
    if name in SYNTHETIC_REFERENCES
}

left, right = st.columns(2)
show_figure(
    roc_figure(roc_curves(detail.oof, target, task), title=f"ROC — {TASK_LABELS[task]}"),
    "perf_roc",
    f"performance_roc_{detail.name}_{task}",
    where=left,
)
show_figure(
    auc_forest(
        table,
        title="AUC per center (95 % bootstrap CI)",
        references=synthetic,
    ),
    "perf_forest",
    f"performance_auc_per_center_{detail.name}_{task}",
    where=right,
)
right.caption(MARKER_LEGEND)
right.caption(
    "Mean of centers: the unweighted mean of the per-center AUCs, "
    f"{center_mean_text(table.set_index('center').loc[POOLED])}; each center's scores are "
    "ranked among themselves (95 % CI: patients resampled within each center). The pooled "
    "row ranks all patients' out-of-fold scores together, across the fold models' scales."
)
for note in [] if ceiling is None else reference_notes(table, ceiling, CEILING):
    st.info(note, icon=":material/info:")
show_table(table, key="perf_table")
if evaluation.concordance and not evaluation.risk_head.get("metrics"):
    st.caption(
        "Imaging risk score, Harrell's C for recurrence-free survival: "
        + ", ".join(f"{c} {v:.3f}" for c, v in evaluation.concordance.items())
    )
st.download_button(
    "Download per-center metrics (CSV)",
    audited_csv(f"per-center metrics of {detail.name}", table),
    file_name=f"{detail.name}_{task}.csv",
    key="perf_download",
    on_click="ignore",
)
if evaluation.risk_head.get("metrics"):
    st.subheader("Risk head (recurrence-free survival)")
    st.caption(
        "The network's Cox head, trained beside its target: its out-of-fold risk score judged "
        "as the imaging risk score is, against size alone and the modified NIH 2008 scheme."
    )
    show_survival(
        evaluation.risk_head, detail.oof, "perf_head", "performance_risk_head", detail.name
    )
elif evaluation.risk_head:
    st.caption(f"Risk head: not evaluated, {evaluation.risk_head['not_evaluated']}")

st.subheader("Compared with the other models on the same patients")
shared: SharedComparison | None
try:
    shared = compared(int(model_id), task, scope_key, versions)
except GistcadError as exc:
    shared = None
    show_error(exc)
if shared is not None and len(shared.models) > 1:
    st.caption(
        f"{len(shared.models)} models, each evaluated on the same {shared.n_patients} "
        "patients, all predicted out of fold: the only patients on which their AUCs compare. "
        "Per center with 95 % bootstrap CI; DeLong's test for paired AUCs against "
        f"{shared.models[0]}."
    )
    # the ceiling was computed on this model's patients: shown when they are the compared ones
    same_patients = shared.n_patients == detail.oof["pseudonym"].nunique()
    shared_ceiling = {CEILING: ceiling} if ceiling is not None and same_patients else {}
    show_figure(
        comparison_forest(
            shared.table,
            title=f"AUC per center — {TASK_LABELS[task]}",
            references=synthetic if same_patients else {},
        ),
        "perf_compare_forest",
        f"performance_models_compared_{task}",
    )
    st.caption(MARKER_LEGEND)
    for model in shared.models[1:] if shared_ceiling else ():
        rows = shared.table[shared.table["model"] == model]
        for note in reference_notes(rows, shared_ceiling[CEILING], CEILING):
            st.info(f"{model}, {note}", icon=":material/info:")
    show_table(
        shared.paired.rename(
            columns={
                "model": "Model",
                "center": "Center",
                "n": "Patients",
                "auc_first": f"AUC of {shared.models[0]}",
                "auc_model": "AUC of the model",
                "difference": "Difference",
                "p_value": "p (DeLong)",
            }
        ),
        key="perf_paired",
    )
elif shared is not None:
    st.caption("No other registered model answers this question on these patients.")
for note in () if shared is None else shared.notes:
    st.caption(note)

left, right = st.columns(2)
if task in evaluation.reliability:
    pooled = table.set_index("center").loc[POOLED]
    show_figure(
        reliability_figure(
            evaluation.reliability[task],
            title=f"Calibration: slope {pooled['calibration_slope']:.2f}, "
            f"intercept {pooled['calibration_intercept']:.2f}",
        ),
        "perf_calibration",
        f"performance_calibration_{detail.name}_{task}",
        where=left,
    )
classes = tuple(detail.parameters.get("classes", target.classes))
matrix = confusion(detail.oof, classes)
matrix.index = matrix.index.map(model_class_label).rename(matrix.index.name)
matrix.columns = matrix.columns.map(model_class_label).rename(matrix.columns.name)
show_figure(
    confusion_figure(matrix, title="Confusion matrix (most probable class; % of the true class)"),
    "perf_confusion",
    f"performance_confusion_{detail.name}",
    where=right,
)

st.subheader("Case mix by center")
mix = cohort[cohort["pseudonym"].isin(detail.oof["pseudonym"])]
show_figure(
    count_bars(
        mix.assign(genotype=mix["genotype_group"]),
        "genotype",
        by="center",
        title="Genotype by center (evaluated patients)",
    ),
    "perf_mix",
    f"performance_case_mix_{detail.name}",
)

st.subheader("Misclassified patients")
wrong = misclassified(detail.oof, classes)
wrong["case"] = "/case?patient=" + wrong["pseudonym"]
show_table(
    wrong.assign(
        true=wrong["true"].map(model_class_label),
        predicted=wrong["predicted"].map(model_class_label),
    ),
    key="perf_wrong",
    column_config={"case": st.column_config.LinkColumn("Case view", display_text="open")},
)

with st.expander("Model card", expanded=False):
    st.markdown(detail.card)

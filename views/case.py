"""Case view for the tumour board: one patient's card, risk by every scheme, therapy note."""

import pandas as pd
import streamlit as st

from gistcad import jobs
from gistcad.analysis.case import assess_case
from gistcad.analysis.prediction_source import prediction_text
from gistcad.analysis.therapy import DISCLAIMER
from gistcad.domain import GenotypeDetail, Permission
from gistcad.errors import GistcadError
from gistcad.neural.attention_maps import available_attention_maps
from gistcad.store import session_scope
from gistcad.store.model_queries import list_model_versions, patient_predictions
from gistcad.store.queries import (
    find_pseudonyms,
    patient_record,
    patient_series,
    series_segmentations,
)
from gistcad.viewer.report import (
    case_facts,
    case_report_html,
    display_value,
    mitotic_unit_text,
)
from views.common import audited_text, engine, scope, settings, show_error
from views.viewer import ct_viewer, key_slice

SCHEME_NAMES = {
    "nih2002": "NIH 2002",
    "afip2006": "AFIP 2006",
    "joensuu2008": "Modified NIH 2008",
}

st.title("Case view")

search = st.text_input(
    "Pseudonym",
    st.query_params.get("patient", ""),
    key="case_search",
    placeholder="e.g. GIST-7KQ3M2AB9X",
)
with session_scope(engine()) as session:
    matches = find_pseudonyms(session, scope(), search) if search.strip() else []
if not search.strip():
    st.info("Type a pseudonym (or part of one) to open a case.")
    st.stop()
if not matches:
    st.warning(f"No patient in your scope matches {search!r}.")
    st.stop()
pseudonym = (
    matches[0]
    if len(matches) == 1
    else st.selectbox(f"{len(matches)} patients match", matches, key="case_pick")
)
st.query_params["patient"] = pseudonym

try:
    with session_scope(engine()) as session:
        record = patient_record(session, scope(), pseudonym)
        predictions = patient_predictions(session, scope(), record.patient_id)
        series = patient_series(session, scope(), record.patient_id)
except GistcadError as exc:
    show_error(exc)
    st.stop()

tumour = record.tumours.iloc[0].to_dict() if not record.tumours.empty else {}
genotype = GenotypeDetail(tumour.get("genotype_detail") or GenotypeDetail.UNKNOWN)


st.header(record.pseudonym)
facts = st.columns(4)
facts[0].metric("Center", record.center)
facts[1].metric("Site", display_value(tumour.get("site")).replace("_", "/"))
facts[2].metric("Size", display_value(tumour.get("size_cm"), " cm"))
unit = mitotic_unit_text(tumour.get("mitotic_unit"))
facts[3].metric("Mitoses", f"{display_value(tumour.get('mitotic_count'))} {unit}".strip())
st.caption(
    f"Sub-site: {display_value(tumour.get('sub_site'))} · rupture: "
    f"{ {1: 'yes', 0: 'no'}.get(tumour.get('rupture'), 'unknown') } · histology: "
    f"{display_value(tumour.get('histology'))} · sex: {display_value(record.sex)} · "
    "age at diagnosis: "
    f"{display_value(record.age_at_diagnosis, ' y')}"
)

assessment = assess_case(
    site=tumour.get("site"),
    size_cm=tumour.get("size_cm"),
    mitotic_count=tumour.get("mitotic_count"),
    mitotic_unit=tumour.get("mitotic_unit"),
    rupture=bool(tumour.get("rupture")) if tumour.get("rupture") is not None else None,
    genotype=genotype,
)
left, right = st.columns(2)
with left:
    st.subheader("Risk of recurrence")
    if assessment.unclassified_reason:
        st.warning(assessment.unclassified_reason)
    else:
        st.dataframe(
            pd.DataFrame(
                [
                    {"scheme": SCHEME_NAMES[s.value], "risk": a.label, "notes": "; ".join(a.notes)}
                    for s, a in assessment.risks.items()
                ]
            ),
            hide_index=True,
            width="stretch",
        )
    if assessment.recurrence is not None:
        st.write(f"{assessment.recurrence.summary} — *{assessment.recurrence.label}*")
        st.caption(" · ".join((*assessment.recurrence.notes, *assessment.recurrence.limits)))
with right:
    st.subheader("Genotype")
    st.write(f"True genotype: **{genotype.value}** ({display_value(tumour.get('genotype_text'))})")
    with session_scope(engine()) as session:
        models = list_model_versions(session)
    if not models.empty and not series.empty and scope().can(Permission.RUN_JOBS):
        names = dict(zip(models["model_version_id"], models["name"], strict=True))
        pick, go = st.columns([3, 1])
        chosen_model = pick.selectbox(
            "Model",
            list(names),
            format_func=names.get,
            key="case_model",
            label_visibility="collapsed",
        )
        if go.button("Run prediction", key="case_predict"):
            job_id = jobs.submit(
                engine(),
                "predict",
                {"model_version_id": int(chosen_model), "pseudonyms": [record.pseudonym]},
                scope(),
            )
            jobs.launch(job_id, env={"GISTCAD_DATA_DIR": str(settings().data_dir)})
            st.info(f"Prediction job {job_id} started; see the Jobs page, then reload.")
    if predictions.empty:
        st.caption("No model has predicted this patient yet.")
    else:
        for row in predictions.to_dict(orient="records"):
            text = prediction_text(row)
            st.write(f"{text.heading}: **{text.predicted_class}** — {text.probabilities}")
            if text.out_of_fold_heading is not None:
                st.write(
                    f"{text.out_of_fold_heading}: **{text.out_of_fold_class}** — "
                    f"{text.out_of_fold_probabilities}"
                )
            if text.warning is not None:
                st.caption(text.warning)

st.subheader("Therapy implication")
therapy = assessment.therapy
st.write(f"Imatinib sensitivity: **{therapy.imatinib_sensitivity.value}**. {therapy.dose_note}")
if therapy.alternative_agents:
    st.write("Alternatives: " + "; ".join(therapy.alternative_agents))
st.write(f"Adjuvant imatinib: **{therapy.adjuvant.value}**. {therapy.adjuvant_note}")
if assessment.other_schemes:
    st.caption("Other schemes would change the call: " + " ".join(assessment.other_schemes))
st.caption("Sources: " + "; ".join(therapy.sources))
st.warning(DISCLAIMER, icon=":material/warning:")

st.subheader("Follow-up")
outcome = record.outcome or {}
follow = st.columns(3)
follow[0].metric(
    "Recurrence-free",
    f"{display_value(outcome.get('rfs_months'), ' mo')}",
    {1: "recurred", 0: "no recurrence"}.get(outcome.get("rfs_event")),
    delta_color="off",
)
follow[1].metric(
    "Overall",
    f"{display_value(outcome.get('os_months'), ' mo')}",
    {1: "died", 0: "alive"}.get(outcome.get("os_event")),
    delta_color="off",
)
follow[2].metric("Last follow-up", display_value(outcome.get("last_follow_up")))

st.subheader("CT")
if series.empty:
    st.caption("No CT series imported for this patient.")
else:
    chosen = series.iloc[0].to_dict()
    if len(series) > 1:
        uid = st.selectbox("Series", series["series_instance_uid"].tolist(), key="case_series")
        chosen = series[series["series_instance_uid"] == uid].iloc[0].to_dict()
    with session_scope(engine()) as session:
        masks = series_segmentations(session, scope(), int(chosen["series_id"]))
    st.caption(
        f"{chosen['manufacturer'] or 'unknown scanner'}, {chosen['phase']} phase, "
        f"{display_value(chosen['slice_thickness_mm'], ' mm')} slices, "
        f"{' × '.join(str(v) for v in chosen['shape'])} voxels"
    )
    mask = None if masks.empty else (masks.iloc[0]["path"], masks.iloc[0]["sha256"])
    maps = available_attention_maps(
        settings().layout, record.pseudonym, predictions["model_version_id"]
    )
    attention = {
        f"{row.model} ({row.created_at:%Y-%m-%d})": str(maps[int(row.model_version_id)])
        for row in predictions.itertuples(index=False)
        if int(row.model_version_id) in maps
    }
    ct_viewer((chosen["volume_path"], chosen["volume_sha256"]), mask, attention)

report_picture, report_caption, report_measures = (None, "", {})
if not series.empty:
    report_picture, report_caption, report_measures = key_slice(
        (chosen["volume_path"], chosen["volume_sha256"]), mask
    )
report = case_report_html(
    case_facts(record, predictions),
    assessment,
    ct_slice=report_picture,
    ct_caption=report_caption,
    measures=report_measures,
)
st.download_button(
    "Download the one-page case report (printable HTML)",
    audited_text("case report", report, patient=record.pseudonym),
    file_name=f"{record.pseudonym}.html",
    mime="text/html",
    key="case_report",
)

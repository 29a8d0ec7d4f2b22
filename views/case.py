"""Case view for the tumour board: one patient's card, risk by every scheme, therapy note."""

import pandas as pd
import streamlit as st

from gistcad import jobs
from gistcad.analysis.case import PanelModel, case_card, display_value
from gistcad.analysis.therapy import DISCLAIMER
from gistcad.domain import (
    CURRENT_MODELS,
    ContrastPhase,
    JobKind,
    Permission,
    outline_caption,
)
from gistcad.errors import GistcadError, NotFoundError
from gistcad.followup.case import CaseFollowup, case_followup
from gistcad.neural.attention_maps import available_attention_maps
from gistcad.store import session_scope
from gistcad.store.model_queries import list_model_versions
from gistcad.store.queries import (
    case_rows,
    find_pseudonyms,
    series_segmentations,
    shown_outline,
)
from gistcad.viewer.report import CASE_REPORT
from views.common import audited_case_report, engine, follow_job, scope, settings, show_error
from views.outline import clicked_outline, outline_controls, outline_form
from views.viewer import ct_viewer, side_by_side

#: session keys: the case's prediction job still running (pseudonym, job id), and the
#: message of the one that just finished
PENDING, DONE = "case_prediction_job", "case_prediction_done"
#: the facts under the header's figures
CAPTION_FACTS = ("Sub-site", "Rupture", "Histology", "Sex", "Age at diagnosis")

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
        rows = case_rows(session, scope(), pseudonym)
    card = case_card(rows)
except GistcadError as exc:
    show_error(exc)
    st.stop()
predictions, series = rows.predictions, rows.series

st.header(card.pseudonym)
# the card on the left, the CT beside it (filled by the CT section below)
card_column, ct_column = st.columns([1, 1], gap="medium")
facts = [*card_column.columns(2), *card_column.columns(2)]  # two by two: values fit
facts[0].metric("Center", card.center)
for column, name in zip(facts[1:], ("Site", "Size", "Mitoses"), strict=True):
    column.metric(name, card.facts[name])
card_column.caption(" · ".join(f"{name}: {card.facts[name]}" for name in CAPTION_FACTS))

assessment = card.assessment
left, right = card_column.container(), card_column.container()  # risk above genotype
with left:
    st.subheader("Risk of recurrence")
    if assessment.unclassified_reason:
        st.warning(assessment.unclassified_reason)
    else:
        st.dataframe(
            pd.DataFrame(
                [{"Scheme": r.scheme, "Risk": r.risk, "Notes": r.notes} for r in card.risk_rows]
            ),
            hide_index=True,
            width="stretch",
        )
    if assessment.recurrence is not None:
        st.write(f"{assessment.recurrence.summary} — *{assessment.recurrence.label}*")
        st.caption(" · ".join((*assessment.recurrence.notes, *assessment.recurrence.limits)))
    if card.imaging_risk is not None:
        st.write(card.imaging_risk.plain)


def phase_label(phase: object) -> str:
    """A series' contrast phase as printed, e.g. "portal venous" (unknown when not stored)."""
    if not isinstance(phase, str) or phase not in set(ContrastPhase):
        return ContrastPhase.UNKNOWN.label.lower()
    return ContrastPhase(phase).label.lower()


def _panel_model(model: PanelModel) -> None:
    shown = model.shown  # never an in-sample class as the prediction
    if shown is None:
        st.write(str(model.text.withheld))
    else:
        st.write(f"{model.model}: **{shown[0]}** — {shown[1]}")
    st.caption(f"This patient: {model.this_patient}. Validation: {model.validation}.")
    if model.text.warning is not None:
        st.caption(model.text.warning)


@st.fragment(run_every="2s")
def prediction_result(job_id: int) -> None:
    """The case's prediction job while it runs; the card is reloaded when it succeeds."""
    follow_job(job_id, "Prediction", PENDING, DONE)


def prediction_control(pseudonym: str) -> None:
    """Run a prediction of this case in a job; its result appears here when it is ready."""
    with session_scope(engine()) as session:
        models = list_model_versions(session)
    if models.empty or series.empty or not scope().can(Permission.RUN_JOBS):
        return
    # 0: the current versions (genotype, risk score, response where registered), the
    # meeting's default; otherwise one chosen version
    names: dict[int, str] = {0: "Current models (genotype, risk score, response)"}
    names |= dict(zip(models["model_version_id"], models["name"], strict=True))
    pick, go = st.columns([3, 1])
    chosen_model = pick.selectbox(
        "Model",
        list(names),
        format_func=lambda i: names[i],
        key="case_model",
        label_visibility="collapsed",
    )
    if go.button("Run prediction", key="case_predict"):
        try:
            job_id = jobs.start_job(
                engine(),
                JobKind.PREDICT,
                (
                    {"models": CURRENT_MODELS, "pseudonyms": [pseudonym]}
                    if int(chosen_model) == 0
                    else {"model_version_id": int(chosen_model), "pseudonyms": [pseudonym]}
                ),
                scope(),
                data_dir=settings().data_dir,
            )
            st.session_state[PENDING] = (pseudonym, job_id)
            st.info(f"Prediction job {job_id} started; its result appears here when it is ready.")
        except GistcadError as exc:
            show_error(exc)
    if DONE in st.session_state:
        succeeded, message = st.session_state.pop(DONE)
        (st.success if succeeded else st.error)(message)
    pending = st.session_state.get(PENDING)
    if pending is not None and pending[0] == pseudonym:
        prediction_result(int(pending[1]))


with right:
    st.subheader("Genotype")
    st.write(f"True genotype: **{card.genotype_line}**")
    prediction_control(card.pseudonym)
    panel = card.genotype_models
    if panel.recommended is not None:
        st.markdown(f"**{panel.recommendation}**")
        _panel_model(panel.recommended)
    elif panel.reason is not None:
        st.caption(panel.reason)
    if panel.others:
        label = "Other genotype models" if panel.recommended else "Genotype models"
        with st.expander(f"{label} ({len(panel.others)})"):
            for model in panel.others:
                _panel_model(model)
    for text in card.other_predictions:
        if text.summary is not None:
            st.write(f"**{text.summary}**")
        shown = text.shown  # out-of-fold first; never an in-sample class as the prediction
        if shown is None:
            st.write(str(text.withheld))
            continue
        heading, cls, probabilities = shown
        st.write(f"{heading}: **{cls}** — {probabilities}")
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
for column, figure in zip(st.columns(len(card.follow_up)), card.follow_up, strict=True):
    column.metric(figure.label, figure.value, figure.state, delta_color="off")

report_series = None  # the series whose key slice the report shows
with ct_column:
    st.subheader("CT")
    if series.empty:
        st.caption("No CT series imported for this patient.")
    else:
        chosen = series.iloc[0].to_dict()
        if len(series) > 1:
            uid = st.selectbox("Series", series["series_instance_uid"].tolist(), key="case_series")
            chosen = series[series["series_instance_uid"] == uid].iloc[0].to_dict()
        report_series = str(chosen["series_instance_uid"])
        with session_scope(engine()) as session:
            outline = shown_outline(
                series_segmentations(session, scope(), int(chosen["series_id"]))
            )
        st.caption(
            f"{chosen['manufacturer'] or 'unknown scanner'}, {phase_label(chosen['phase'])} "
            "phase, "
            f"{display_value(chosen['slice_thickness_mm'], ' mm')} slices, "
            f"{' × '.join(str(v) for v in chosen['shape'])} voxels"
        )
        mask = None if outline is None else (outline["path"], outline["sha256"])
        if outline is not None:
            st.caption(outline_caption(str(outline["source"])))
        maps = available_attention_maps(
            settings().layout, card.pseudonym, predictions["model_version_id"]
        )
        attention = {
            f"{row.model} ({row.created_at:%Y-%m-%d})": str(maps[int(row.model_version_id)])
            for row in predictions.itertuples(index=False)
            if int(row.model_version_id) in maps
        }
        image = (str(chosen["volume_path"]), str(chosen["volume_sha256"]))
        clicked = clicked_outline(card.pseudonym, image[1])
        ct_viewer(
            image,
            mask,
            attention,
            outline=None if clicked.grown is None else clicked.grown.overlay,
            outline_key=clicked.key,
        )
        outline_controls(card.pseudonym, clicked)
        outline_form(card.pseudonym, image)


def follow_up_section(followup: CaseFollowup) -> None:
    """Timeline, baseline beside a chosen follow-up CT, lesion table and categories."""
    for note in followup.notes:
        st.info(note, icon=":material/info:")
    st.markdown("**Timeline**")
    st.table(followup.timeline.set_index("Timepoint"))
    if not followup.has_follow_up:
        st.caption("Only the baseline CT: no follow-up imaging to compare.")
        return
    images = followup.images
    later = [n for n in images if n != 0]
    if 0 in images and later:
        chosen = st.selectbox(
            "Follow-up CT beside the baseline",
            later,
            index=len(later) - 1,
            format_func=lambda n: images[n].label,
            key="case_compare",
        )
        shown = [images[0], images[chosen]]
        side_by_side(
            [(i.label, i.image, i.mask) for i in shown], key=f"compare_{followup.pseudonym}"
        )
    st.markdown("**Lesions** (change from baseline)")
    st.dataframe(followup.lesions, hide_index=True, width="stretch")
    st.markdown("**Response by RECIST 1.1 and Choi**")
    st.table(followup.categories.set_index("Timepoint"))


st.subheader("Follow-up CT and treatment response")
try:
    with session_scope(engine()) as session:
        followup: CaseFollowup | None = case_followup(session, scope(), card.pseudonym)
except NotFoundError as exc:
    followup = None
    st.caption(str(exc))
if followup is not None:
    follow_up_section(followup)

st.download_button(
    "Download the one-page case report (printable HTML)",
    audited_case_report(card.pseudonym, report_series),
    file_name=f"{card.pseudonym}.html",
    mime="text/html",
    key="case_report",
    on_click="ignore",
    help=f"Recorded in the audit trail as a {CASE_REPORT} export.",
)

if report_series is not None and scope().can(Permission.IMPORT_DATA):
    with st.expander("Send the segmentation and results to the PACS (DICOM SEG + SR)"):
        pacs_url = st.text_input(
            "DICOMweb address",
            placeholder="http://pacs.example.org:8042/dicom-web",
            key="case_pacs_url",
        )
        if st.button("Send to the PACS", key="case_pacs_push", disabled=not pacs_url):
            from gistcad.pacs.push import push_results  # highdicom: on demand only

            try:
                with session_scope(engine()) as session:
                    pushed = push_results(
                        session,
                        scope(),
                        settings().layout,
                        pacs_url,
                        card.pseudonym,
                        series_uid=report_series,
                    )
            except GistcadError as exc:
                show_error(exc)
            else:
                st.success(pushed.summary(), icon=":material/cloud_upload:")

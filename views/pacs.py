"""PACS and upload: bring a CT in from the hospital's PACS (DICOMweb) or from this browser.

Both go through the same import as ``gistcad import dicom`` (validated, de-identified, one
transaction, audited); the page only passes the bytes or the study chosen and shows the
report. The PACS's patient ids are shown to choose a study and never stored.
"""

from collections.abc import Callable

import pandas as pd
import streamlit as st

from gistcad.errors import GistcadError
from gistcad.ingest.report import ImportReport
from gistcad.ingest.upload import MAX_UPLOAD_BYTES, UploadedFile, import_upload
from gistcad.pacs.dicomweb import StudySummary, find_studies
from gistcad.pacs.pull import import_from_pacs
from views.common import engine, scope, settings, show_error

st.title("PACS and upload")
st.caption(
    "Import a patient's CT from the hospital's PACS or from files on this computer. Names, "
    "ids and birth dates are removed at import; the patient gets a pseudonym."
)


def _show(reports: list[ImportReport]) -> None:
    for report in reports:
        text = report.summary().replace("\n", "  \n")  # one line each, as on the console
        if report.ok:
            st.success(text, icon=":material/check_circle:")
        else:
            st.error(text, icon=":material/error:")


class _Progress:
    """The import's progress bar: one tick per file retrieved or series stored."""

    def __init__(self) -> None:
        self.done = 0
        self.bar = st.progress(0.0, text="Importing ...")

    def __call__(self, step: int) -> None:
        self.done += step
        self.bar.progress(
            min(1.0, 0.1 + 0.1 * self.done), text=f"{self.done} file(s) and series done"
        )

    def finish(self) -> None:
        self.bar.progress(1.0, text="Done")


def _import_with_progress(run: Callable[[_Progress], list[ImportReport]]) -> None:
    """Run one import with a progress bar; show its reports, or its error in words."""
    progress = _Progress()
    try:
        reports = run(progress)
    except GistcadError as exc:
        progress.bar.empty()
        show_error(exc)
    else:
        progress.finish()
        _show(reports)


upload_tab, pacs_tab = st.tabs(["Upload", "PACS"])

with upload_tab:
    st.write(
        f"A zip of the export, or the CT's DICOM files (at most "
        f"{MAX_UPLOAD_BYTES // 1024**2} MB in all)."
    )
    center = st.text_input("Center", key="upload_center")
    files = st.file_uploader("Zip or DICOM files", accept_multiple_files=True, key="upload_files")
    if st.button("Import", key="upload_import", type="primary", disabled=not files):
        _import_with_progress(
            lambda progress: import_upload(
                engine(),
                settings().data_dir,
                scope(),
                [UploadedFile(f.name, f.getvalue()) for f in files or []],
                center=center,
                progress=progress,
            )
        )

with pacs_tab:
    url = st.text_input(
        "DICOMweb address", placeholder="http://pacs.example.org:8042/dicom-web", key="pacs_url"
    )
    id_col, acc_col, date_col = st.columns(3)
    patient_id = id_col.text_input("Patient id", key="pacs_patient_id")
    accession = acc_col.text_input("Accession number", key="pacs_accession")
    study_date = date_col.text_input(
        "Study date", placeholder="20240131 or 20240101-20240131", key="pacs_date"
    )
    if st.button("Find studies", key="pacs_find", disabled=not url):
        try:
            st.session_state["pacs_studies"] = find_studies(
                url, patient_id=patient_id, accession=accession, study_date=study_date
            )
        except GistcadError as exc:
            st.session_state.pop("pacs_studies", None)
            show_error(exc)
    studies: list[StudySummary] | None = st.session_state.get("pacs_studies")
    if studies is not None and not studies:
        st.info("No study found.")
    elif studies:
        table = pd.DataFrame(
            {
                "Date": [s.date for s in studies],
                "Description": [s.description for s in studies],
                "Modalities": ["/".join(s.modalities) for s in studies],
                "Series": [s.series_count for s in studies],
                "Images": [s.instance_count for s in studies],
                "Patient id (PACS)": [s.patient_id for s in studies],
                "Study UID": [s.study_uid for s in studies],
            }
        )
        st.dataframe(table, hide_index=True, width="stretch", key="pacs_table")
        labels = {
            s.study_uid: f"{s.date or 'no date'}: {s.description or s.study_uid}" for s in studies
        }
        chosen = st.selectbox(
            "Study to import", list(labels), format_func=labels.__getitem__, key="pacs_study"
        )
        pacs_center = st.text_input("Center", key="pacs_center")
        if st.button("Import the study", key="pacs_pull", type="primary") and chosen:
            _import_with_progress(
                lambda progress: import_from_pacs(
                    engine(),
                    settings().data_dir,
                    scope(),
                    url,
                    chosen,
                    center=pacs_center,
                    progress=progress,
                )
            )

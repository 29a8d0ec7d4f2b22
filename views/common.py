"""What every page shares: settings and the engine (cached per process), the caller's scope."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from gistcad import jobs
from gistcad.config import Settings, load_settings
from gistcad.demo_models import DemoModelState, demo_model_states, describe, pending
from gistcad.display import display_table
from gistcad.domain import JobStatus
from gistcad.errors import GistcadError
from gistcad.store import AccessScope, make_engine, session_scope
from gistcad.store.engine import Engine
from gistcad.store.exports import export_csv


@st.cache_resource(show_spinner=False)
def settings() -> Settings:
    return load_settings()


@st.cache_resource(show_spinner=False)
def engine() -> Engine:
    return make_engine(settings().db_url)


SCOPE_KEY = "gistcad_scope"


def scope() -> AccessScope:
    """The caller's access scope, decided by ``app.py``'s gate at the start of this run."""
    current = st.session_state.get(SCOPE_KEY)
    if not isinstance(current, AccessScope):
        raise RuntimeError("pages run inside app.py, whose gate decides who is asking")
    return current


def audited_csv(
    what: str, table: pd.DataFrame | Callable[[], pd.DataFrame], *, bulk: bool = False
) -> Callable[[], str]:
    """A download's CSV maker: permission checked and audited when the button is clicked.

    The engine and the caller's scope are taken now, in the page's run: Streamlit makes a
    download's data in another thread, where the session state (and so the scope) is absent.
    The file holds the table as the page shows it (:func:`gistcad.display.display_table`),
    formatted when the button is clicked, not in every run of the page; ``table`` may also
    be a function that reads it then (a large cohort is read for the file only). Its button
    takes ``on_click="ignore"``: a download changes nothing the page shows, so it does not
    rerun the page (which would keep the user waiting with every widget disabled).
    """
    db, caller = engine(), scope()

    def make() -> str:
        shown = display_table(table() if callable(table) else table)
        with session_scope(db) as session:
            return export_csv(session, caller, what, shown, bulk=bulk)

    return make


def audited_case_report(pseudonym: str, series_uid: str | None) -> Callable[[], str]:
    """The case report's maker, like :func:`audited_csv`: the report of ``pseudonym`` with
    the key slice of ``series_uid``, made (and audited) when the button is clicked."""
    db, caller, layout = engine(), scope(), settings().layout

    def make() -> str:
        # the report reads DICOM (highdicom, 1.4 s to import): loaded on the first click
        from gistcad.viewer.report import export_case_report

        with session_scope(db) as session:
            return export_case_report(session, caller, layout, pseudonym, series_uid=series_uid)

    return make


#: seconds between two looks at the demo models while they train
DEMO_REFRESH_S = 5


def demo_states() -> dict[str, DemoModelState] | None:
    """The demo models' training, shown only to a caller who sees every center (the jobs
    read all of them); None otherwise."""
    if scope().center_ids is not None:
        return None
    with session_scope(engine()) as session:
        return demo_model_states(session)


def show_demo_training(what: str) -> bool:
    """An info line for each demo model still queued or training, then ``what`` (how the page
    fills in), refreshed while they train; the whole page runs again when one finishes.
    Returns whether any is still queued or training."""
    waiting = pending(demo_states())
    if waiting:
        _demo_lines(what, tuple(s.name for s in waiting))
    return bool(waiting)


@st.fragment(run_every=DEMO_REFRESH_S)
def _demo_lines(what: str, names: tuple[str, ...]) -> None:
    waiting = pending(demo_states())
    if tuple(s.name for s in waiting) != names:
        st.rerun(scope="app")  # a model is ready: the page's lists and figures change
    for state in waiting:
        st.info(f"{describe(state)}. {what}", icon=":material/model_training:")


def show_error(exc: GistcadError) -> None:
    st.error(str(exc), icon=":material/error:")


#: Formats of the figures' camera button (Plotly's toolbar), chosen in the sidebar.
FIGURE_FORMATS = ("png", "svg")
FIGURE_FORMAT_KEY = "figure_format"

#: Plotly's toolbar, as every figure has it (:func:`show_figure` adds the file name and format).
FIGURE_CONFIG: dict[str, Any] = {
    "displaylogo": False,
    "displayModeBar": True,
    "toImageButtonOptions": {"format": "png", "filename": "gistcad_figure", "scale": 3},
}


def figure_config(filename: str) -> dict[str, Any]:
    """Plotly's configuration of a figure saved (camera button) as ``filename``.png or .svg.

    PNG at three times the screen size (about 300 dpi at a journal's column width) or SVG,
    as chosen with :func:`figure_format_choice`.
    """
    chosen = st.session_state.get(FIGURE_FORMAT_KEY, FIGURE_FORMATS[0])
    fmt = chosen if chosen in FIGURE_FORMATS else FIGURE_FORMATS[0]
    safe = re.sub(r"[^A-Za-z0-9_-]+", "_", filename).strip("_") or "figure"
    options = {**FIGURE_CONFIG["toImageButtonOptions"], "format": fmt, "filename": safe}
    return {**FIGURE_CONFIG, "toImageButtonOptions": options}


def figure_format_choice() -> None:
    """The sidebar's choice of the format the figures' camera button saves (PNG or SVG)."""
    st.sidebar.radio(
        "Save figures as",
        FIGURE_FORMATS,
        format_func=str.upper,
        horizontal=True,
        key=FIGURE_FORMAT_KEY,
        help="The camera button at the top right of each figure saves it in this format.",
    )


def show_figure(figure: go.Figure, key: str, filename: str, *, where: Any = None) -> None:
    """A Plotly figure with the toolbar of every page: the camera button saves it as
    ``gistcad_<filename>`` in the chosen format, drawn with its own template (not Streamlit's
    theme), so the page shows what the file holds. ``where``: a column or container (default:
    the page)."""
    target = st if where is None else where
    # theme=None: the figure's own (paper) template, on screen as in the saved file
    target.plotly_chart(figure, config=figure_config(f"gistcad_{filename}"), key=key, theme=None)


def show_table(table: pd.DataFrame, key: str | None = None, **options: Any) -> pd.DataFrame:
    """``table`` as users read it (:func:`gistcad.display.display_table`), full width and
    without the index; returns the table as shown."""
    shown = display_table(table)
    st.dataframe(shown, hide_index=True, width="stretch", key=key, **options)
    return shown


def follow_job(job_id: int, what: str, pending: str, done: str) -> None:
    """Job ``job_id``'s progress bar while it runs (call it from a page's ``st.fragment``
    that reruns every few seconds); when it ends, the outcome is kept under ``done``, the job
    under ``pending`` dropped, and the whole page rerun to show the result."""
    try:
        state = jobs.job_state(engine(), job_id, scope())
    except GistcadError as exc:
        show_error(exc)
        return
    if not state.ended:
        st.progress(state.progress, text=f"{what} job {job_id}: {state.message or 'queued'}")
        return
    st.session_state.pop(pending, None)
    if state.status is JobStatus.SUCCEEDED:
        st.session_state[done] = (True, f"{what} job {job_id} finished: {state.message}.")
    else:
        why = state.error or state.message
        st.session_state[done] = (False, f"{what} job {job_id} {state.status.value}: {why}")
    st.rerun(scope="app")

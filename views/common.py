"""What every page shares: settings and the engine (cached per process), the caller's scope."""

from __future__ import annotations

import pandas as pd
import streamlit as st
from sqlalchemy import Engine

from gistcad.config import Settings, load_settings
from gistcad.errors import GistcadError
from gistcad.store import AccessScope, make_engine, session_scope
from gistcad.store.exports import export_csv, export_text


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


def audited_csv(what: str, table: pd.DataFrame, *, bulk: bool = False) -> str:
    """A download's CSV, made when the button is clicked: permission checked, audited."""
    with session_scope(engine()) as session:
        return export_csv(session, scope(), what, table, bulk=bulk)


def audited_text(what: str, text: str, *, patient: str | None = None) -> str:
    with session_scope(engine()) as session:
        return export_text(session, scope(), what, text, patient=patient)


def show_error(exc: GistcadError) -> None:
    st.error(str(exc), icon=":material/error:")


#: Plotly's toolbar: download as SVG for papers (PNG via the browser's screenshot button too).
FIGURE_CONFIG = {
    "displaylogo": False,
    "toImageButtonOptions": {"format": "svg", "filename": "gistcad_figure", "scale": 2},
}

"""What every page shares: settings, the engine, the caller's scope (cached per process)."""

from __future__ import annotations

import streamlit as st
from sqlalchemy import Engine

from gistcad.config import Settings, load_settings
from gistcad.errors import GistcadError
from gistcad.store import AccessScope, make_engine


@st.cache_resource(show_spinner=False)
def settings() -> Settings:
    return load_settings()


@st.cache_resource(show_spinner=False)
def engine() -> Engine:
    return make_engine(settings().db_url)


def scope() -> AccessScope:
    """The caller's access scope; the single-user workstation sees every center."""
    return AccessScope.everything()


def show_error(exc: GistcadError) -> None:
    st.error(str(exc), icon=":material/error:")


#: Plotly's toolbar: download as SVG for papers (PNG via the browser's screenshot button too).
FIGURE_CONFIG = {
    "displaylogo": False,
    "toImageButtonOptions": {"format": "svg", "filename": "gistcad_figure", "scale": 2},
}

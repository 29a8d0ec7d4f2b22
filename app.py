"""The gistcad dashboard: the door (who is asking) and the frame (navigation) of ``views/``.

Run it with ``gistcad serve`` (or ``make run``); Streamlit executes this file on every
interaction. First :func:`views.access.gate` decides who is asking (or shows the login form),
then the menu offers the pages the caller's role may use. What a page shows is limited by the
caller's scope in the query layer, not by this menu.

The pages live in ``views/``, not ``pages/``: Streamlit treats a folder called ``pages/``
beside the entry point as its older multipage layout and may run such a file directly,
without this script, and so without the gate.
"""

import streamlit as st

from gistcad.domain import Permission
from views.access import gate, workstation_banner
from views.common import SCOPE_KEY, figure_format_choice, settings

st.set_page_config(page_title="gistcad", page_icon=":material/biotech:", layout="wide")

#: (file, title, icon, the permission it needs) by menu section
SECTIONS: dict[str, list[tuple[str, str, str, Permission | None]]] = {
    "Cohort": [
        ("views/home.py", "Home", ":material/home:", None),
        ("views/cohort.py", "Cohort explorer", ":material/groups:", Permission.VIEW_COHORT),
        ("views/survival.py", "Survival", ":material/monitoring:", Permission.VIEW_COHORT),
        (
            "views/response.py",
            "Treatment response",
            ":material/trending_down:",
            Permission.VIEW_COHORT,
        ),
    ],
    "Models": [
        (
            "views/performance.py",
            "Model performance",
            ":material/query_stats:",
            Permission.VIEW_PERFORMANCE,
        ),
        (
            "views/biomarkers.py",
            "Biomarkers",
            ":material/biotech:",
            Permission.VIEW_PERFORMANCE,
        ),
        ("views/jobs.py", "Jobs", ":material/pending_actions:", Permission.RUN_JOBS),
    ],
    "Tumour board": [
        ("views/case.py", "Case view", ":material/person_search:", Permission.VIEW_CASE),
    ],
    "Administration": [
        ("views/pacs.py", "PACS and upload", ":material/cloud_download:", Permission.IMPORT_DATA),
        (
            "views/admin.py",
            "Users and audit",
            ":material/admin_panel_settings:",
            Permission.VIEW_AUDIT,
        ),
    ],
}


def keep_address() -> None:
    """Before the login form stops a run: the requested page stays in the address."""
    st.navigation(
        [
            st.Page(path, title=title, default=path == "views/home.py")
            for entries in SECTIONS.values()
            for path, title, _, _ in entries
        ],
        position="hidden",
    )


scope = gate(settings(), keep_address)
st.session_state[SCOPE_KEY] = scope
workstation_banner(scope, settings())

visible = {
    section: [
        st.Page(path, title=title, icon=icon, default=path == "views/home.py")
        for path, title, icon, needed in entries
        if needed is None or scope.can(needed)
    ]
    for section, entries in SECTIONS.items()
}


visible = {section: pages for section, pages in visible.items() if pages}
navigation = st.navigation(visible, position="hidden")
with st.sidebar:
    for section, pages in visible.items():
        st.caption(section)
        for page in pages:
            st.page_link(page)
figure_format_choice()
navigation.run()

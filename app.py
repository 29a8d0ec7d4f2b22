"""The gistcad dashboard: the frame (navigation) around the pages in ``pages/``.

Run it with ``gistcad serve`` (or ``make run``); Streamlit executes this file on every
interaction, so it only declares the pages. The menu is drawn here with ``st.page_link``:
Streamlit would otherwise also list every file of ``pages/`` (its automatic navigation), so
``gistcad serve`` turns that listing off.
"""

import streamlit as st

st.set_page_config(page_title="gistcad", page_icon=":material/biotech:", layout="wide")

SECTIONS = {
    "Cohort": [
        st.Page("pages/home.py", title="Home", icon=":material/home:", default=True),
        st.Page("pages/cohort.py", title="Cohort explorer", icon=":material/groups:"),
        st.Page("pages/survival.py", title="Survival", icon=":material/monitoring:"),
    ],
    "Models": [
        st.Page("pages/performance.py", title="Model performance", icon=":material/query_stats:"),
        st.Page("pages/jobs.py", title="Jobs", icon=":material/pending_actions:"),
    ],
    "Tumour board": [
        st.Page("pages/case.py", title="Case view", icon=":material/person_search:"),
    ],
}

navigation = st.navigation(SECTIONS, position="hidden")
with st.sidebar:
    for section, pages in SECTIONS.items():
        st.caption(section)
        for page in pages:
            st.page_link(page)
navigation.run()
